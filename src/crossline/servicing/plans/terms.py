"""What a personalised installment plan (个性化分期) carries and how it is repaid.

Pure arithmetic over the line's open rows, shared by the offer and its acceptance so
the schedule the borrower accepts is the one that is booked, to the fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import polars as pl

from crossline.catalog import apr_from_cash_flows
from crossline.kernels.installments import UNPAID_TOTAL
from crossline.servicing.schedules import ScheduledInstallment, due_dates, split_evenly

MIN_MONTHS = 2
"""A one-month plan would only move a due date: that is an extension (展期), not a plan."""
MAX_MONTHS = 60
"""Art. 70 of the 2011 credit-card rules: a personalised plan runs at most 60 months."""
BREAK_TOLERANCE_DAYS = 30
"""A plan installment unpaid for more than this many days breaks the plan."""

PenaltyPolicy = Literal["include", "waive"]


@dataclass(frozen=True, slots=True)
class Carried:
    """The line's balance a plan takes over, by component, in fen.

    Interest and fees are what was recognised (fell due) and is unpaid: the contract
    interest and fees of periods not yet run are not charged, the plan replaces them."""

    principal: int
    interest: int
    fee: int
    penalty: int
    penalty_waived: int
    delinquent_since: date
    penalty_rate_units: int
    penalty_base: str

    @property
    def total(self) -> int:
        """What the plan loan lends: everything carried, penalty as the policy allows."""
        return self.principal + self.interest + self.fee + self.penalty


def carried_balance(
    rows: pl.DataFrame,
    today: date,
    policy: PenaltyPolicy,
    delinquent_since: date | None = None,
) -> Carried:
    """Sum the open rows of one line (``ROW_SCHEMA``) into what a plan carries.

    The delinquency start is the due date of the oldest row with anything unpaid, or
    ``delinquent_since`` where the line ages otherwise (a revolving line: its oldest
    statement with the minimum unmet, since a row of a statement whose minimum was met
    may stay unpaid without being late). The penalty terms kept are the line's
    harshest, restored if the plan breaks; a revolving line's overdue fee, charged on
    the statement balance, falls on the plan's unpaid installments instead."""
    late = rows.filter((pl.col("due_date") <= today) & (UNPAID_TOTAL > 0))
    if late.is_empty():
        raise ValueError("carried_balance: the line has no overdue row")
    sums = rows.select(
        (pl.col("principal_fen") - pl.col("paid_principal_fen")).sum().alias("principal"),
        (pl.col("interest_recognised_fen") - pl.col("paid_interest_fen")).sum().alias("interest"),
        (pl.col("fee_recognised_fen") - pl.col("paid_fee_fen")).sum().alias("fee"),
        (pl.col("penalty_fen") - pl.col("paid_penalty_fen")).sum().alias("penalty"),
    ).row(0, named=True)
    harshest = rows.sort("penalty_rate_units", descending=True).row(0, named=True)
    base = str(harshest["penalty_base"])
    penalty = int(sums["penalty"])
    return Carried(
        principal=int(sums["principal"]),
        interest=int(sums["interest"]),
        fee=int(sums["fee"]),
        penalty=penalty if policy == "include" else 0,
        penalty_waived=0 if policy == "include" else penalty,
        delinquent_since=delinquent_since or late["due_date"].min(),  # type: ignore[arg-type]
        penalty_rate_units=int(harshest["penalty_rate_units"]),
        penalty_base="installment" if base == "statement" else base,
    )


def plan_schedule(total_fen: int, months: int, start: date) -> list[ScheduledInstallment]:
    """Equal monthly installments of the carried total, no interest and no fee: ``total //
    months`` each, the last takes the remainder; due on the start's day of each month."""
    return [
        ScheduledInstallment(seq, due, part, 0, 0)
        for seq, (due, part) in enumerate(
            zip(due_dates(start, months), split_evenly(total_fen, months), strict=True), start=1
        )
    ]


def plan_apr(total_fen: int, schedule: list[ScheduledInstallment]) -> str:
    """The plan's APR as the loans table stores it (0.0000 = 0.00%): the borrower repays
    exactly what is carried, so the IRR is zero, and it is computed, not asserted."""
    return str(apr_from_cash_flows(total_fen, [row.amount for row in schedule]))


def broken_penalty_units(carried: Carried) -> int:
    """The penalty rate of a broken plan loan, on its (capitalised) unpaid principal.

    The plan loan's principal holds the carried interest, fees and penalty too; the
    restored rate is scaled by the original principal's share of it, half-up, so the
    penalty falls on that share only and overdue interest and penalty do not compound
    (DOMAIN §2)."""
    if carried.total == 0:
        return 0
    scaled = carried.penalty_rate_units * carried.principal * 2 + carried.total
    return scaled // (2 * carried.total)
