"""What each simulated borrower does on a day, from what a borrower can see.

A borrower sees their lines (product and status), what falls due on them
(``servicing.dues``), the answers to their applications and their own cash.
From those and their traits they decide, each day: whether to apply for a
product they want (on a day planned from the seed), to file the income proof
a referral asks for, to buy on Huabei or in installments on Fenqile, to draw
a cash loan (a liquidity shock needs cash; so, now and then, does life), to
turn a large Huabei bill into installments, and how to meet what is due:
everything, the revolving minimum, what cash allows, or nothing. A borrower
whose account was just reported late may pull their own credit report and
dispute the record; the provider answers each dispute some days later, now
and then after the 20 days the rules allow.

Cash is kept in fen per borrower: each payday brings the part of income set
aside for credit bills (it varies month to month); a shock stops it until the
shock ends. Payments spend it. The simulator tracks it; the platform never
sees it, as a lender never sees a borrower's wallet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl
from pydantic import BaseModel

from crossline.catalog import Catalog
from crossline.money import format_fen, parse_amount
from crossline.scenario.spec import (
    Apply,
    ConvertStatement,
    Dispute,
    Draw,
    Purchase,
    Repay,
    ResolveDispute,
    SelfQuery,
    SubmitDocument,
    VerifyDocument,
)
from crossline.sim.traits import PRODUCT_APPETITE

BILLS_SHARE_OF_SPARE = 1.6
"""Cash set aside for credit bills a month, as a multiple of what the borrower spends
on credit: prudent borrowers keep a margin, and a shock's lost months eat it."""
CASH_NEED_RATE = 0.03
"""Chance a month that a borrower outside a shock wants a cash loan anyway."""
INSTALLMENT_PURCHASE_RATE = 0.15
"""Chance a month that a Fenqile holder buys something in installments."""
CONVERT_SHARE = 0.35
"""Chance that a borrower who cannot pay a Huabei bill in full turns it into installments."""
FIRST_PRODUCT_DAYS = 30
"""A borrower's first wanted product is applied for in the first month."""
SELF_QUERY_SHARE = 0.5
"""Share of borrowers newly reported late who pull their own credit report."""
DISPUTE_SHARE = 0.25
"""Share of those who then dispute the late record."""
ANSWER_DAYS = (3, 24)
"""The provider answers a dispute after a uniform number of days in this range; beyond
20 the answer is late and the bureau raises an alert."""
DISPUTE_CLAIM = "I paid this bill on time; please check your records."
KEPT_CURRENT_IN_A_SHOCK = frozenset({"jiebei", "weilidai"})
"""In a shock a borrower still pays cash loans from the cash they hold and lets shopping
bills slide: a cash loan is the lifeline they may need again, a Huabei bill or a
merchant's installment feels like it can wait. Borrowers late on one product and current
on another are what the contagion measure is about."""


@dataclass
class People:
    """The simulated borrowers' traits as arrays, and what the simulator keeps for them."""

    ids: list[str]
    traits: pl.DataFrame
    start: date
    days: int
    cash_fen: np.ndarray = field(init=False)
    shock_until: np.ndarray = field(init=False)
    apply_day: dict[str, np.ndarray] = field(init=False)
    """Day (from the start) each borrower applies for each product; -1: never."""
    waiting: dict[tuple[int, str], tuple[int, str]] = field(default_factory=dict)
    """(borrower, product) -> (day, step): a referral's next step and its day."""
    reserved: dict[tuple[int, str], int] = field(default_factory=dict)
    """(borrower, product) -> cash set aside for a payment sent today."""
    answers: dict[tuple[int, str, date], int] = field(default_factory=dict)
    """(borrower, product, reporting date) of an open dispute -> the day it is answered."""
    index_of: dict[str, int] = field(init=False)
    arrays: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        count = len(self.ids)
        self.cash_fen = np.zeros(count, dtype=np.int64)
        self.shock_until = np.full(count, -1, dtype=np.int64)
        self.apply_day = {}
        self.index_of = {borrower: i for i, borrower in enumerate(self.ids)}
        self.arrays = {
            name: self.traits.get_column(name).to_numpy() for name in self.traits.columns
        }

    def column(self, name: str) -> np.ndarray:
        """A trait as an array, by borrower index (traits never change during a run)."""
        return self.arrays[name]


