"""Personalised installment plans (个性化分期, DOMAIN §5): request, accept, honour, break."""

from crossline.servicing.plans.honour import (
    break_plans,
    complete_plans,
    honoured_plan_lines,
    plan_honoured_condition,
)
from crossline.servicing.plans.offers import accept_plan, request_plan

__all__ = [
    "accept_plan",
    "break_plans",
    "complete_plans",
    "honoured_plan_lines",
    "plan_honoured_condition",
    "request_plan",
]
