"""Provider and product definitions.

A product is data, not code: servicing, the APR check and the risk policy all
read their terms from here, so a catalog that loads is one every later step can
trust. That is why validation is strict: a product carries exactly the fields
its kind uses (a stray ``statement_day`` on a cash loan is a typo to report,
not a value to ignore) and every decimal is given as a string, because a TOML
or JSON float cannot be trusted to carry ``0.0005`` exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from crossline.money import RATE_SCALE, MoneyError, parse_positive_amount, parse_rate
from crossline.servicing.schedules import Method

Kind = Literal["revolving", "cash_loan", "installment"]
Component = Literal["penalty", "fee", "interest", "principal"]
DEFAULT_WATERFALL: tuple[Component, ...] = get_args(Component)
"""DOMAIN §2: within an installment penalty → fees → interest → principal."""

_RATE_QUANTUM = Decimal(1) / RATE_SCALE


class CatalogError(ValueError):
    """A catalog that cannot be used, with the product or field to fix."""


def _decimal_rate(value: Any) -> Decimal:
    """Accept a rate only as a string (or an exact int/Decimal), never as a float."""
    if isinstance(value, bool | float):
        raise ValueError(
            f"expected a decimal as a string like '0.0005', got the number {value!r} "
            "(a float would lose exactness; quote it)"
        )
    if not isinstance(value, str | int | Decimal):
        raise ValueError(f"expected a decimal as a string like '0.0005', got {value!r}")
    try:
        return parse_rate(str(value), field="value")
    except MoneyError as exc:
        raise ValueError(str(exc).removeprefix("value: ")) from exc


def _optional_rate(value: Any) -> Decimal | None:
    return None if value is None else _decimal_rate(value)


def _yuan(value: Any) -> Decimal:
    """A positive yuan amount with at most two decimals, kept as a Decimal at the edge."""
    return Decimal(parse_positive_amount(value)).scaleb(-2)


Rate = Annotated[Decimal, BeforeValidator(_decimal_rate)]
OptionalRate = Annotated[Decimal | None, BeforeValidator(_optional_rate)]
Yuan = Annotated[Decimal, BeforeValidator(_yuan)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Term = Annotated[int, Field(ge=1, le=360)]
DayOfMonth = Annotated[int, Field(ge=1, le=28)]
"""Statement and due days stop at 28 so that every month has them."""

_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True)


class Provider(BaseModel):
    """A lender; its group decides who sees its accounts in real time (DESIGN §9)."""

    model_config = _STRICT

    id: Identifier
    name: str = Field(min_length=1)
    group: Identifier
    report_min_dpd: int = Field(default=30, ge=1)
    notice_lead_days: int = Field(default=3, ge=0)
    write_off_dpd: int = Field(default=180, ge=1)
    plan_penalty: Literal["include", "waive"] = "include"
    """What a personalised installment plan does with the penalty accrued before it:
    carry it into the plan (default) or waive it (``servicing.plans``)."""


class BillInstallmentOption(BaseModel):
    """A bill-installment plan a revolving line offers: months for a total fee rate."""

    model_config = _STRICT

    months: Term
    fee_rate: Rate


COMMON_FIELDS = frozenset(
    {
        "id",
        "name",
        "provider",
        "kind",
        "grace_days",
        "waterfall",
        "compound_overdue_interest",
        "max_limit",
    }
)
KIND_FIELDS: dict[Kind, frozenset[str]] = {
    "cash_loan": frozenset(
        {
            "daily_rate_min",
            "daily_rate_max",
            "penalty_markup",
            "terms",
            "methods",
            "extension_fee_rate",
            "extension_offer_days",
        }
    ),
    "installment": frozenset(
        {"monthly_fee_rate_min", "monthly_fee_rate_max", "terms", "overdue_fee_daily_rate"}
    ),
    "revolving": frozenset(
        {
            "statement_day",
            "due_day",
            "minimum_payment_rate",
            "revolving_daily_rate",
            "overdue_fee_daily_rate",
            "bill_installments",
        }
    ),
}
"""Which fields belong to which kind; also what ``catalog_to_json`` writes per product."""

_REQUIRED: dict[Kind, tuple[str, ...]] = {
    "cash_loan": ("daily_rate_min", "daily_rate_max", "terms", "methods"),
    "installment": ("monthly_fee_rate_min", "monthly_fee_rate_max", "terms"),
    "revolving": ("revolving_daily_rate", "overdue_fee_daily_rate"),
}


class Product(BaseModel):
    """A credit product and every term servicing needs to run it."""

    model_config = _STRICT

    id: Identifier
    name: str = Field(min_length=1)
    provider: Identifier
    kind: Kind
    grace_days: int = Field(default=0, ge=0, le=30)
    waterfall: list[Component] = Field(default_factory=lambda: list(DEFAULT_WATERFALL))
    compound_overdue_interest: bool = False
    max_limit: Yuan
    # cash_loan
    daily_rate_min: OptionalRate = None
    daily_rate_max: OptionalRate = None
    penalty_markup: Rate = Decimal("0.5")
    terms: list[Term] = Field(default_factory=list)
    methods: list[Method] = Field(default_factory=list)
    extension_fee_rate: Rate = Decimal("0.01")
    """展期 fee, charged once on the outstanding principal when an extension is accepted."""
    extension_offer_days: int = Field(default=7, ge=1, le=30)
    """How long an extension offer stays open: its schedule is only true until the next
    due date or payment, so it is kept short."""
    # installment
    monthly_fee_rate_min: OptionalRate = None
    monthly_fee_rate_max: OptionalRate = None
    # installment and revolving
    overdue_fee_daily_rate: OptionalRate = None
    # revolving
    statement_day: DayOfMonth = 1
    due_day: DayOfMonth = 10
    minimum_payment_rate: Rate = Decimal("0.10")
    revolving_daily_rate: OptionalRate = None
    bill_installments: list[BillInstallmentOption] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fits_its_kind(self) -> Product:
        self._refuse_foreign_fields()
        self._require_kind_fields()
        self._check_lists()
        self._check_ranges()
        return self

    def _refuse_foreign_fields(self) -> None:
        foreign = sorted(self.model_fields_set - COMMON_FIELDS - KIND_FIELDS[self.kind])
        if foreign:
            raise ValueError(
                f"product {self.id!r}: field {', '.join(foreign)} does not apply "
                f"to a {self.kind} product"
            )

    def _require_kind_fields(self) -> None:
        for field in _REQUIRED[self.kind]:
            if getattr(self, field) in (None, []):
                raise ValueError(f"product {self.id!r}: a {self.kind} product needs {field}")
        if self.kind == "installment" and self.overdue_fee_daily_rate is None:
            raise ValueError(
                f"product {self.id!r}: an installment product needs overdue_fee_daily_rate"
            )

    def _check_lists(self) -> None:
        if sorted(self.waterfall) != sorted(DEFAULT_WATERFALL):
            raise ValueError(
                f"product {self.id!r}: waterfall must list each of "
                f"{', '.join(DEFAULT_WATERFALL)} exactly once, got {self.waterfall}"
            )
        for field, values in (
            ("terms", self.terms),
            ("methods", self.methods),
            ("bill_installments", [o.months for o in self.bill_installments]),
        ):
            if len(set(values)) != len(values):
                raise ValueError(f"product {self.id!r}: {field} has duplicates: {values}")

    def _check_ranges(self) -> None:
        for low, high in (
            ("daily_rate_min", "daily_rate_max"),
            ("monthly_fee_rate_min", "monthly_fee_rate_max"),
        ):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"product {self.id!r}: {low} {lo} is above {high} {hi}")
        if self.minimum_payment_rate > 1:
            raise ValueError(
                f"product {self.id!r}: minimum_payment_rate {self.minimum_payment_rate} is above 1"
            )

    @property
    def max_limit_fen(self) -> int:
        """The product's limit ceiling in fen, the unit everything else computes in."""
        return int(self.max_limit * 100)

    def daily_rate_range(self) -> tuple[Decimal, Decimal]:
        """The cash-loan pricing band (tiers are priced inside it by policy)."""
        lo, hi = self.daily_rate_min, self.daily_rate_max
        if self.kind != "cash_loan" or lo is None or hi is None:
            raise CatalogError(f"product {self.id!r} is a {self.kind}, not a cash_loan")
        return lo, hi

    def monthly_fee_rate_range(self) -> tuple[Decimal, Decimal]:
        """The merchant-installment fee band (tiers are priced inside it by policy)."""
        lo, hi = self.monthly_fee_rate_min, self.monthly_fee_rate_max
        if self.kind != "installment" or lo is None or hi is None:
            raise CatalogError(f"product {self.id!r} is a {self.kind}, not an installment")
        return lo, hi

    def penalty_daily_rate(self, daily_rate: Decimal | None = None) -> Decimal:
        """The daily rate charged on overdue amounts (DOMAIN §2 Penalty).

        Cash loans: the contract rate × (1 + markup), rounded half-up to 1e-10
        so that the integer accrual kernels can carry it exactly. Other kinds:
        their flat overdue-fee rate; ``daily_rate`` is ignored.
        """
        if self.kind != "cash_loan":
            if self.overdue_fee_daily_rate is None:  # pragma: no cover - validated
                raise CatalogError(f"product {self.id!r} has no overdue_fee_daily_rate")
            return self.overdue_fee_daily_rate
        if daily_rate is None:
            raise CatalogError(f"product {self.id!r}: a cash loan's penalty needs its daily rate")
        return (daily_rate * (1 + self.penalty_markup)).quantize(
            _RATE_QUANTUM, rounding=ROUND_HALF_UP
        )

    def bill_installment(self, months: int) -> BillInstallmentOption:
        """The bill-installment option for ``months``, or a message listing those offered."""
        for option in self.bill_installments:
            if option.months == months:
                return option
        offered = ", ".join(str(o.months) for o in self.bill_installments) or "none"
        raise CatalogError(
            f"product {self.id!r}: no bill installment over {months} months; offered: {offered}"
        )

    def check_cash_loan(self, term_months: int, method: str, daily_rate: Decimal) -> None:
        """Refuse a loan whose term, method or rate the product does not offer."""
        lo, hi = self.daily_rate_range()
        self._check_term(term_months)
        if method not in self.methods:
            raise CatalogError(
                f"product {self.id!r}: method {method!r} is not offered; "
                f"offered: {', '.join(self.methods)}"
            )
        _check_in_band(self.id, "daily_rate", daily_rate, lo, hi)

    def check_installment(self, months: int, monthly_fee_rate: Decimal) -> None:
        """Refuse a merchant plan whose term or fee rate the product does not offer."""
        lo, hi = self.monthly_fee_rate_range()
        self._check_term(months)
        _check_in_band(self.id, "monthly_fee_rate", monthly_fee_rate, lo, hi)

    def _check_term(self, months: int) -> None:
        if months not in self.terms:
            offered = ", ".join(str(t) for t in self.terms)
            raise CatalogError(
                f"product {self.id!r}: term {months} months is not offered; offered: {offered}"
            )


