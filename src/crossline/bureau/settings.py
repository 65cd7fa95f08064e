"""Each product's reporting settings as a frame, for joining onto lines in bulk."""

from __future__ import annotations

import polars as pl

from crossline.catalog import Catalog

SETTINGS_SCHEMA = pl.Schema(
    {
        "product": pl.String(),
        "provider": pl.String(),
        "lender_group": pl.String(),
        "report_min_dpd": pl.Int32(),
        "notice_lead_days": pl.Int32(),
    }
)


def reporting_settings(catalog: Catalog) -> pl.DataFrame:
    """Per product: its provider, group, reporting threshold and notice lead (DOMAIN §3)."""
    rows = []
    for product in catalog.products:
        provider = catalog.provider(product.provider)
        rows.append(
            (
                product.id,
                provider.id,
                provider.group,
                provider.report_min_dpd,
                provider.notice_lead_days,
            )
        )
    return pl.DataFrame(rows, schema=SETTINGS_SCHEMA, orient="row")
