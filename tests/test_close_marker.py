"""End-of-day and commands do not overlap: the close marks the day closing only once no
command holds a borrower, and a command that gets its borrower after that is refused.
The outbox runner holds the borrowers whose events it handles in the same way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date

import pytest
import sqlalchemy as sa

from crossline.commands import run_command
from crossline.eod.runner import EOD_LOCK, close_day
from crossline.events.handlers import handle_pending
from crossline.scenario.spec import Apply, Draw, Repay
from crossline.servicing.context import lock_borrower, open_context
from crossline.servicing.errors import RefusedError
from crossline.servicing.lines import register_borrower
from crossline.store import platform
from tests.conftest import POSTGRES_ONLY, initialise
from tests.helpers import dump

START = date(2026, 3, 2)


def _borrower_with_a_loan(engine: sa.Engine) -> None:
    initialise(engine, START)
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "x", 900_000)
        run_command(ctx, Apply(borrower="x", product="jiebei"))
        draw = {
            "borrower": "x",
            "product": "jiebei",
            "amount": "3000.00",
            "term_months": 12,
            "method": "equal_installment",
        }
        run_command(ctx, Draw.model_validate(draw), "draw")


REPAY = Repay.model_validate({"borrower": "x", "product": "jiebei", "amount": "10.00"})


def test_a_command_that_gets_its_borrower_after_the_close_began_is_refused(
    engine: sa.Engine,
) -> None:
    _borrower_with_a_loan(engine)
    before = dump(engine)
    with engine.connect() as conn:
        transaction = conn.begin()
        ctx = open_context(conn)  # read while the day was still open
        with engine.begin() as other:
            platform.begin_close(other)
        with pytest.raises(RefusedError) as refused:
            run_command(ctx, REPAY, "late")
        transaction.rollback()
    assert refused.value.code == "eod_in_progress"
    after = dump(engine)
    assert after.pop("platform") != before.pop("platform")
    assert after == before


def _waiting_on_a_lock(engine: sa.Engine, query_start: str) -> bool:
    """Whether another session's statement starting ``query_start`` waits for a lock."""
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE :start"
            ),
            {"start": f"{query_start}%"},
        ).scalar_one()
    return bool(found)


def _while_x_is_held(engine: sa.Engine, work: Callable[[], object], waits_in: str) -> None:
    """Run ``work`` in a thread while this test holds borrower x as a command does; it
    must wait (PostgreSQL shows its statement waiting on a lock) and finish once x is
    released."""
    done = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # surfaced in the test's own thread
            failures.append(exc)
        done.set()

    with engine.begin() as conn:
        lock_borrower(open_context(conn), "x")
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 20
        while not _waiting_on_a_lock(engine, waits_in):
            assert not done.is_set(), "it ran through a borrower a command held"
            assert time.monotonic() < deadline, "it neither waited nor finished"
            time.sleep(0.02)
    assert done.wait(20), "it did not finish once the borrower was released"
    thread.join()
    assert not failures, failures


@pytest.mark.parametrize("engine", POSTGRES_ONLY, indirect=True)
def test_the_close_waits_for_a_command_in_flight(engine: sa.Engine) -> None:
    _borrower_with_a_loan(engine)
    handle_pending(engine)
    _while_x_is_held(engine, lambda: close_day(engine), "LOCK TABLE borrowers")
    with engine.connect() as conn:
        assert platform.business_date(conn) == date(2026, 3, 3)
        assert not platform.is_closing(conn)


@pytest.mark.parametrize("engine", POSTGRES_ONLY, indirect=True)
def test_the_outbox_runner_waits_for_a_command_on_a_borrower_it_handles(
    engine: sa.Engine,
) -> None:
    _borrower_with_a_loan(engine)
    handled: list[int] = []
    _while_x_is_held(
        engine, lambda: handled.append(handle_pending(engine)), "SELECT platform.closing"
    )
    assert handled and handled[0] > 0


@pytest.mark.parametrize("engine", POSTGRES_ONLY, indirect=True)
def test_a_close_while_another_process_closes_is_refused_and_changes_nothing(
    engine: sa.Engine,
) -> None:
    _borrower_with_a_loan(engine)
    before = dump(engine)
    with engine.connect() as other:
        assert other.execute(sa.select(sa.func.pg_try_advisory_lock(EOD_LOCK))).scalar_one()
        with pytest.raises(RefusedError) as refused:
            close_day(engine)
        other.execute(sa.select(sa.func.pg_advisory_unlock(EOD_LOCK)))
    assert refused.value.code == "eod_in_progress"
    assert dump(engine) == before
    assert close_day(engine) == START