def plan_applications(people: People, seed: int) -> None:
    """Each borrower's application days: the first wanted product (in the appetite's
    order) in the first month, each other one on a uniform day of the run."""
    rng = np.random.default_rng([seed, 1])
    count = len(people.ids)
    first = np.full(count, True)
    for product in PRODUCT_APPETITE:
        wants = people.column(f"wants_{product}")
        early = rng.integers(0, min(FIRST_PRODUCT_DAYS, people.days), count)
        later = rng.integers(0, people.days, count)
        day = np.where(first, early, later)
        people.apply_day[product] = np.where(wants, day, -1)
        first &= ~wants


def _whole_yuan(fen: float) -> int:
    """An amount a person would type: whole yuan, in fen."""
    return round(fen / 100) * 100


def _month_fraction(rate: np.ndarray | float, month_days: int = 30) -> np.ndarray | float:
    """A monthly chance as the chance on one day."""
    return 1.0 - (1.0 - np.asarray(rate)) ** (1.0 / month_days)


def _payday(people: People, day: date, offset: int, rng: np.random.Generator) -> None:
    """Income day: the month's money for credit bills arrives, unless a shock holds it."""
    paid = people.column("payday") == day.day
    noise = np.clip(
        1.0 + people.column("income_volatility") * rng.standard_normal(len(paid)), 0.3, 2.0
    )
    spare = (
        people.column("monthly_income_fen") * people.column("spend_share") * BILLS_SHARE_OF_SPARE
    )
    arrives = paid & (people.shock_until < offset)
    people.cash_fen += np.where(arrives, np.round(spare * noise), 0).astype(np.int64)


def _shocks(people: People, offset: int, rng: np.random.Generator) -> np.ndarray:
    """Borrowers whom a shock hits today; their shock's last day is drawn now."""
    calm = people.shock_until < offset
    hit = calm & (rng.random(len(calm)) < _month_fraction(people.column("shock_rate")))
    lengths = rng.exponential(people.column("shock_days")).astype(np.int64) + 1
    people.shock_until = np.where(hit, offset + lengths, people.shock_until)
    return hit


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the borrowers see of their lines today: each (borrower index, product) line's
    status and the limit still available on it, as the lender's app shows them."""

    status: dict[tuple[int, str], str]
    available_fen: dict[tuple[int, str], int] = field(default_factory=dict)

    def active(self, index: int, product: str) -> bool:
        return self.status.get((index, product)) == "active"

    def holds(self, index: int, product: str) -> bool:
        return (index, product) in self.status

    def spendable(self, index: int, product: str) -> int:
        """What a borrower would try to spend on the line: its available limit if it
        is active, else nothing."""
        if not self.active(index, product):
            return 0
        return self.available_fen.get((index, product), 0)


def _applications(
    people: People, offset: int, holdings: Holdings
) -> Iterator[tuple[int, BaseModel]]:
    for product, days in people.apply_day.items():
        for index in np.flatnonzero(days == offset):
            if not holdings.holds(int(index), product):
                yield int(index), Apply(borrower=people.ids[index], product=product)


def _documents(people: People, offset: int) -> Iterator[tuple[int, BaseModel]]:
    for (index, product), (day, step) in sorted(people.waiting.items()):
        if day != offset:
            continue
        borrower = people.ids[index]
        if step == "submit":
            income = int(people.column("monthly_income_fen")[index])
            yield (
                index,
                SubmitDocument(
                    borrower=borrower, product=product, kind="income_proof", monthly_income=income
                ),
            )
        else:
            yield index, VerifyDocument(borrower=borrower, product=product, kind="income_proof")


