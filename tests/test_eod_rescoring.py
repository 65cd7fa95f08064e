"""What the close's stale scores must include (``eod.rescoring``); that the book comes
out exactly as if the close scored everyone is ``test_close_shortcuts``'s."""

from __future__ import annotations

import json

import sqlalchemy as sa

from crossline.store.schema import credit_lines, current_scores
from tests.helpers import run_yaml


def test_a_line_opened_without_other_activity_is_in_the_next_stored_view(
    engine: sa.Engine,
) -> None:
    """Opening a line emits no event; the close must still count it in the group's view."""
    run_yaml(
        engine,
        """
start: 2026-03-03
catalog: default
borrowers:
  - {id: ning, monthly_income: "8000.00"}
steps:
  - {date: 2026-03-03, open_line: {borrower: ning, product: huabei, limit: "5000.00"}}
  - date: 2026-03-10
    open_line: {borrower: ning, product: jiebei, limit: "9000.00", daily_rate: "0.0004"}
end: 2026-03-10
""",
    )
    s = current_scores.c
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(s.features).where(s.borrower_id == "ning", s.lender_group == "ant")
        ).scalar_one()
        lines = conn.execute(
            sa.select(sa.func.count()).where(
                credit_lines.c.borrower_id == "ning", credit_lines.c.lender_group == "ant"
            )
        ).scalar_one()
    assert lines == 2
    assert json.loads(stored)["lines_count"] == lines
