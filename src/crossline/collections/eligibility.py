"""Which lines collections may work: the one place that says so.

The queue, the contact scheduler and promises all ask this one condition, so
a reason to stop collecting (an honoured installment plan, DOMAIN §5) added
here stops all three at once.
"""

from __future__ import annotations

import sqlalchemy as sa

from crossline.store.schema import credit_lines


def collectible() -> sa.ColumnElement[bool]:
    """A line may be collected while it is past due (DPD > 0)."""
    return credit_lines.c.dpd > 0
