"""``crossline notifications``: sending what the book has written to borrowers."""

from __future__ import annotations

import logging

import typer
from rich.markup import escape

from crossline.cli.common import DatabaseOption, app, existing_database, fail
from crossline.events.delivery import configured_channels, deliver_pending
from crossline.security.pii import PiiCipher, PiiKeyError

notifications_app = typer.Typer(
    help="Notifications: deliver them through the configured channels.", no_args_is_help=True
)
app.add_typer(notifications_app, name="notifications")


@notifications_app.command("deliver")
def deliver(database: DatabaseOption = None) -> None:
    """Send every notification not yet delivered through the log and, when
    CROSSLINE_SMTP_HOST is set, by mail (the PII key opens the addresses); a rerun sends
    only what the last one did not finish."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        channels = configured_channels()
    except ValueError as exc:
        raise fail(escape(str(exc))) from exc
    cipher = None
    if any(channel.needs_email for channel in channels):
        try:
            cipher = PiiCipher.from_env()
        except PiiKeyError as exc:
            raise fail(escape(str(exc))) from exc
    sent = deliver_pending(existing_database(database), channels, cipher)
    for name, count in sent.items():
        typer.echo(f"{name}: sent {count}")
