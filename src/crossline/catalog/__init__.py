"""Provider and product catalog, its loader and the APR disclosure check."""

from crossline.catalog.apr import (
    OfferApr,
    apr_from_cash_flows,
    highest_apr,
    monthly_irr,
    offer_aprs,
    schedule_apr,
)
from crossline.catalog.loader import (
    catalog_from_data,
    catalog_from_json,
    catalog_to_json,
    check_apr_cap,
    load_catalog,
)
from crossline.catalog.models import (
    BillInstallmentOption,
    Catalog,
    CatalogError,
    Product,
    Provider,
)

__all__ = [
    "BillInstallmentOption",
    "Catalog",
    "CatalogError",
    "OfferApr",
    "Product",
    "Provider",
    "apr_from_cash_flows",
    "catalog_from_data",
    "catalog_from_json",
    "catalog_to_json",
    "check_apr_cap",
    "highest_apr",
    "load_catalog",
    "monthly_irr",
    "offer_aprs",
    "schedule_apr",
]
