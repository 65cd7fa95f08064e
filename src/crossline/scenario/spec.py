"""The scenario file format (a contract later checks rely on) and its validation.

Everything is validated before anything runs: a file that is wrong anywhere
is rejected with one message naming the step (counting from 1) and the field,
and no database is touched.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from crossline.calendar import last_day_of_month
from crossline.catalog import Catalog, CatalogError, load_catalog
from crossline.money import MoneyError, parse_amount, parse_positive_amount, parse_rate


class ScenarioError(ValueError):
    """A scenario file that cannot run, with where and why."""


def _rate(value: Any) -> Decimal:
    if isinstance(value, bool | float):
        raise ValueError(f"expected a rate as a string like '0.0004', got {value!r}")
    try:
        return parse_rate(value)
    except MoneyError as exc:
        raise ValueError(str(exc).removeprefix("rate: ")) from exc


def _repay_amount(value: Any) -> int | str:
    if value in ("all", "all_due"):
        return str(value)
    return parse_positive_amount(value)


def _month(value: Any) -> date:
    """A reporting month written ``2026-04``, as its reporting date (the month's last day)."""
    text = str(value)
    try:
        first = date.fromisoformat(f"{text}-01")
    except ValueError as exc:
        raise ValueError(f"expected a month like 2026-04, got {value!r}") from exc
    return first.replace(day=last_day_of_month(first.year, first.month))


def _waive_amount(value: Any) -> int | str:
    if value == "all":
        return "all"
    return parse_positive_amount(value)


Fen = Annotated[int, BeforeValidator(parse_positive_amount)]
Balance = Annotated[int, BeforeValidator(parse_amount)]
"""A non-negative amount (an account may hold nothing)."""
Month = Annotated[date, BeforeValidator(_month)]
Rate = Annotated[Decimal, BeforeValidator(_rate)]
RepayAmount = Annotated[int | Literal["all_due", "all"], BeforeValidator(_repay_amount)]
_STRICT = ConfigDict(extra="forbid", frozen=True)


class BorrowerSpec(BaseModel):
    """A borrower the scenario registers on its first day."""

    model_config = _STRICT
    id: str = Field(min_length=1, max_length=64)
    monthly_income: Fen


class OpenLine(BaseModel):
    """Open a credit line with a limit and (for priced products) a tier."""

    model_config = _STRICT
    borrower: str
    product: str
    limit: Fen
    daily_rate: Rate | None = None
    monthly_fee_rate: Rate | None = None


class Draw(BaseModel):
    """Disburse a cash loan."""

    model_config = _STRICT
    borrower: str
    product: str
    amount: Fen
    term_months: int = Field(ge=1)
    method: Literal["equal_principal", "equal_installment", "interest_first"]


class Purchase(BaseModel):
    """A purchase on a revolving line, or a merchant installment plan."""

    model_config = _STRICT
    borrower: str
    product: str
    amount: Fen
    installments: int | None = Field(default=None, ge=1)
    monthly_fee_rate: Rate | None = None
    merchant: str | None = None


class ConvertStatement(BaseModel):
    """Turn the latest statement's revolving balance into bill installments."""

    model_config = _STRICT
    borrower: str
    product: str
    months: int = Field(ge=1)


class Repay(BaseModel):
    """A repayment: an amount, everything due (``all_due``) or everything owed (``all``)."""

    model_config = _STRICT
    borrower: str
    product: str
    amount: RepayAmount
    key: str | None = Field(default=None, min_length=1, max_length=128)


class SelfQuery(BaseModel):
    """The borrower pulls their own credit report (two free a year)."""

    model_config = _STRICT
    borrower: str


class Dispute(BaseModel):
    """The borrower disputes the record reported for a product in a month."""

    model_config = _STRICT
    borrower: str
    product: str
    month: Month
    claim: str = Field(min_length=1, max_length=500)


class ResolveDispute(BaseModel):
    """The provider answers a dispute; ``corrected`` sets the record's status to ``status``."""

    model_config = _STRICT
    borrower: str
    product: str
    month: Month
    outcome: Literal["corrected", "confirmed", "unverifiable"]
    status: str = "N"


class Statement(BaseModel):
    """The borrower attaches an explanatory statement to a reported record."""

    model_config = _STRICT
    borrower: str
    product: str
    month: Month
    text: str = Field(min_length=1, max_length=500)


class Apply(BaseModel):
    """The borrower applies for a line of a product; the group's policy decides."""

    model_config = _STRICT
    borrower: str
    product: str
    requested_limit: Fen | None = None


class SubmitDocument(BaseModel):
    """The borrower files a document their referred application for ``product`` asked for."""

    model_config = _STRICT
    borrower: str
    product: str
    kind: str
    monthly_income: Fen | None = None


class VerifyDocument(BaseModel):
    """The lender checks the document filed for the referred application for ``product``."""

    model_config = _STRICT
    borrower: str
    product: str
    kind: str
    verified: bool = True
    note: str | None = Field(default=None, max_length=500)


class RequestExtension(BaseModel):
    """The borrower asks to extend a cash loan (展期) by ``months``; an offer is shown.
    ``loan`` names the loan when the line has more than one."""

    model_config = _STRICT
    borrower: str
    product: str
    months: int = Field(ge=1, le=360)
    loan: int | None = Field(default=None, ge=1, le=2**31 - 1)


class AcceptOffer(BaseModel):
    """The borrower accepts the offer pending on the line (an extension or a plan)."""

    model_config = _STRICT
    borrower: str
    product: str


LocalTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
"""A local time of day (Asia/Shanghai) on the business date, written ``HH:MM``."""


class Contact(BaseModel):
    """A collection contact about an overdue line, at a local time on the business date;
    the scheduler refuses one the collection rules forbid (``collections.rules``)."""

    model_config = _STRICT
    borrower: str
    product: str
    at: LocalTime
    channel: Literal["call", "sms", "app", "letter", "visit"]
    party: Literal["debtor", "guarantor", "third_party"]
    answered: bool = False
    number: str | None = Field(default=None, max_length=32)
    outcome: str | None = Field(default=None, max_length=32)
    message: str | None = Field(default=None, max_length=500)
    notes: str | None = Field(default=None, max_length=500)
    operator: str = Field(default="collections", min_length=1, max_length=64)
    fee: Fen | None = None


class PromiseToPay(BaseModel):
    """The borrower, reached today on the line, promises to pay ``amount`` by ``by``."""

    model_config = _STRICT
    borrower: str
    product: str
    amount: Fen
    by: date


class ConsentContactHours(BaseModel):
    """The borrower consents (or withdraws consent) to contact between 22:00 and 08:00."""

    model_config = _STRICT
    borrower: str
    consent: bool = True


class Waive(BaseModel):
    """An operator forgives penalty, interest or fee owed on a line, with a reason.

    ``by`` names the operator; the API sets it from the caller's credential, and a
    scenario (run by the platform's own operator) may name one."""

    model_config = _STRICT
    borrower: str
    product: str
    component: str
    amount: Annotated[int | Literal["all"], BeforeValidator(_waive_amount)]
    reason: str = Field(max_length=500)
    by: str | None = Field(default=None, min_length=1, max_length=128)


class Settle(BaseModel):
    """The borrower pays everything owed on a line and the account is closed.

    A negotiated settlement (a risk admin's) names the ``amount`` paid and why the
    rest (penalty, then interest) is waived; ``by`` as for ``Waive``."""

    model_config = _STRICT
    borrower: str
    product: str
    amount: Fen | None = None
    waive_rest_reason: str | None = Field(default=None, max_length=500)
    by: str | None = Field(default=None, min_length=1, max_length=128)


class EnableAutodebit(BaseModel):
    """Link an account holding ``account_balance`` to a line: what falls due on it is
    debited at end-of-day on the due date, retried on the next two days."""

    model_config = _STRICT
    borrower: str
    product: str
    account_balance: Balance


class SetAccountBalance(BaseModel):
    """The balance of the account linked to a line changed (the borrower topped it up)."""

    model_config = _STRICT
    borrower: str
    product: str
    account_balance: Balance


class SetLanguage(BaseModel):
    """The borrower chooses the language of their notifications (Chinese unless they do)."""

    model_config = _STRICT
    borrower: str
    language: Literal["zh", "en"]


class RequestPlan(BaseModel):
    """Ask for a personalised installment plan (个性化分期) of an overdue line over ``months``
    (2 to 60; the service names the rule when outside)."""

    model_config = _STRICT
    borrower: str
    product: str
    months: int = Field(ge=1)


STEP_KINDS: dict[str, type[BaseModel]] = {
    "open_line": OpenLine,
    "draw": Draw,
    "purchase": Purchase,
    "convert_statement": ConvertStatement,
    "repay": Repay,
    "self_query": SelfQuery,
    "dispute": Dispute,
    "resolve_dispute": ResolveDispute,
    "statement": Statement,
    "apply": Apply,
    "submit_document": SubmitDocument,
    "verify_document": VerifyDocument,
    "request_extension": RequestExtension,
    "accept_offer": AcceptOffer,
    "contact": Contact,
    "promise_to_pay": PromiseToPay,
    "consent_contact_hours": ConsentContactHours,
    "waive": Waive,
    "settle": Settle,
    "enable_autodebit": EnableAutodebit,
    "set_account_balance": SetAccountBalance,
    "set_language": SetLanguage,
    "request_plan": RequestPlan,
}


class Step(BaseModel):
    """One dated step: a command, or a named snapshot of STATE."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    number: int
    date: date
    kind: str
    command: BaseModel | None = None
    snapshot: str | None = None


MAX_WHATIF_DAYS = 400
"""A projection covers at most a year and a bit: a month-end report, its retention
and the clean months a limit takes to come back all fit."""


class WhatIf(BaseModel):
    """A projection for one borrower from the step's date, ``days`` long, under the
    hypothetical ``steps`` (scenario steps; their borrower defaults to this one). It runs
    on a copy: nothing of the scenario's own book changes."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    borrower: str
    days: int = Field(default=90, ge=1, le=MAX_WHATIF_DAYS)
    steps: tuple[Step, ...] = ()


class Scenario(BaseModel):
    """A validated scenario, ready to run."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    start: date
    end: date
    catalog: Catalog
    borrowers: list[BorrowerSpec]
    steps: list[Step]


def _where(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def _parse_date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ScenarioError(f"{field}: expected a date like 2026-03-01, got {value!r}") from exc


def _load_catalog(value: Any, base: Path) -> Catalog:
    try:
        if value in (None, "default"):
            return load_catalog("default")
        path = Path(str(value))
        return load_catalog(path if path.is_absolute() else base / path)
    except (CatalogError, OSError) as exc:
        raise ScenarioError(f"catalog: {exc}") from exc


def _step(number: int, raw: Any, scenario: dict[str, Any]) -> Step:
    where = f"step {number}"
    if not isinstance(raw, dict) or "date" not in raw:
        raise ScenarioError(f"{where}: date: expected a mapping with a date and one step kind")
    day = _parse_date(raw["date"], f"{where}: date")
    kinds = [k for k in raw if k != "date"]
    if len(kinds) != 1:
        raise ScenarioError(f"{where}: expected exactly one step kind besides date, got {kinds}")
    kind = kinds[0]
    if kind == "snapshot":
        if not isinstance(raw[kind], str) or not raw[kind]:
            raise ScenarioError(f"{where}: snapshot: expected a name")
        return Step(number=number, date=day, kind=kind, snapshot=raw[kind])
    if kind == "whatif":
        command: BaseModel = _whatif(where, day, raw[kind], scenario)
        return Step(number=number, date=day, kind=kind, command=command)
    model = STEP_KINDS.get(kind)
    if model is None:
        known = ", ".join([*STEP_KINDS, "snapshot", "whatif"])
        raise ScenarioError(f"{where}: {kind}: unknown step kind; known: {known}")
    try:
        command = model.model_validate(raw[kind])
    except ValidationError as exc:
        raise ScenarioError(f"{where}: {kind}.{_where(exc)}") from exc
    _cross_check(where, kind, command, scenario)
    return Step(number=number, date=day, kind=kind, command=command)


def whatif_steps(
    raw_steps: Any, borrower: str, first: date, last: date, context: dict[str, Any], where: str
) -> tuple[Step, ...]:
    """The hypothetical steps of a projection for ``borrower`` over [first, last]: scenario
    steps whose borrower defaults to the projected one, in date order inside the window."""
    if not isinstance(raw_steps, list):
        raise ScenarioError(f"{where}: steps: expected a list of dated steps")
    steps: list[Step] = []
    for number, raw in enumerate(raw_steps, start=1):
        here = f"{where}: whatif.step {number}"
        if isinstance(raw, dict):
            raw = {
                key: ({"borrower": borrower} | value if isinstance(value, dict) else value)
                for key, value in raw.items()
            }
        try:
            step = _step(number, raw, context)
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: whatif.{exc}") from exc
        if step.kind in ("whatif", "snapshot"):
            raise ScenarioError(f"{here}: {step.kind}: not allowed inside a projection")
        if getattr(step.command, "borrower", borrower) != borrower:
            raise ScenarioError(f"{here}: borrower: a projection is for {borrower!r} only")
        if not first <= step.date <= last:
            raise ScenarioError(f"{here}: date: {step.date} is outside {first}–{last}")
        if steps and step.date < steps[-1].date:
            raise ScenarioError(f"{here}: date: steps must be in date order")
        steps.append(step)
    return tuple(steps)


def whatif_shell(raw: Any, where: str) -> WhatIf:
    """A projection's borrower and days from a mapping, without its steps: those are read
    against the projection's window by ``whatif_steps``. The scenario step and the
    ``whatif`` command both read a projection through this; errors read ``where.field``."""
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected a mapping with borrower, days and steps")
    try:
        return WhatIf.model_validate({k: v for k, v in raw.items() if k != "steps"})
    except ValidationError as exc:
        raise ScenarioError(f"{where}.{_where(exc)}") from exc


def _whatif(where: str, day: date, raw: Any, scenario: dict[str, Any]) -> WhatIf:
    shell = whatif_shell(raw, f"{where}: whatif")
    if shell.borrower not in scenario["borrower_ids"]:
        raise ScenarioError(f"{where}: whatif.borrower: unknown borrower {shell.borrower!r}")
    last = day + timedelta(days=shell.days - 1)
    steps = whatif_steps(raw.get("steps", []), shell.borrower, day, last, scenario, where)
    return shell.model_copy(update={"steps": steps})


def _cross_check(where: str, kind: str, command: BaseModel, scenario: dict[str, Any]) -> None:
    borrower = getattr(command, "borrower", None)
    if borrower is not None and borrower not in scenario["borrower_ids"]:
        raise ScenarioError(f"{where}: {kind}.borrower: unknown borrower {borrower!r}")
    product = getattr(command, "product", None)
    if product is not None:
        try:
            scenario["catalog"].product(product)
        except CatalogError as exc:
            raise ScenarioError(f"{where}: {kind}.product: {exc}") from exc


def parse_scenario(data: Any, base: Path = Path()) -> Scenario:
    """Validate a scenario given as parsed YAML."""
    if not isinstance(data, dict):
        raise ScenarioError("expected a mapping with start, end, borrowers and steps")
    unknown = set(data) - {"start", "end", "catalog", "borrowers", "steps"}
    if unknown:
        raise ScenarioError(f"{sorted(unknown)[0]}: unknown top-level field")
    start = _parse_date(data.get("start"), "start")
    end = _parse_date(data.get("end"), "end")
    if end < start:
        raise ScenarioError(f"end: {end} is before start {start}")
    catalog = _load_catalog(data.get("catalog"), base)
    borrowers = []
    for index, raw in enumerate(data.get("borrowers") or [], start=1):
        try:
            borrowers.append(BorrowerSpec.model_validate(raw))
        except ValidationError as exc:
            raise ScenarioError(f"borrowers[{index}].{_where(exc)}") from exc
    ids = [b.id for b in borrowers]
    if len(set(ids)) != len(ids):
        raise ScenarioError("borrowers: duplicate borrower id")
    context = {"catalog": catalog, "borrower_ids": set(ids)}
    steps: list[Step] = []
    for number, raw in enumerate(data.get("steps") or [], start=1):
        step = _step(number, raw, context)
        if step.date < start or step.date > end:
            raise ScenarioError(f"step {number}: date: {step.date} is outside {start}–{end}")
        if steps and step.date < steps[-1].date:
            raise ScenarioError(
                f"step {number}: date: {step.date} is before step {number - 1}'s "
                f"{steps[-1].date}; steps must be in date order"
            )
        steps.append(step)
    return Scenario(start=start, end=end, catalog=catalog, borrowers=borrowers, steps=steps)


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    return parse_scenario(data, path.parent)
