"""``store.membership.one_of`` selects what ``IN`` selects, for lists of any length, and on
PostgreSQL sends one statement text whatever the list's length."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from crossline.servicing.context import open_context
from crossline.servicing.lines import register_borrower
from crossline.store.membership import one_of
from crossline.store.schema import borrowers
from tests.conftest import initialise

PEOPLE = ("amy", "bo", "cai", "dan")
LISTS = ([], ["bo"], ["amy", "dan"], ["cai", "nobody", "amy"], list(PEOPLE))
CHOSEN = sa.select(borrowers.c.borrower_id).where(one_of(borrowers.c.borrower_id, "ids"))


@pytest.fixture
def registered(engine: sa.Engine) -> sa.Engine:
    initialise(engine, date(2026, 3, 2))
    with engine.begin() as conn:
        ctx = open_context(conn)
        for person in PEOPLE:
            register_borrower(ctx, person, 500_000)
    return engine


def test_one_of_selects_the_rows_in_the_list(registered: sa.Engine) -> None:
    with registered.connect() as conn:
        for ids in LISTS:
            found = set(conn.execute(CHOSEN, {"ids": ids}).scalars())
            assert found == {person for person in PEOPLE if person in ids}


def test_one_of_combines_with_other_conditions(registered: sa.Engine) -> None:
    either = sa.select(borrowers.c.borrower_id).where(
        sa.or_(one_of(borrowers.c.borrower_id, "ids"), borrowers.c.borrower_id == "dan")
    )
    with registered.connect() as conn:
        assert set(conn.execute(either, {"ids": ["bo"]}).scalars()) == {"bo", "dan"}
        assert set(conn.execute(either, {"ids": []}).scalars()) == {"dan"}


def test_the_statement_sent_does_not_depend_on_the_list(registered: sa.Engine) -> None:
    sent: list[str] = []

    def record(*executed: Any) -> None:
        sent.append(executed[2])

    sa.event.listen(registered, "before_cursor_execute", record)
    try:
        with registered.connect() as conn:
            for ids in LISTS[1:]:
                conn.execute(CHOSEN, {"ids": ids})
    finally:
        sa.event.remove(registered, "before_cursor_execute", record)
    texts = set(sent)
    expected = 1 if registered.dialect.name == "postgresql" else len(LISTS) - 1
    assert len(texts) == expected
