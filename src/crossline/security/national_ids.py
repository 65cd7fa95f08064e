"""Resident identity numbers (GB 11643-1999): their check digit, and keeping them out of logs.

An 18-character number: 6 of region, 8 of birth date, 3 of sequence, and a
check character computed from the first 17 (ISO 7064 MOD 11-2) that catches
every single-digit error and most transpositions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from crossline.servicing.errors import InputError

_WEIGHTS = tuple(pow(2, 17 - position, 11) for position in range(17))
"""7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2: 2^(17-i) mod 11 for positions 0..16."""
_CHECK_CHARACTERS = "10X98765432"
"""The check character for each remainder 0..10 of the weighted sum mod 11."""
_SHAPE = re.compile(r"\d{17}[\dX]")
SHAPED_LIKE_NATIONAL_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
"""Anything a national ID could hide in: 17 digits and a digit or X, not inside a longer number."""
REDACTED = "[national id]"


def check_character(first17: str) -> str:
    """The check character of the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def validate_national_id(value: str) -> str:
    """The national ID with its check letter upper-cased, or an error naming the field.

    The message never repeats the value: errors are logged, and logs must not
    hold a national ID.
    """
    national_id = value.strip().upper()
    if _SHAPE.fullmatch(national_id) is None:
        raise InputError("national_id", "expected 17 digits and a check digit or X (18 characters)")
    if check_character(national_id[:17]) != national_id[17]:
        raise InputError("national_id", "the check digit does not match (GB 11643)")
    return national_id


def redact(text: str) -> str:
    """``text`` with everything shaped like a national ID replaced by ``REDACTED``."""
    return SHAPED_LIKE_NATIONAL_ID.sub(REDACTED, text)


class RedactNationalIds(logging.Filter):
    """A handler filter that masks national IDs in the message, exception and stack text.

    Attach it to the handlers (a filter on a logger does not see records that
    its children propagate). It masks the message and each argument in place,
    so an ID passed as a ``%s`` argument is caught too, and formatters that read
    the arguments themselves (uvicorn's access log does) still find them; it
    keeps every record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _masked(value) for key, value in record.args.items()}
        if record.exc_info is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _masked(value: object) -> object:
    """A log argument with national IDs masked; other types rendered as ``%s`` would
    render them, so anything holding one is masked as text."""
    if isinstance(value, int | float) or value is None:
        return value
    text = str(value)
    return redact(text) if SHAPED_LIKE_NATIONAL_ID.search(text) else value