def _disputes(
    people: People, offset: int, reported: pl.DataFrame, rng: np.random.Generator
) -> Iterator[tuple[int, BaseModel]]:
    """Borrowers just reported late who check their report, and those who dispute it; the
    provider's answers that fall due today (the record was right: confirmed)."""
    for borrower, product, period_end in reported.select(
        "borrower_id", "product", "period_end"
    ).iter_rows():
        month = f"{period_end:%Y-%m}"
        index = people.index_of.get(borrower)
        if index is None or rng.random() >= SELF_QUERY_SHARE:
            continue
        yield index, SelfQuery(borrower=borrower)
        if rng.random() < DISPUTE_SHARE:
            people.answers[(index, product, period_end)] = offset + int(rng.integers(*ANSWER_DAYS))
            yield (
                index,
                Dispute.model_validate(
                    {
                        "borrower": borrower,
                        "product": product,
                        "month": month,
                        "claim": DISPUTE_CLAIM,
                    }
                ),
            )
    for (index, product, period_end), day in sorted(people.answers.items()):
        if day == offset:
            del people.answers[(index, product, period_end)]
            yield (
                index,
                ResolveDispute.model_validate(
                    {
                        "borrower": people.ids[index],
                        "product": product,
                        "month": f"{period_end:%Y-%m}",
                        "outcome": "confirmed",
                    }
                ),
            )


def _purchases(
    people: People, holdings: Holdings, catalog: Catalog, rng: np.random.Generator
) -> Iterator[tuple[int, BaseModel]]:
    count = len(people.ids)
    income = people.column("monthly_income_fen")
    per_purchase = income * people.column("spend_share") / people.column("purchases_per_month")
    buys = rng.poisson(people.column("purchases_per_month") / 30.0)
    sizes = rng.lognormal(0.0, 0.5, count)
    installment = rng.random(count) < _month_fraction(INSTALLMENT_PURCHASE_RATE)
    big = rng.uniform(0.3, 1.5, count)
    terms = catalog.product("fenqile").terms
    term_pick = rng.integers(0, len(terms), count)
    for index in map(int, np.flatnonzero((buys > 0) | installment)):
        amount = _whole_yuan(per_purchase[index] * sizes[index] * buys[index])
        if buys[index] and 0 < amount <= holdings.spendable(index, "huabei"):
            yield (
                index,
                Purchase(borrower=people.ids[index], product="huabei", amount=format_fen(amount)),
            )
        price = _whole_yuan(income[index] * big[index])
        if installment[index] and 0 < price <= holdings.spendable(index, "fenqile"):
            yield (
                index,
                Purchase(
                    borrower=people.ids[index],
                    product="fenqile",
                    amount=format_fen(price),
                    installments=terms[term_pick[index]],
                ),
            )


def _draws(
    people: People,
    hit: np.ndarray,
    holdings: Holdings,
    catalog: Catalog,
    rng: np.random.Generator,
) -> Iterator[tuple[int, BaseModel]]:
    count = len(people.ids)
    wants_cash = hit | (rng.random(count) < _month_fraction(CASH_NEED_RATE))
    need = people.column("monthly_income_fen") * rng.uniform(0.5, 2.0, count)
    order = rng.random(count) < 0.5
    for index in np.flatnonzero(wants_cash):
        products = ["jiebei", "weilidai"] if order[index] else ["weilidai", "jiebei"]
        product = next((p for p in products if holdings.spendable(int(index), p) > 0), None)
        if product is None:
            continue
        spec = catalog.product(product)
        term = spec.terms[int(rng.integers(0, len(spec.terms)))]
        available = holdings.spendable(int(index), product) // 100 * 100
        amount = min(_whole_yuan(need[index]), available)
        if amount <= 0:
            continue
        yield (
            int(index),
            Draw(
                borrower=people.ids[index],
                product=product,
                amount=format_fen(amount),
                term_months=term,
                method=spec.methods[0],
            ),
        )


