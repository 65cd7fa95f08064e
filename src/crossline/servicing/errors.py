"""Why a command was refused or rejected.

Two kinds, because callers treat them differently: an ``InputError`` is bad
input (which field, what was expected) and is a 4xx / exit 2 at the edge; a
``RefusedError`` is a valid request the platform declines (limit exceeded,
line frozen) and is reported as an outcome with its reason.
"""

from __future__ import annotations


class ServicingError(ValueError):
    """Base: every servicing error has a machine code and a human message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InputError(ServicingError):
    """The request itself is invalid; ``field`` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__("invalid_input", f"{field}: {message}")
        self.field = field


class RefusedError(ServicingError):
    """A well-formed request the platform declines, with the rule that declined it."""
