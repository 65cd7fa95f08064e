"""Loan servicing: schedules, statements, repayment allocation, delinquency."""
