"""Which lines collections may work: the one place that says so.

The queue, the contact scheduler and promises all ask this one condition, so
a reason to stop collecting (an honoured installment plan, DOMAIN §5) added
here stops all three at once.
"""

from __future__ import annotations

import sqlalchemy as sa

from crossline.servicing.plans import plan_honoured_condition
from crossline.store.schema import credit_lines


def collectible() -> sa.ColumnElement[bool]:
    """A line may be collected while it is past due (DPD > 0) and not under a personalised
    installment plan being honoured (Art. 70: collection stops while it is)."""
    line = credit_lines.c
    return sa.and_(line.dpd > 0, sa.not_(plan_honoured_condition(line.credit_line_id)))
