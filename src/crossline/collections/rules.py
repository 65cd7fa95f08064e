"""The collection rules (DOMAIN §5; 2011 credit-card rules Art. 68, CBA guideline 2026):
each a check that refuses a forbidden contact, naming the rule in its code.

- ``quiet_hours``: no contact from 22:00 to 08:00 (local time, Asia/Shanghai)
  unless the borrower consented to contact at those hours.
- ``unanswered_call_limit``: at most six unanswered calls a day to one number. The
  scheduler decides before the number is dialled, when nobody knows whether the call
  will be answered, so after six unanswered calls it refuses any further call that day
  (answered calls do not count towards the six).
- ``third_party_debtor_reachable``: a third party may be contacted only to reach a
  debtor who is unreachable (``debtor_unreachable``).
- ``third_party_disclosure``: what a third party is told carries no debt: no amount and
  no word about debt, arrears or repayment.
- ``collection_fee_forbidden``: collections charges no fee, ever; nothing about a
  contact is posted to the ledger.

Only the debtor, the guarantor and (as above) third parties are parties at all: the
command's schema admits no other.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa

from crossline.servicing.errors import RefusedError
from crossline.store.schema import contact_consents, contacts

QUIET_FROM = 22 * 60
QUIET_UNTIL = 8 * 60
"""Minutes after midnight: contact is quiet from 22:00 up to (not including) 08:00."""
MAX_UNANSWERED_CALLS = 6
UNREACHABLE_DAYS = 7
UNREACHABLE_ATTEMPTS = 3

_AMOUNT = re.compile(
    r"[¥￥]\s*\d|\d+(\.\d{1,2})?\s*(元|块|万|yuan|rmb|cny)|\d+\.\d{2}\b", re.IGNORECASE
)
_DEBT_WORDS = re.compile(
    r"欠|债|逾期|还款|还钱|催收|借款|贷款|账单|debt|owe|overdue|arrear|loan|repay|collect",
    re.IGNORECASE,
)


def minutes_of(at: str) -> int:
    """Minutes after midnight of a local time written ``HH:MM``."""
    hours, minutes = at.split(":")
    return int(hours) * 60 + int(minutes)


def check_no_fee(fee_fen: int | None) -> None:
    if fee_fen is not None:
        raise RefusedError(
            "collection_fee_forbidden",
            "no collection fees: a contact may not charge the borrower anything",
        )


def night_consent(conn: sa.Connection, borrower_id: str) -> bool:
    """Whether the borrower consented to contact between 22:00 and 08:00."""
    t = contact_consents
    found = conn.execute(
        sa.select(t.c.night_contact).where(t.c.borrower_id == borrower_id)
    ).scalar_one_or_none()
    return bool(found)


def check_hours(conn: sa.Connection, borrower_id: str, at: str) -> None:
    minute = minutes_of(at)
    quiet = minute >= QUIET_FROM or minute < QUIET_UNTIL
    if quiet and not night_consent(conn, borrower_id):
        raise RefusedError(
            "quiet_hours",
            f"no contact between 22:00 and 08:00 without the borrower's consent (at {at})",
        )


def check_third_party_message(message: str | None) -> None:
    if message is not None and (_AMOUNT.search(message) or _DEBT_WORDS.search(message)):
        raise RefusedError(
            "third_party_disclosure",
            "a third party is never told of the debt: the message names an amount or the debt",
        )


def debtor_unreachable(conn: sa.Connection, borrower_id: str, today: date) -> bool:
    """Unreachable: over the last ``UNREACHABLE_DAYS`` business days (today included), no
    contact with the debtor was answered and at least ``UNREACHABLE_ATTEMPTS`` calls to
    the debtor went unanswered, on any of the borrower's lines."""
    c = contacts.c
    row = conn.execute(
        sa.select(
            sa.func.count().filter(c.answered.is_(True)),
            sa.func.count().filter(c.answered.is_(False) & (c.channel == "call")),
        ).where(
            c.borrower_id == borrower_id,
            c.party == "debtor",
            c.business_date > today - timedelta(days=UNREACHABLE_DAYS),
            c.business_date <= today,
        )
    ).one()
    answered, unanswered_calls = int(row[0]), int(row[1])
    return answered == 0 and unanswered_calls >= UNREACHABLE_ATTEMPTS


def check_third_party_allowed(conn: sa.Connection, borrower_id: str, today: date) -> None:
    if not debtor_unreachable(conn, borrower_id, today):
        raise RefusedError(
            "third_party_debtor_reachable",
            "third parties may be contacted only to reach an unreachable debtor: no answered "
            f"debtor contact and at least {UNREACHABLE_ATTEMPTS} unanswered debtor calls "
            f"in the last {UNREACHABLE_DAYS} days",
        )


def check_call_limit(conn: sa.Connection, number_key: str, today: date) -> None:
    c = contacts.c
    unanswered = conn.execute(
        sa.select(sa.func.count()).where(
            c.number_key == number_key,
            c.business_date == today,
            c.channel == "call",
            c.answered.is_(False),
        )
    ).scalar_one()
    if unanswered >= MAX_UNANSWERED_CALLS:
        raise RefusedError(
            "unanswered_call_limit",
            f"at most {MAX_UNANSWERED_CALLS} unanswered calls a day to one number: "
            f"{unanswered} already today",
        )
