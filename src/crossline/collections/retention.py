"""Purging contact records once they have been kept two years, and never sooner.

DOMAIN §5 keeps collection records at least two years. ``purge_contacts`` deletes
records dated before a cutoff only when the cutoff is at least two years before
the business date; the database's trigger (migration 0011) refuses any younger
delete by any other path too.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from crossline.servicing.errors import RefusedError
from crossline.store import platform
from crossline.store.schema import contacts, promises

RETENTION_YEARS = 2


def retention_cutoff(today: date) -> date:
    """The earliest record date still kept on ``today``: the same day two years earlier
    (28 February for a 29 February)."""
    year = today.year - RETENTION_YEARS
    try:
        return today.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def purge_contacts(conn: sa.Connection, before: date) -> int:
    """Delete the contacts dated before ``before`` (and the settled promises made in them);
    refused when ``before`` would reach into the last two years. Returns how many contacts."""
    today = platform.business_date(conn)
    cutoff = retention_cutoff(today)
    if before > cutoff:
        raise RefusedError(
            "contact_retention",
            f"contact records are kept {RETENTION_YEARS} years: on {today} only records "
            f"before {cutoff} may be purged, not before {before}",
        )
    old = sa.select(contacts.c.contact_id).where(contacts.c.business_date < before)
    conn.execute(
        sa.delete(promises).where(promises.c.contact_id.in_(old), promises.c.status != "open")
    )
    still_promised = sa.select(promises.c.contact_id)
    return conn.execute(
        sa.delete(contacts).where(
            contacts.c.business_date < before, contacts.c.contact_id.not_in(still_promised)
        )
    ).rowcount
