"""Loading, checking and snapshotting a catalog.

Every way in (the packaged default, a TOML file, the JSON snapshot a database
keeps) goes through :func:`catalog_from_data`, so each one gets the same
validation and the same APR cap check: a catalog that loads is one whose every
offer may legally be shown.

Decimals must be quoted strings. ``tomllib.load(parse_float=Decimal)`` would
also be exact for TOML, but JSON snapshots and API payloads have no such hook;
one rule for every source ("a decimal is a string") is easier to keep than two.
"""

from __future__ import annotations

import functools
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crossline.catalog.apr import format_percent, highest_apr
from crossline.catalog.models import COMMON_FIELDS, KIND_FIELDS, Catalog, CatalogError, Product

DEFAULT = "default"


def load_catalog(source: str | Path = DEFAULT) -> Catalog:
    """Load the packaged default catalog or a TOML file, validated and APR-checked."""
    name, text = _read_source(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{name}: not valid TOML: {exc}") from exc
    return catalog_from_data(data)


def catalog_from_data(data: Any) -> Catalog:
    """Validate plain data (as parsed from TOML or JSON) into a catalog within the APR cap."""
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_describe(exc)) from exc
    check_apr_cap(catalog)
    return catalog


def check_apr_cap(catalog: Catalog) -> None:
    """Refuse the first product whose most expensive offer is above the cap."""
    for product in catalog.products:
        worst = highest_apr(product)
        if worst.apr > catalog.apr_cap:
            raise CatalogError(
                f"product {product.id!r}: {worst.describe()} has APR "
                f"{format_percent(worst.apr)}, above the cap of {format_percent(catalog.apr_cap)}"
            )


def catalog_to_json(catalog: Catalog) -> str:
    """A self-contained snapshot: defaults are written out, so later code changes cannot move it.

    Each product carries only the fields of its kind, which is also what
    :func:`catalog_from_json` accepts back.
    """
    data = {
        "apr_cap": str(catalog.apr_cap),
        "borrower_credit_cap": str(catalog.borrower_credit_cap),
        "providers": [p.model_dump(mode="json") for p in catalog.providers],
        "products": [_product_data(p) for p in catalog.products],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


@functools.lru_cache(maxsize=8)
def catalog_from_json(text: str) -> Catalog:
    """Read a snapshot written by :func:`catalog_to_json` (or any equivalent JSON).

    Cached because every command and every end-of-day reads the database's
    catalog, and validating it (the APR check solves dozens of IRRs) costs
    tens of milliseconds; a ``Catalog`` is frozen, so sharing one is safe.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"catalog JSON: not valid JSON: {exc}") from exc
    return catalog_from_data(data)


def _product_data(product: Product) -> dict[str, Any]:
    fields = COMMON_FIELDS | KIND_FIELDS[product.kind]
    order = [name for name in Product.model_fields if name in fields]
    dumped = product.model_dump(mode="json", include=set(fields))
    return {name: dumped[name] for name in order}


def _read_source(source: str | Path) -> tuple[str, str]:
    if source == DEFAULT:
        resource = resources.files("crossline.catalog").joinpath("default.toml")
        return "default catalog", resource.read_text(encoding="utf-8")
    path = Path(source)
    try:
        return str(path), path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read catalog file {path}: {exc.strerror or exc}") from exc


def _describe(error: ValidationError) -> str:
    """Pydantic's errors as 'products[2].daily_rate_max: message', joined by '; '."""
    return "; ".join(_describe_one(item["loc"], item["msg"]) for item in error.errors())


def _describe_one(loc: tuple[int | str, ...], msg: str) -> str:
    message = msg.removeprefix("Value error, ")
    return f"{_location(loc)}: {message}" if loc else message


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
