"""The dues calendar: what falls due on each line by a date, and the least payment."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import sqlalchemy as sa

from crossline.servicing.dues import dues
from tests.helpers import run_yaml

BOOK = """
start: 2026-03-05
borrowers:
  - {id: amy, monthly_income: "6000.00"}
  - {id: bob, monthly_income: "6000.00"}
steps:
  - {date: 2026-03-05, open_line: {borrower: amy, product: fenqile, limit: "10000.00",
                                   monthly_fee_rate: "0.008"}}
  - {date: 2026-03-05, purchase: {borrower: amy, product: fenqile, amount: "3000.00",
                                  installments: 3}}
  - {date: 2026-03-05, open_line: {borrower: amy, product: huabei, limit: "5000.00"}}
  - {date: 2026-03-06, purchase: {borrower: amy, product: huabei, amount: "500.00"}}
  - {date: 2026-03-06, open_line: {borrower: bob, product: huabei, limit: "5000.00"}}
  - {date: 2026-03-07, purchase: {borrower: bob, product: huabei, amount: "800.00"}}
  - {date: 2026-04-10, repay: {borrower: bob, product: huabei, amount: "30.00"}}
end: 2026-04-10
"""


def _fen(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _rows(frame: pl.DataFrame) -> dict[tuple[str, str], tuple[date, int, int]]:
    return {
        (b, p): (first, due, minimum)
        for b, p, first, due, minimum in frame.select(
            "borrower_id", "product", "first_due", "due_fen", "minimum_fen"
        ).iter_rows()
    }


def test_dues_by_date(engine: sa.Engine) -> None:
    assert run_yaml(engine, BOOK)["ledger"]["balanced"] is True
    # Fenqile's first installment, due 04-05: 1000.00 + the flat fee 3000 × 0.8 %; past its
    # 3 grace days it bears 0.05 % a day of the installment (0.51 at each of 5 closes,
    # 04-06 to 04-10). Huabei's March statement (cut 04-01, due 04-10): amy's 500.00, least
    # payment 10 %; bob's 800.00 less the 30.00 he paid, least 80.00 less 30.00.
    installment = Decimal("1000.00") + Decimal("3000.00") * Decimal("0.008")
    penalty = (installment * Decimal("0.0005")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    fenqile = _fen(installment + 5 * penalty)
    with engine.connect() as conn:
        by_the_tenth = _rows(dues(conn, date(2026, 4, 10)))
        by_the_ninth = _rows(dues(conn, date(2026, 4, 9)))
        only_bob = _rows(dues(conn, date(2026, 4, 10), ["bob"]))
    assert by_the_tenth == {
        ("amy", "fenqile"): (date(2026, 4, 5), fenqile, fenqile),
        ("amy", "huabei"): (date(2026, 4, 10), 50_000, 5_000),
        ("bob", "huabei"): (date(2026, 4, 10), 77_000, 5_000),
    }
    assert by_the_ninth == {("amy", "fenqile"): by_the_tenth[("amy", "fenqile")]}
    assert only_bob == {("bob", "huabei"): by_the_tenth[("bob", "huabei")]}
