"""The chart of accounts.

Amounts in the journal are signed fen: positive is a debit, negative a credit.
Receivables are per loan (``loan_id`` on every line), which is what lets
``ledger check`` reconcile each loan's sub-ledger against its postings.
"""

from __future__ import annotations

from enum import StrEnum


class Account(StrEnum):
    """Ledger accounts. Asset accounts are debit-normal; the others credit-normal."""

    LOAN_PRINCIPAL = "loan_principal"
    INTEREST_RECEIVABLE = "interest_receivable"
    FEE_RECEIVABLE = "fee_receivable"
    PENALTY_RECEIVABLE = "penalty_receivable"
    SETTLEMENT = "settlement"
    BORROWER_CREDIT = "borrower_credit"
    CONVERSION_CLEARING = "conversion_clearing"
    INTEREST_INCOME = "interest_income"
    FEE_INCOME = "fee_income"
    PENALTY_INCOME = "penalty_income"
    WRITE_OFF_EXPENSE = "write_off_expense"
    WAIVER_EXPENSE = "waiver_expense"
    RECOVERY_INCOME = "recovery_income"


RECEIVABLE_BY_COMPONENT: dict[str, Account] = {
    "principal": Account.LOAN_PRINCIPAL,
    "interest": Account.INTEREST_RECEIVABLE,
    "fee": Account.FEE_RECEIVABLE,
    "penalty": Account.PENALTY_RECEIVABLE,
}
"""Which receivable account holds each component of an installment."""

INCOME_BY_COMPONENT: dict[str, Account] = {
    "interest": Account.INTEREST_INCOME,
    "fee": Account.FEE_INCOME,
    "penalty": Account.PENALTY_INCOME,
}
"""Which income account is credited when a component is recognised."""
