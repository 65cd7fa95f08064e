"""Property: any sequence of draws, purchases, repayments and end-of-days keeps the
ledger balanced and never creates or loses a fen.

The test keeps its own account of the cash that moved (disbursed, repaid) and
checks the journal's settlement account against it, besides ``ledger check``.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossline.eod.runner import run_eod
from crossline.ledger.check import check_ledger
from crossline.servicing.context import open_context
from crossline.servicing.errors import ServicingError
from crossline.servicing.lines import open_line, register_borrower
from crossline.servicing.origination import draw
from crossline.servicing.purchases import purchase
from crossline.servicing.repayment import repay
from crossline.servicing.revolving import convert_statement
from crossline.store import platform
from crossline.store.engine import make_engine
from crossline.store.schema import journal
from tests.conftest import empty_tables, initialise

START = date(2026, 1, 28)

operation = st.one_of(
    st.tuples(st.just("draw"), st.sampled_from(["weilidai", "jiebei"]), st.integers(10000, 900000)),
    st.tuples(st.just("purchase"), st.just("fenqile"), st.integers(10000, 500000)),
    st.tuples(st.just("spend"), st.just("huabei"), st.integers(100, 300000)),
    st.tuples(st.just("plan"), st.just("huabei"), st.sampled_from([3, 6, 12])),
    st.tuples(st.just("convert"), st.just("huabei"), st.sampled_from([3, 9])),
    st.tuples(
        st.just("repay"),
        st.sampled_from(["weilidai", "jiebei", "fenqile"]),
        st.one_of(st.integers(1, 400000), st.sampled_from(["all", "all_due"])),
    ),
    st.tuples(st.just("eod"), st.just(""), st.integers(1, 45)),
)


def _fresh(engine: sa.Engine, template: Path, tmp: Path, n: int) -> sa.Engine:
    if engine.dialect.name == "postgresql":
        empty_tables(engine)
        return engine
    path = tmp / f"property-{n}.db"
    shutil.copy(template, path)
    return make_engine(f"sqlite:///{path}")


def _apply(target: sa.Engine, op: tuple[str, str, object], cash: dict[str, int]) -> None:
    kind, product, value = op
    if kind == "eod":
        with target.connect() as conn:
            today = platform.business_date(conn)
        run_eod(target, today + timedelta(days=int(str(value)) - 1))
        return
    try:
        with target.begin() as conn:
            ctx = open_context(conn)
            if kind == "draw":
                method = "equal_principal" if product == "weilidai" else "equal_installment"
                term = 5 if product == "weilidai" else 6
                draw(ctx, "pat", product, int(str(value)), term, method)
                cash["disbursed"] += int(str(value))
            elif kind == "purchase":
                purchase(ctx, "pat", product, int(str(value)), 6)
                cash["disbursed"] += int(str(value))
            elif kind == "spend":
                purchase(ctx, "pat", product, int(str(value)))
                cash["disbursed"] += int(str(value))
            elif kind == "plan":
                purchase(ctx, "pat", product, 120000, int(str(value)))
                cash["disbursed"] += 120000
            elif kind == "convert":
                convert_statement(ctx, "pat", product, int(str(value)))
            else:
                amount = value if isinstance(value, str) else int(str(value))
                result = repay(ctx, "pat", product, amount)  # type: ignore[arg-type]
                cash["repaid"] += result.amount_fen
    except ServicingError:
        pass  # refused commands write nothing; the checks below prove it


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=14))
def test_any_sequence_keeps_the_ledger_exact(
    engine: sa.Engine, sqlite_template: Path, tmp_path: Path, ops: list[tuple[str, str, object]]
) -> None:
    target = _fresh(engine, sqlite_template, tmp_path, len(list(tmp_path.iterdir())))
    initialise(target, START)
    with target.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "pat", 1000000)
        open_line(ctx, "pat", "weilidai", 2000000)
        open_line(ctx, "pat", "jiebei", 2000000)
        open_line(ctx, "pat", "fenqile", 1000000)
        open_line(ctx, "pat", "huabei", 1000000)
    cash = {"disbursed": 0, "repaid": 0}
    for op in ops:
        _apply(target, op, cash)
    with target.connect() as conn:
        result = check_ledger(conn)
        settlement = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(journal.c.amount_fen), 0)).where(
                journal.c.account == "settlement"
            )
        ).scalar_one()
    assert result.balanced, result
    assert settlement == cash["repaid"] - cash["disbursed"]
    if target is not engine:
        target.dispose()
