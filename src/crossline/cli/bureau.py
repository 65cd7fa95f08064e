"""The credit bureau as a borrower sees it: the personal credit report."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console

from crossline.bureau.render import render_report
from crossline.bureau.report import credit_report
from crossline.cli.common import (
    DatabaseOption,
    bureau_app,
    existing_book,
    fail,
    parse_date,
)
from crossline.store import platform
from crossline.store.schema import borrowers


@bureau_app.command("report")
def bureau_report(
    borrower: Annotated[str, typer.Argument(help="Borrower id.")],
    database: DatabaseOption = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Report date (default: the business date).")
    ] = None,
) -> None:
    """Print the borrower's personal credit report as the bureau shows it."""
    with existing_book(database).connect() as conn:
        day = platform.business_date(conn) if as_of is None else parse_date(as_of, "as-of")
        known = conn.execute(
            sa.select(borrowers.c.borrower_id).where(borrowers.c.borrower_id == borrower)
        ).first()
        if known is None:
            raise fail(f"borrower: {borrower!r} is not registered")
        report = credit_report(conn, borrower, day)
    Console().print(render_report(report))
