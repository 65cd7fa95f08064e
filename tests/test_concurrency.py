"""Commands for one borrower sent at the same moment, as API workers send them.

On PostgreSQL two transactions really run at once; SQLite has a single writer, so
these tests are PostgreSQL's (CI runs them there and fails if they are skipped).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import pytest
import sqlalchemy as sa

from crossline.commands import run_command
from crossline.ledger.check import check_ledger
from crossline.scenario.spec import Apply, Draw, Repay
from crossline.servicing.context import open_context
from crossline.servicing.lines import register_borrower
from crossline.store.schema import installments
from tests.conftest import POSTGRES_ONLY, initialise

pytestmark = pytest.mark.parametrize("engine", POSTGRES_ONLY, indirect=True)

ROUNDS = 15


def _together(engine: sa.Engine, make: Callable[[int, int], Repay]) -> None:
    """Two threads, each sending ``ROUNDS`` commands, the pairs released at one moment."""
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def send(thread: int) -> None:
        try:
            for round_ in range(ROUNDS):
                barrier.wait()
                command = make(thread, round_)
                with engine.begin() as conn:
                    run_command(open_context(conn), command, f"{thread}-{round_}")
        except BaseException as exc:  # surfaced below, in the test's own thread
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def test_two_repayments_of_one_line_at_once_both_count(engine: sa.Engine) -> None:
    initialise(engine, date(2026, 3, 2))
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "x", 900_000)
        run_command(ctx, Apply(borrower="x", product="jiebei"))
        draw = Draw.model_validate(
            {
                "borrower": "x",
                "product": "jiebei",
                "amount": "3000.00",
                "term_months": 12,
                "method": "equal_installment",
            }
        )
        run_command(ctx, draw, "draw")
    _together(
        engine,
        lambda _t, _r: Repay.model_validate(
            {"borrower": "x", "product": "jiebei", "amount": "10.00"}
        ),
    )
    i = installments.c
    with engine.connect() as conn:
        repaid = conn.execute(sa.select(sa.func.sum(i.paid_principal_fen))).scalar_one()
        ledger = check_ledger(conn)
    # 2 threads x 15 rounds x 10.00, all of it principal (nothing accrued on day one).
    assert repaid == 2 * ROUNDS * 1_000
    assert ledger.balanced, ledger.as_dict()
