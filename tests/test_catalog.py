"""Catalog: the default terms of DOMAIN §6, strict loading, the APR cap, JSON snapshots."""

from __future__ import annotations

import re
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from crossline.catalog import (
    CatalogError,
    catalog_from_json,
    catalog_to_json,
    load_catalog,
)

DEFAULT_TOML = resources.files("crossline.catalog").joinpath("default.toml").read_text("utf-8")


def _edit(product_id: str, old: str, new: str) -> str:
    """The default TOML with one product's block edited (``old`` must occur in that block)."""
    head, *blocks = DEFAULT_TOML.split("[[products]]")
    edited = []
    for block in blocks:
        if f'id = "{product_id}"' in block:
            assert old in block, f"{old!r} not in the {product_id} block"
            block = block.replace(old, new, 1)
        edited.append(block)
    return "[[products]]".join([head, *edited])


def _load_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    load_catalog(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(CatalogError) as info:
        _load_text(tmp_path, text)
    return str(info.value)


def test_default_catalog_matches_domain_section_6() -> None:
    catalog = load_catalog()
    assert catalog.apr_cap == Decimal("0.24")
    assert {p.id: p.group for p in catalog.providers} == {
        "huabei": "ant",
        "jiebei": "ant",
        "weilidai": "webank",
        "fenqile": "lexin",
    }
    assert all(
        (p.report_min_dpd, p.notice_lead_days, p.write_off_dpd) == (30, 3, 180)
        for p in catalog.providers
    )
    huabei = catalog.product("huabei")
    assert (huabei.kind, huabei.grace_days, huabei.statement_day, huabei.due_day) == (
        "revolving",
        3,
        1,
        10,
    )
    assert huabei.minimum_payment_rate == Decimal("0.10")
    assert huabei.revolving_daily_rate == huabei.overdue_fee_daily_rate == Decimal("0.0005")
    assert [(o.months, o.fee_rate) for o in huabei.bill_installments] == [
        (3, Decimal("0.025")),
        (6, Decimal("0.045")),
        (9, Decimal("0.065")),
        (12, Decimal("0.088")),
    ]
    jiebei = catalog.product("jiebei")
    assert jiebei.daily_rate_range() == (Decimal("0.0002"), Decimal("0.0006"))
    assert (jiebei.terms, jiebei.methods) == ([3, 6, 12], ["equal_installment", "interest_first"])
    assert jiebei.max_limit_fen == 20_000_000
    weilidai = catalog.product("weilidai")
    assert weilidai.daily_rate_range() == (Decimal("0.0002"), Decimal("0.0005"))
    assert (weilidai.terms, weilidai.methods) == ([5, 10, 20], ["equal_principal"])
    fenqile = catalog.product("fenqile")
    assert fenqile.monthly_fee_rate_range() == (Decimal("0.005"), Decimal("0.010"))
    assert (fenqile.terms, fenqile.grace_days) == ([3, 6, 9, 12], 3)
    assert all(p.waterfall == ["penalty", "fee", "interest", "principal"] for p in catalog.products)


def test_groups_and_lookups() -> None:
    catalog = load_catalog()
    assert catalog.group_of("jiebei") == "ant"
    assert catalog.group_of("weilidai") == "webank"
    assert [p.id for p in catalog.products_in_group("ant")] == ["huabei", "jiebei"]
    with pytest.raises(CatalogError, match="unknown product 'nope'; known: huabei, jiebei"):
        catalog.product("nope")
    with pytest.raises(CatalogError, match="unknown provider 'nope'"):
        catalog.provider("nope")


def test_penalty_rates() -> None:
    catalog = load_catalog()
    # DOMAIN §2: cash-loan penalty = rate × (1 + 50%): 0.0004 × 1.5 = 0.0006.
    assert catalog.product("jiebei").penalty_daily_rate(Decimal("0.0004")) == Decimal("0.0006")
    # 0.00033 × 1.5 = 0.000495 exactly.
    assert catalog.product("weilidai").penalty_daily_rate(Decimal("0.00033")) == Decimal("0.000495")
    assert catalog.product("huabei").penalty_daily_rate() == Decimal("0.0005")
    assert catalog.product("fenqile").penalty_daily_rate() == Decimal("0.0005")


def test_offer_checks() -> None:
    jiebei = load_catalog().product("jiebei")
    jiebei.check_cash_loan(6, "interest_first", Decimal("0.0003"))
    with pytest.raises(CatalogError, match="term 5 months"):
        jiebei.check_cash_loan(5, "interest_first", Decimal("0.0003"))
    with pytest.raises(CatalogError, match="equal_principal"):
        jiebei.check_cash_loan(6, "equal_principal", Decimal("0.0003"))
    with pytest.raises(CatalogError, match="daily_rate"):
        jiebei.check_cash_loan(6, "interest_first", Decimal("0.0007"))
    with pytest.raises(CatalogError, match="offered: 3, 6, 9, 12"):
        load_catalog().product("huabei").bill_installment(4)


def test_json_snapshot_round_trips() -> None:
    catalog = load_catalog()
    text = catalog_to_json(catalog)
    assert '"daily_rate_max": "0.0006"' in text  # decimals travel as strings
    assert '"penalty_markup": "0.5"' in text  # defaults are written out
    assert catalog_from_json(text) == catalog
    assert catalog_to_json(catalog_from_json(text)) == text


def test_apr_above_cap_is_refused(tmp_path: Path) -> None:
    text = _edit("jiebei", 'daily_rate_max = "0.0006"', 'daily_rate_max = "0.0008"')
    message = _error(tmp_path, text)
    found = re.fullmatch(
        r"product 'jiebei': term (\d+) months \((\w+)\) has APR (\d+\.\d\d)%, "
        r"above the cap of 24\.00%",
        message,
    )
    assert found, message
    assert int(found.group(1)) in (3, 6, 12)
    assert found.group(2) in ("equal_installment", "interest_first")
    # At 0.0008/day even 30-day pricing is 0.0008 × 30 × 12 = 28.80%;
    # the worst offer is at least that.
    assert Decimal(found.group(3)) >= Decimal("28.80")


def test_a_lower_cap_is_applied(tmp_path: Path) -> None:
    # Huabei's revolving rate alone is 18.00%; a 15% cap refuses the catalog at its first product.
    message = _error(tmp_path, DEFAULT_TOML.replace('apr_cap = "0.24"', 'apr_cap = "0.15"'))
    assert message.startswith("product 'huabei': ")
    assert "above the cap of 15.00%" in message


@pytest.mark.parametrize(
    ("product", "old", "new", "expected"),
    [
        ("jiebei", 'kind = "cash_loan"', 'kind = "mortgage"', "products[1].kind: Input should be"),
        (
            "jiebei",
            'daily_rate_max = "0.0006"',
            "daily_rate_max = 0.0006",
            "products[1].daily_rate_max",
        ),
        ("jiebei", 'daily_rate_max = "0.0006"', "", "needs daily_rate_max"),
        (
            "weilidai",
            'id = "weilidai"',
            'id = "jiebei"',
            "products[2].id: duplicate product id 'jiebei'",
        ),
        (
            "fenqile",
            'provider = "fenqile"',
            'provider = "nobody"',
            "products[3].provider: unknown provider 'nobody'",
        ),
        ("jiebei", "terms = [3, 6, 12]", "terms = [3, 6, 12]\nstatement_day = 1", "statement_day"),
        (
            "fenqile",
            "terms = [3, 6, 9, 12]",
            'terms = [3, 6, 9, 12]\ncolour = "red"',
            "products[3].colour",
        ),
        ("huabei", 'max_limit = "50000.00"', 'max_limit = "50000.001"', "products[0].max_limit"),
        (
            "jiebei",
            'daily_rate_min = "0.0002"',
            'daily_rate_min = "0.0007"',
            "daily_rate_min 0.0007 is above daily_rate_max",
        ),
        (
            "jiebei",
            'daily_rate_min = "0.0002"',
            'daily_rate_min = "-0.0002"',
            "products[1].daily_rate_min",
        ),
        (
            "jiebei",
            'methods = ["equal_installment", "interest_first"]',
            'methods = ["balloon"]',
            "products[1].methods[0]",
        ),
        (
            "huabei",
            'waterfall = ["penalty", "fee", "interest", "principal"]',
            'waterfall = ["principal"]',
            "waterfall",
        ),
    ],
)
def test_loader_errors_name_the_field(
    tmp_path: Path, product: str, old: str, new: str, expected: str
) -> None:
    message = _error(tmp_path, _edit(product, old, new))
    assert expected in message


def test_float_rate_message_explains_why(tmp_path: Path) -> None:
    message = _error(
        tmp_path, _edit("jiebei", 'daily_rate_max = "0.0006"', "daily_rate_max = 0.0006")
    )
    assert "products[1].daily_rate_max" in message
    assert "float" in message and "string" in message


def test_missing_required_field_names_the_product(tmp_path: Path) -> None:
    message = _error(tmp_path, _edit("jiebei", 'daily_rate_max = "0.0006"', ""))
    assert message == "products[1]: product 'jiebei': a cash_loan product needs daily_rate_max"


def test_foreign_field_names_product_and_field(tmp_path: Path) -> None:
    message = _error(
        tmp_path, _edit("jiebei", "terms = [3, 6, 12]", "terms = [3, 6, 12]\nstatement_day = 1")
    )
    assert "product 'jiebei'" in message
    assert "statement_day does not apply to a cash_loan product" in message


def test_unreadable_sources(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read catalog file"):
        load_catalog(tmp_path / "missing.toml")
    with pytest.raises(CatalogError, match="not valid TOML"):
        _load_text(tmp_path, "products = [")
    with pytest.raises(CatalogError, match="not valid JSON"):
        catalog_from_json("{")