def payments(
    people: People, offset: int, dues: pl.DataFrame, rng: np.random.Generator
) -> Iterator[tuple[int, BaseModel]]:
    """Meet what is due: in full if cash and will allow; a revolver pays the minimum; short
    of cash on its due date, a Huabei bill may become installments (the platform allows
    it until then), else cash pays what it can. In a shock only cash loans are paid
    (``KEPT_CURRENT_IN_A_SHOCK``)."""
    today = people.start + timedelta(days=offset)
    for borrower, product, first_due, due, minimum in dues.select(
        "borrower_id", "product", "first_due", "due_fen", "minimum_fen"
    ).iter_rows():
        index = people.index_of.get(borrower)
        if index is None:
            continue
        willing = rng.random() < people.column("willingness")[index]
        cash = int(people.cash_fen[index])
        shocked = people.shock_until[index] >= offset
        if (shocked and product not in KEPT_CURRENT_IN_A_SHOCK) or not willing or cash <= 0:
            continue
        revolving = product == "huabei"
        if revolving and people.column("revolver")[index] and minimum < due:
            amount = minimum if cash >= minimum else cash
        elif cash >= due:
            amount = due
        elif revolving and first_due == today and rng.random() < CONVERT_SHARE:
            yield index, ConvertStatement(borrower=borrower, product=product, months=3)
            continue
        else:
            amount = min(cash, max(minimum, 1))
        if amount <= 0:
            continue
        people.cash_fen[index] -= amount
        people.reserved[(index, product)] = amount
        paid = "all_due" if amount == due else format_fen(amount)
        yield index, Repay(borrower=borrower, product=product, amount=paid)


def plan_day(
    people: People,
    day: date,
    seed: int,
    holdings: Holdings,
    dues: pl.DataFrame,
    catalog: Catalog,
    reported: pl.DataFrame,
) -> list[BaseModel]:
    """The day's commands, in borrower order (each borrower's in a fixed order).

    ``reported``: the late records (borrower_id, product, period_end) the bureau
    shows from today.
    """
    offset = (day - people.start).days
    rng = np.random.default_rng([seed, 2, offset])
    _payday(people, day, offset, rng)
    hit = _shocks(people, offset, rng)
    planned: list[tuple[int, int, BaseModel]] = []
    sources = (
        _applications(people, offset, holdings),
        _documents(people, offset),
        payments(people, offset, dues, rng),
        _purchases(people, holdings, catalog, rng),
        _draws(people, hit, holdings, catalog, rng),
        _disputes(people, offset, reported, rng),
    )
    for rank, source in enumerate(sources):
        planned.extend((index, rank, command) for index, command in source)
    planned.sort(key=lambda item: (item[0], item[1]))
    return [command for _, _, command in planned]


def observe(people: People, offset: int, command: BaseModel, outcome: dict[str, object]) -> None:
    """Learn from a command's answer: a referral asking for income proof is answered
    (by those who keep their papers) the next day and checked by the lender the day
    after; cash set aside for a payment is settled at what the platform took (``all_due``
    may differ from the schedule the borrower read), all of it back if refused; a refused
    dispute has no answer to wait for."""
    index = people.index_of[str(getattr(command, "borrower", ""))]
    product = str(getattr(command, "product", ""))
    key = (index, product)
    if isinstance(command, Dispute) and not outcome.get("ok", False):
        people.answers.pop((index, product, command.month), None)
    if isinstance(command, Repay):
        reserved = people.reserved.pop(key, 0)
        paid = parse_amount(str(outcome["amount"])) if outcome.get("ok", False) else 0
        people.cash_fen[index] += reserved - paid
    if isinstance(command, Apply | SubmitDocument | VerifyDocument):
        people.waiting.pop(key, None)
        if outcome.get("status") != "referred":
            return
        asked = outcome.get("documents")
        if isinstance(command, Apply) and isinstance(asked, list):
            if "income_proof" in asked and people.column("documents_ready")[index]:
                people.waiting[key] = (offset + 1, "submit")
        elif isinstance(command, SubmitDocument):
            people.waiting[key] = (offset + 1, "verify")
