"""The repayment waterfall (DOMAIN §2): oldest installment first, within it the product's order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossline.servicing.allocation import COMPONENTS, Owed, allocate

DEFAULT = ("penalty", "fee", "interest", "principal")


def _paid(allocation: dict[int, dict[str, int]], key: int, component: str) -> int:
    return allocation.get(key, {}).get(component, 0)


def test_default_components_order() -> None:
    assert COMPONENTS == DEFAULT


def test_domain_worked_example() -> None:
    # Owed: penalty 2.16, interest 74.40, principal 1200.00 yuan; 300.00 yuan arrives.
    # penalty 216 -> 29784 left; fee 0; interest 7440 -> 22344 left; principal gets 22344.
    owed = [Owed(key=1, amounts={"penalty": 216, "fee": 0, "interest": 7440, "principal": 120_000})]
    allocation, left = allocate(30_000, owed, DEFAULT)
    assert _paid(allocation, 1, "penalty") == 216
    assert _paid(allocation, 1, "fee") == 0
    assert _paid(allocation, 1, "interest") == 7440
    assert _paid(allocation, 1, "principal") == 22_344
    assert left == 0


def test_oldest_first_then_next_then_left_over() -> None:
    # Installment 1 owes 100 + 10 interest, installment 2 owes 100 + 10 interest; 250 arrives.
    # 1: interest 10, principal 100 (140 left); 2: interest 10, principal 100 (30 left).
    owed = [
        Owed(key=1, amounts={"interest": 10, "principal": 100}),
        Owed(key=2, amounts={"interest": 10, "principal": 100}),
    ]
    allocation, left = allocate(250, owed, DEFAULT)
    assert allocation == {
        1: {"interest": 10, "principal": 100},
        2: {"interest": 10, "principal": 100},
    }
    assert left == 30


def test_partial_second_installment_follows_waterfall() -> None:
    # 1 owes principal 50; 2 owes penalty 5, fee 7, interest 9, principal 50. 70 arrives:
    # 1 principal 50 (20 left); 2 penalty 5 (15), fee 7 (8), interest 8 of 9 (0); principal 0.
    owed = [
        Owed(key=1, amounts={"principal": 50}),
        Owed(key=2, amounts={"penalty": 5, "fee": 7, "interest": 9, "principal": 50}),
    ]
    allocation, left = allocate(70, owed, DEFAULT)
    assert _paid(allocation, 1, "principal") == 50
    assert [_paid(allocation, 2, c) for c in DEFAULT] == [5, 7, 8, 0]
    assert left == 0


def test_product_order_civil_code() -> None:
    # A product listing interest before penalty (costs → interest → principal style).
    order = ("fee", "interest", "penalty", "principal")
    owed = [Owed(key=7, amounts={"penalty": 100, "fee": 10, "interest": 20, "principal": 1000})]
    allocation, left = allocate(50, owed, order)
    # fee 10 (40 left), interest 20 (20 left), penalty 20 of 100.
    assert [_paid(allocation, 7, c) for c in DEFAULT] == [20, 10, 20, 0]
    assert left == 0


def test_zero_funds_and_nothing_owed() -> None:
    owed = [Owed(key=1, amounts={"principal": 100})]
    allocation, left = allocate(0, owed, DEFAULT)
    assert all(_paid(allocation, 1, c) == 0 for c in DEFAULT)
    assert left == 0
    allocation, left = allocate(500, [], DEFAULT)
    assert allocation == {}
    assert left == 500


def test_negative_funds_refused() -> None:
    with pytest.raises(ValueError):
        allocate(-1, [], DEFAULT)


AMOUNT = st.integers(min_value=0, max_value=5_000)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[int, list[Owed], tuple[str, ...]]:
    n = draw(st.integers(min_value=0, max_value=6))
    owed = [Owed(key=100 + i, amounts={c: draw(AMOUNT) for c in COMPONENTS}) for i in range(n)]
    waterfall = tuple(draw(st.permutations(COMPONENTS)))
    total = sum(sum(o.amounts.values()) for o in owed)
    funds = draw(st.integers(min_value=0, max_value=total + 5_000))
    return funds, owed, waterfall


@settings(max_examples=200)
@given(_cases())
def test_waterfall_properties(case: tuple[int, list[Owed], tuple[str, ...]]) -> None:
    funds, owed, waterfall = case
    allocation, left = allocate(funds, owed, waterfall)
    keys = [o.key for o in owed]
    assert set(allocation) <= set(keys)
    for payments in allocation.values():
        assert set(payments) <= set(COMPONENTS)
        assert all(v >= 0 for v in payments.values())

    # Never pays a component more than it owes.
    for o in owed:
        for c in COMPONENTS:
            assert _paid(allocation, o.key, c) <= o.amounts[c]

    # Allocated + left over == funds, and nothing is left over while anything is unpaid.
    allocated = sum(sum(p.values()) for p in allocation.values())
    assert allocated + left == funds
    total_owed = sum(sum(o.amounts.values()) for o in owed)
    assert allocated == min(funds, total_owed)
    assert left == max(0, funds - total_owed)

    def unpaid(o: Owed, c: str) -> int:
        return o.amounts[c] - _paid(allocation, o.key, c)

    # A later installment gets nothing while an earlier one still owes anything.
    for i, earlier in enumerate(owed):
        if any(unpaid(earlier, c) > 0 for c in COMPONENTS):
            for later in owed[i + 1 :]:
                assert all(_paid(allocation, later.key, c) == 0 for c in COMPONENTS)

    # Within an installment, a later component gets nothing while an earlier one is unpaid.
    for o in owed:
        for p, first in enumerate(waterfall):
            if unpaid(o, first) > 0:
                for second in waterfall[p + 1 :]:
                    assert _paid(allocation, o.key, second) == 0
