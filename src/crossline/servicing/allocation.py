"""The repayment waterfall as data.

A payment settles what is owed oldest first; within one installment it pays
components in the product's ``waterfall`` order (default penalty → fee →
interest → principal, DOMAIN §2). Pure and exact: the repayment command feeds
it what is owed and posts what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

COMPONENTS: tuple[str, ...] = ("penalty", "fee", "interest", "principal")


@dataclass(frozen=True, slots=True)
class Owed:
    """What one installment still asks for, by component, in fen."""

    key: int
    amounts: dict[str, int]


def allocate(
    funds: int, owed: Sequence[Owed], waterfall: Sequence[str]
) -> tuple[dict[int, dict[str, int]], int]:
    """Split ``funds`` over ``owed`` (already oldest first); return (allocation, left over).

    Never pays a component more than it owes, and never pays a later
    installment while an earlier one still owes anything.
    """
    if funds < 0:
        raise ValueError("funds must be non-negative")
    allocation: dict[int, dict[str, int]] = {}
    for item in owed:
        if funds == 0:
            break
        paid: dict[str, int] = {}
        for component in waterfall:
            take = min(funds, max(0, item.amounts.get(component, 0)))
            if take:
                paid[component] = take
                funds -= take
        if paid:
            allocation[item.key] = paid
    return allocation, funds
