"""Delivering notifications beyond the database: the channels, and the run that feeds them.

The database row is the notification (written in the transaction of the decision
that needed it); a channel only carries it further. ``deliver_pending`` renders each
notification a channel is not yet done with, in the borrower's language, hands it
to the channel and records that in ``notification_deliveries`` in the same
transaction. A crash between sending and committing sends that batch again on the
next run: delivery is at least once, and a notification's id goes with it (the
e-mail's Message-ID) so a receiver can drop a repeat; a committed delivery is never
repeated. Runners may overlap (each server process delivers, and so may the CLI): on
PostgreSQL each batch first takes a transaction-scoped advisory lock, and a runner
that finds it taken stops, leaving the rest to the one holding it. SQLite serves one
process, so only the CLI run beside it can overlap; holding SQLite's one write lock
while mail goes out would stop every command for as long, so there the second runner
may send a batch again (at least once, as after a crash) and fails to record it.
"""

from __future__ import annotations

import logging
import os
import smtplib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import sqlalchemy as sa

from crossline.events.preferences import languages_of, read_emails
from crossline.events.rendered import Rendered, rendered_rows
from crossline.security.pii import PiiCipher
from crossline.store import platform
from crossline.store.schema import notification_deliveries, notifications

log = logging.getLogger("crossline.notifications")

BATCH = 500
"""Notifications rendered and delivered per transaction."""
DELIVERY_LOCK = 0x636C6E74
"""The PostgreSQL advisory lock key of a delivery batch ("clnt")."""


class Channel(Protocol):
    """Somewhere a rendered notification can go."""

    name: str
    needs_email: bool

    def deliver(self, notice: Rendered) -> bool:
        """Send ``notice``; False when there is nowhere to send it (no address)."""
        ...


class LogChannel:
    """Python logging: what was sent to whom, by the borrower's id and the subject. Never
    the national ID or the phone (the notification never holds them) nor the body."""

    name = "log"
    needs_email = False

    def deliver(self, notice: Rendered) -> bool:
        log.info(
            "notification %d to borrower %s (%s, %s): %s",
            notice.notification_id,
            notice.borrower_id,
            notice.kind,
            notice.language,
            notice.subject,
        )
        return True


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and as whom to send mail, from ``CROSSLINE_SMTP_*``."""

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SmtpSettings | None:
        """The settings, or None when ``CROSSLINE_SMTP_HOST`` is unset (no mail)."""
        host = environ.get("CROSSLINE_SMTP_HOST")
        if not host:
            return None
        sender = environ.get("CROSSLINE_SMTP_FROM")
        if not sender:
            raise ValueError("CROSSLINE_SMTP_FROM: required when CROSSLINE_SMTP_HOST is set")
        port_text = environ.get("CROSSLINE_SMTP_PORT", "25")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"CROSSLINE_SMTP_PORT: expected a port number, got {port_text!r}")
        return cls(
            host=host,
            port=int(port_text),
            sender=sender,
            user=environ.get("CROSSLINE_SMTP_USER") or None,
            password=environ.get("CROSSLINE_SMTP_PASSWORD") or None,
            starttls=environ.get("CROSSLINE_SMTP_STARTTLS", "") in {"1", "true", "yes"},
        )


class SmtpChannel:
    """Real mail to the borrower's address (one connection per message, so a dropped
    connection costs one message, which the next run sends)."""

    name = "smtp"
    needs_email = True

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def deliver(self, notice: Rendered) -> bool:
        if notice.email is None:
            return False
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = notice.email
        message["Subject"] = notice.subject
        domain = self.settings.sender.rpartition("@")[2] or None
        message["Message-ID"] = make_msgid(f"notification.{notice.notification_id}", domain)
        message["X-Crossline-Notification"] = str(notice.notification_id)
        message.set_content(notice.body)
        s = self.settings
        with smtplib.SMTP(s.host, s.port, timeout=30) as smtp:
            if s.starttls:
                smtp.starttls()
            if s.user is not None and s.password is not None:
                smtp.login(s.user, s.password)
            try:
                smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused:
                # A refused address stays refused: sending the batch again would not
                # reach it and would hold back every notification after it.
                log.warning(
                    "notification %d: the mail server refused the address", notice.notification_id
                )
                return False
        return True


def configured_channels(environ: Mapping[str, str] = os.environ) -> list[Channel]:
    """The log, and mail when ``CROSSLINE_SMTP_HOST`` is set."""
    channels: list[Channel] = [LogChannel()]
    settings = SmtpSettings.from_env(environ)
    if settings is not None:
        channels.append(SmtpChannel(settings))
    return channels


def deliver_pending(
    engine: sa.Engine, channels: Sequence[Channel], cipher: PiiCipher | None = None
) -> dict[str, int]:
    """Send every notification each channel is not done with; per channel, how many were
    sent. A channel that needs e-mail addresses needs ``cipher`` to open them."""
    for channel in channels:
        if channel.needs_email and cipher is None:
            raise ValueError(f"{channel.name}: needs the PII key to open e-mail addresses")
    sent: dict[str, int] = {}
    for channel in channels:
        sent[channel.name] = 0
        while True:
            with engine.begin() as conn:
                if not _claimed(conn):
                    return sent
                batch = _pending(conn, channel, cipher)
                if not batch:
                    break
                today = platform.business_date(conn)
                sent[channel.name] += _deliver_batch(conn, channel, batch, today)
    return sent


def _claimed(conn: sa.Connection) -> bool:
    """Whether this runner may deliver a batch now: not while another holds the lock on
    PostgreSQL (SQLite: always, see the module's docstring)."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(DELIVERY_LOCK))).scalar())


def _pending(conn: sa.Connection, channel: Channel, cipher: PiiCipher | None) -> list[Rendered]:
    """The next batch of notifications ``channel`` is not done with, rendered."""
    n, d = notifications.c, notification_deliveries.c
    done = sa.select(d.notification_id).where(
        d.notification_id == n.notification_id, d.channel == channel.name
    )
    rows = conn.execute(
        sa.select(notifications).where(~sa.exists(done)).order_by(n.notification_id).limit(BATCH)
    ).all()
    borrowers = [row.borrower_id for row in rows]
    languages = languages_of(conn, borrowers)
    emails: dict[str, str] = {}
    if channel.needs_email and cipher is not None:
        emails = read_emails(conn, cipher, borrowers)
    return rendered_rows(rows, languages, emails)


def _deliver_batch(
    conn: sa.Connection, channel: Channel, batch: list[Rendered], today: date
) -> int:
    records: list[dict[str, Any]] = []
    for notice in batch:
        went = channel.deliver(notice)
        records.append(
            {
                "notification_id": notice.notification_id,
                "channel": channel.name,
                "delivered_on": today,
                "sent": went,
            }
        )
    conn.execute(sa.insert(notification_deliveries), records)
    return sum(1 for r in records if r["sent"])