def _check_in_band(product: str, field: str, rate: Decimal, lo: Decimal, hi: Decimal) -> None:
    if not lo <= rate <= hi:
        raise CatalogError(f"product {product!r}: {field} {rate} is outside {lo}–{hi}")


class Catalog(BaseModel):
    """Every provider and product a deployment offers, the all-in APR cap, and the most
    credit one lender group may grant one borrower."""

    model_config = _STRICT

    providers: list[Provider] = Field(min_length=1)
    products: list[Product] = Field(min_length=1)
    apr_cap: Rate = Decimal("0.24")
    borrower_credit_cap: Yuan = Decimal("200000")
    """DOMAIN §5: internet consumer credit ≤ RMB 200,000 per borrower and lender. A
    group's limits on one borrower's open lines add up to at most this (an application
    is capped by what is left, a review's raises are cut to it)."""

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        _refuse_duplicates("providers", [p.id for p in self.providers], "provider")
        _refuse_duplicates("products", [p.id for p in self.products], "product")
        known = {p.id for p in self.providers}
        for index, product in enumerate(self.products):
            if product.provider not in known:
                raise ValueError(
                    f"products[{index}].provider: unknown provider {product.provider!r} "
                    f"for product {product.id!r}; known: {', '.join(sorted(known))}"
                )
            if product.max_limit > self.borrower_credit_cap:
                raise ValueError(
                    f"products[{index}].max_limit: {product.max_limit} is above the "
                    f"borrower_credit_cap of {self.borrower_credit_cap}"
                )
        return self

    @property
    def borrower_credit_cap_fen(self) -> int:
        """The cap in fen, the unit limits are kept in."""
        return int(self.borrower_credit_cap * 100)

    def product(self, product_id: str) -> Product:
        """The product, or a message listing the known ids (never a bare KeyError)."""
        for product in self.products:
            if product.id == product_id:
                return product
        known = ", ".join(p.id for p in self.products)
        raise CatalogError(f"unknown product {product_id!r}; known: {known}")

    def provider(self, provider_id: str) -> Provider:
        """The provider, or a message listing the known ids."""
        for provider in self.providers:
            if provider.id == provider_id:
                return provider
        known = ", ".join(p.id for p in self.providers)
        raise CatalogError(f"unknown provider {provider_id!r}; known: {known}")

    def provider_of(self, product_id: str) -> Provider:
        """The lender behind a product (reporting threshold, notice lead, write-off)."""
        return self.provider(self.product(product_id).provider)

    def group_of(self, product_id: str) -> str:
        """The group whose real-time view includes this product's accounts."""
        return self.provider_of(product_id).group

    def products_in_group(self, group: str) -> list[Product]:
        """The products a group sees in real time; every other product only via the bureau."""
        members = {p.id for p in self.providers if p.group == group}
        return [p for p in self.products if p.provider in members]


def _refuse_duplicates(field: str, ids: list[str], what: str) -> None:
    first: dict[str, int] = {}
    for index, item in enumerate(ids):
        if item in first:
            raise ValueError(
                f"{field}[{index}].id: duplicate {what} id {item!r} "
                f"(first at {field}[{first[item]}])"
            )
        first[item] = index
