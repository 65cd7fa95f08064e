"""Why a policy was refused at load."""

from __future__ import annotations


class PolicyError(ValueError):
    """A policy that crossline will not run, with where the problem is.

    ``where`` names the decision, node, row and column as far as they apply
    (``application › node 'Offer' › row 'o3' › column 'Limit'``), so that a
    risk analyst can find the cell in the editor.
    """

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message
