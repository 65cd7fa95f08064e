"""The terms of an extension offer: new schedule, fee and APR, computed from a loan's rows.

Pure: the loan and its installments come in as mappings of their columns, so the
offer shown on request and the one re-derived on acceptance are the same function of
the same book. The remaining principal is spread over the remaining plus the extended
months by the loan's own method, with interest to the day as a prepayment reshapes a
schedule (``servicing.prepayment``); the new due dates continue the loan's own
(``add_months(opened_on, seq)``), which is what repayment assumes of every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from crossline.calendar import add_months, days_between
from crossline.catalog import apr_from_cash_flows
from crossline.catalog.apr import format_percent
from crossline.money import format_fen, half_up
from crossline.servicing.errors import RefusedError
from crossline.servicing.extensions.limits import check_extension
from crossline.servicing.prepayment import reshape_cash_loan

Row = Mapping[str, Any]
_COMPONENTS = ("principal", "interest", "fee", "penalty")


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """One installment after the extension: an existing row rewritten, or a new one."""

    seq: int
    due_date: date
    installment_id: int | None
    principal_fen: int
    interest_fen: int
    fee_fen: int
    paid_principal_fen: int = 0
    paid_interest_fen: int = 0
    paid_fee_fen: int = 0

    def to_pay(self) -> int:
        """What the borrower still pays on this date: the figure the APR is made of."""
        return (
            self.principal_fen
            + self.interest_fen
            + self.fee_fen
            - self.paid_principal_fen
            - self.paid_interest_fen
            - self.paid_fee_fen
        )

    def shown(self) -> dict[str, Any]:
        """The row as the offer shows it: what is left to pay, by component."""
        return {
            "seq": self.seq,
            "due_date": self.due_date.isoformat(),
            "principal": format_fen(self.principal_fen - self.paid_principal_fen),
            "interest": format_fen(self.interest_fen - self.paid_interest_fen),
            "fee": format_fen(self.fee_fen - self.paid_fee_fen),
            "amount": format_fen(self.to_pay()),
        }


@dataclass(frozen=True, slots=True)
class Offer:
    """An extension's terms, as offered and as applied on acceptance."""

    loan_id: int
    months: int
    outstanding_fen: int
    fee_fen: int
    apr: Decimal
    old_maturity: date
    new_maturity: date
    rows: tuple[PlannedRow, ...]

    def schedule(self) -> list[dict[str, Any]]:
        return [row.shown() for row in self.rows]


@dataclass(frozen=True, slots=True)
class Pricing:
    """What the product charges for an extension and the APR an offer may not exceed."""

    fee_rate: Decimal
    apr_cap: Decimal


def plan_extension(
    loan: Row,
    rows: Sequence[Row],
    today: date,
    months: int,
    already: int,
    pricing: Pricing,
    interest_from: date | None,
) -> Offer:
    """The offer for extending ``loan`` by ``months`` today, or the refusal naming why not.

    ``rows``: the loan's open installments; ``already``: months of extensions accepted
    before; ``interest_from``: the loan's last prepayment date, if any (interest up to it
    is already recognised on the current installment).
    """
    loan_id = int(loan["loan_id"])
    if loan["kind"] != "cash_loan" or loan["method"] is None or loan["daily_rate_units"] is None:
        raise RefusedError(
            "extension_not_offered",
            f"loan {loan_id} is a {loan['kind']} loan; extensions are offered on cash loans",
        )
    _refuse_overdue(loan_id, rows, today)
    future = sorted((r for r in rows if r["due_date"] > today), key=lambda r: int(r["seq"]))
    outstanding = sum(int(r["principal_fen"]) - int(r["paid_principal_fen"]) for r in future)
    if outstanding <= 0:
        raise RefusedError(
            "nothing_to_extend",
            f"loan {loan_id} has no principal falling due after {today}; an extension must "
            "be requested before the loan's final due date (《贷款通则》 Art. 12)",
        )
    check_extension(int(loan["term_months"]), already, months)
    planned = _reschedule(loan, future, months, interest_from)
    fee = half_up(Decimal(outstanding) * pricing.fee_rate)
    planned[0] = replace(planned[0], fee_fen=planned[0].fee_fen + fee)  # due with the next
    apr = apr_from_cash_flows(outstanding, [row.to_pay() for row in planned])
    if apr > pricing.apr_cap:
        raise RefusedError(
            "apr_cap",
            f"extending loan {loan_id} by {months} months would cost an APR of "
            f"{format_percent(apr)} including the fee {format_fen(fee)}, above the cap of "
            f"{format_percent(pricing.apr_cap)}",
        )
    return Offer(
        loan_id=loan_id,
        months=months,
        outstanding_fen=outstanding,
        fee_fen=fee,
        apr=apr,
        old_maturity=future[-1]["due_date"],
        new_maturity=planned[-1].due_date,
        rows=tuple(planned),
    )


def _refuse_overdue(loan_id: int, rows: Sequence[Row], today: date) -> None:
    """An extension keeps a current loan current; it does not cure an overdue one."""
    late = [
        r["due_date"]
        for r in rows
        if r["due_date"] < today
        and sum(int(r[f"{c}_fen"]) - int(r[f"paid_{c}_fen"]) for c in _COMPONENTS) > 0
    ]
    if late:
        oldest = min(late)
        raise RefusedError(
            "loan_overdue",
            f"loan {loan_id} is {days_between(oldest, today)} days past due (since {oldest}); "
            "an extension must be agreed before a loan falls due (《贷款通则》 Art. 12); "
            "an overdue borrower may request a personalised installment plan",
        )


def _reschedule(
    loan: Row, future: list[Row], months: int, interest_from: date | None
) -> list[PlannedRow]:
    """The remaining principal over the remaining and the extended installments."""
    opened_on: date = loan["opened_on"]
    last_seq = int(future[-1]["seq"])
    seqs = [int(r["seq"]) for r in future] + list(range(last_seq + 1, last_seq + months + 1))
    dates = [r["due_date"] for r in future] + [
        add_months(opened_on, s) for s in seqs[len(future) :]
    ]
    first = future[0]
    first_seq = int(first["seq"])
    start = opened_on if first_seq == 1 else add_months(opened_on, first_seq - 1)
    if interest_from is not None and interest_from > start:
        start = interest_from
    outstanding = sum(int(r["principal_fen"]) - int(r["paid_principal_fen"]) for r in future)
    shapes = reshape_cash_loan(
        outstanding, int(loan["daily_rate_units"]), str(loan["method"]), start, dates
    )
    planned: list[PlannedRow] = []
    for index, (seq, due, shape) in enumerate(zip(seqs, dates, shapes, strict=True)):
        old = future[index] if index < len(future) else None
        interest = shape.interest + (int(first["interest_recognised_fen"]) if index == 0 else 0)
        if old is None:
            planned.append(PlannedRow(seq, due, None, shape.principal, interest, 0))
            continue
        planned.append(
            PlannedRow(
                seq,
                due,
                int(old["installment_id"]),
                shape.principal + int(old["paid_principal_fen"]),
                interest,
                int(old["fee_fen"]),
                int(old["paid_principal_fen"]),
                int(old["paid_interest_fen"]),
                int(old["paid_fee_fen"]),
            )
        )
    return planned
