"""PII at rest: the cipher, national IDs, stored identities and log redaction."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from datetime import date

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from crossline.cli import app as cli
from crossline.events.preferences import read_emails, save_email
from crossline.security import identities
from crossline.security.identities import (
    Identity,
    find_by_national_id,
    read_identity,
    rotate_key,
    save_identity,
)
from crossline.security.national_ids import RedactNationalIds, validate_national_id
from crossline.security.pii import PiiCipher, PiiDecryptionError, PiiKeyError, generate_key
from crossline.servicing.context import open_context
from crossline.servicing.errors import InputError
from crossline.servicing.lines import register_borrower
from crossline.store.schema import borrower_identities
from tests.conftest import initialise
from tests.helpers import dump

KEY = generate_key()
CIPHER = PiiCipher.from_env({"CROSSLINE_PII_KEY": KEY})
PUBLISHED_IDS = ("11010519491231002X", "440524188001010014")
"""The worked examples of GB 11643-1999, valid by the standard's own arithmetic."""
AMY = Identity(name="王小美", national_id="11010519491231002X", phone="13800138000")


def test_a_value_round_trips_and_never_encrypts_the_same_way_twice() -> None:
    first, second = CIPHER.encrypt("王小美"), CIPHER.encrypt("王小美")
    assert first != second
    assert "王小美".encode() not in first
    assert CIPHER.decrypt(first) == CIPHER.decrypt(second) == "王小美"


def test_a_value_opens_only_in_its_context_and_unaltered() -> None:
    blob = CIPHER.encrypt("13800138000", context="amy/phone")
    assert CIPHER.decrypt(blob, context="amy/phone") == "13800138000"
    with pytest.raises(PiiDecryptionError, match="altered or moved"):
        CIPHER.decrypt(blob, context="bob/phone")
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(PiiDecryptionError):
        CIPHER.decrypt(flipped, context="amy/phone")


def test_a_value_does_not_open_with_another_key() -> None:
    other = PiiCipher.from_env({"CROSSLINE_PII_KEY": generate_key()})
    with pytest.raises(PiiDecryptionError, match="CROSSLINE_PII_KEY is not the key"):
        other.decrypt(CIPHER.encrypt("王小美"))


def test_generated_keys_are_32_random_bytes() -> None:
    first, second = generate_key(), generate_key()
    assert first != second
    assert len(base64.urlsafe_b64decode(first)) == 32


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({}, "not set"),
        ({"CROSSLINE_PII_KEY": ""}, "not set"),
        ({"CROSSLINE_PII_KEY": "not base64 at all!"}, "not URL-safe base64"),
        ({"CROSSLINE_PII_KEY": base64.urlsafe_b64encode(b"k" * 16).decode()}, "expected 32 bytes"),
    ],
    ids=["missing", "empty", "malformed", "short"],
)
def test_a_bad_key_is_an_error_naming_the_variable(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(PiiKeyError, match=f"^CROSSLINE_PII_KEY: {problem}") as caught:
        PiiCipher.from_env(environ)
    value = environ.get("CROSSLINE_PII_KEY")
    assert not value or value not in str(caught.value)


def test_the_lookup_hash_is_keyed_and_ignores_the_check_letters_case() -> None:
    other = PiiCipher.from_env({"CROSSLINE_PII_KEY": generate_key()})
    national_id = PUBLISHED_IDS[0]
    assert CIPHER.lookup_hash(national_id) == CIPHER.lookup_hash(national_id.lower())
    assert CIPHER.lookup_hash(national_id) != other.lookup_hash(national_id)
    assert CIPHER.lookup_hash(national_id) != hashlib.sha256(national_id.encode()).hexdigest()
    assert len(CIPHER.lookup_hash(national_id)) == 64


@pytest.mark.parametrize("national_id", PUBLISHED_IDS)
def test_the_published_examples_are_valid(national_id: str) -> None:
    assert validate_national_id(national_id.lower()) == national_id


@pytest.mark.parametrize("national_id", PUBLISHED_IDS)
def test_every_single_character_error_is_caught(national_id: str) -> None:
    """MOD 11-2 catches every substitution of one character, check character included."""
    for position in range(18):
        for replacement in "0123456789X":
            if replacement == national_id[position] or (position < 17 and replacement == "X"):
                continue
            wrong = national_id[:position] + replacement + national_id[position + 1 :]
            with pytest.raises(InputError, match="check digit does not match"):
                validate_national_id(wrong)


@pytest.mark.parametrize(
    "value",
    ["", "1101051949123100", "11010519491231002XX", "1101051949123100ZX", "X1010519491231002"],
)
def test_a_malformed_national_id_is_refused_without_repeating_it(value: str) -> None:
    with pytest.raises(InputError, match=r"^national_id: expected 17 digits") as caught:
        validate_national_id(value)
    assert caught.value.field == "national_id"
    assert not value or value not in str(caught.value)


@pytest.fixture
def book(engine: sa.Engine) -> sa.Engine:
    initialise(engine, date(2026, 3, 1))
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "amy", 1_000_000)
        register_borrower(ctx, "bob", 1_000_000)
    return engine


def _save(engine: sa.Engine, borrower_id: str, identity: Identity) -> None:
    with engine.begin() as conn:
        save_identity(
            conn,
            CIPHER,
            borrower_id,
            name=identity.name,
            national_id=identity.national_id,
            phone=identity.phone,
        )


def test_an_identity_is_stored_encrypted_and_read_back(book: sa.Engine) -> None:
    _save(book, "amy", AMY)
    with book.connect() as conn:
        assert read_identity(conn, CIPHER, "amy") == AMY
        assert read_identity(conn, CIPHER, "bob") is None
        row = conn.execute(sa.select(borrower_identities)).mappings().one()
    stored = b"".join(bytes(v) if isinstance(v, bytes) else str(v).encode() for v in row.values())
    for plain in (AMY.name, AMY.national_id, AMY.phone):
        assert plain.encode() not in stored
    assert row["national_id_hash"] == CIPHER.lookup_hash(AMY.national_id)


def test_a_borrower_is_found_by_national_id(book: sa.Engine) -> None:
    _save(book, "amy", AMY)
    with book.connect() as conn:
        assert find_by_national_id(conn, CIPHER, AMY.national_id.lower()) == "amy"
        assert find_by_national_id(conn, CIPHER, PUBLISHED_IDS[1]) is None
        with pytest.raises(InputError, match=r"^national_id: "):
            find_by_national_id(conn, CIPHER, "12345")


def test_saving_again_replaces_the_identity(book: sa.Engine) -> None:
    _save(book, "amy", AMY)
    moved = Identity(name="王小美", national_id=PUBLISHED_IDS[1], phone="13900139000")
    _save(book, "amy", moved)
    with book.connect() as conn:
        assert read_identity(conn, CIPHER, "amy") == moved
        assert find_by_national_id(conn, CIPHER, AMY.national_id) is None
        assert find_by_national_id(conn, CIPHER, moved.national_id) == "amy"


def test_a_value_copied_to_another_borrower_does_not_open(book: sa.Engine) -> None:
    _save(book, "amy", AMY)
    _save(book, "bob", Identity("李雷", PUBLISHED_IDS[1], "13700137000"))
    t = borrower_identities
    with book.begin() as conn:
        amy_phone = conn.execute(sa.select(t.c.phone_enc).where(t.c.borrower_id == "amy"))
        conn.execute(
            sa.update(t).where(t.c.borrower_id == "bob").values(phone_enc=amy_phone.scalar_one())
        )
    with book.connect() as conn, pytest.raises(PiiDecryptionError):
        read_identity(conn, CIPHER, "bob")


BAD_IDENTITIES = [
    ("amy", Identity("  ", AMY.national_id, AMY.phone), "name"),
    ("amy", Identity("x" * 65, AMY.national_id, AMY.phone), "name"),
    ("amy", Identity(AMY.name, "110105194912310021", AMY.phone), "national_id"),
    ("amy", Identity(AMY.name, AMY.national_id, "23800138000"), "phone"),
    ("amy", Identity(AMY.name, AMY.national_id, "1380013800"), "phone"),
    ("amy", Identity(AMY.name, AMY.national_id, "138-0013-8000"), "phone"),
    ("zed", AMY, "borrower_id"),
    ("bob", AMY, "national_id"),
]


@pytest.mark.parametrize(("borrower_id", "identity", "field"), BAD_IDENTITIES)
def test_a_bad_identity_is_refused_naming_the_field_and_nothing_is_written(
    book: sa.Engine, borrower_id: str, identity: Identity, field: str
) -> None:
    _save(book, "amy", AMY)
    before = dump(book)
    with pytest.raises(InputError, match=f"^{field}: ") as caught:
        _save(book, borrower_id, identity)
    assert caught.value.field == field
    assert identity.national_id not in str(caught.value)
    assert dump(book) == before


def _logged(message: str, *args: object, exception: Exception | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactNationalIds())
    logger = logging.getLogger("crossline.test_pii")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if exception is None:
            logger.warning(message, *args)
        else:
            try:
                raise exception
            except ValueError:
                logger.exception(message, *args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("applicant 11010519491231002X declined", ()),
        ("applicant %s declined", ("11010519491231002x",)),
        ("applicant %(id)s declined", ({"id": "440524188001010014"},)),
        ("ids=440524188001010014,11010519491231002X", ()),
        ("id:110105194912310021 (bad check digit, still masked)", ()),
    ],
)
def test_the_log_filter_masks_anything_shaped_like_a_national_id(
    message: str, args: tuple[object, ...]
) -> None:
    text = _logged(message, *args)
    assert "[national id]" in text
    for national_id in (*PUBLISHED_IDS, "110105194912310021"):
        assert national_id not in text.upper()


def test_the_log_filter_masks_exceptions_and_leaves_other_numbers() -> None:
    text = _logged(
        "repayment of %s fen failed",
        300000,
        exception=ValueError("no borrower with id 11010519491231002X"),
    )
    assert "repayment of 300000 fen failed" in text
    assert "ValueError: no borrower with id [national id]" in text
    assert "11010519491231002X" not in text
    assert "ref 1234567890123456789 kept" in _logged("ref 1234567890123456789 kept")


BOB = Identity("李雷", PUBLISHED_IDS[1], "13700137000")


def test_rotating_the_key_re_seals_every_identity_under_the_new_key(
    book: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(identities, "ROTATION_BATCH", 1)  # two batches for two borrowers
    _save(book, "amy", AMY)
    _save(book, "bob", BOB)
    new = PiiCipher.from_env({"CROSSLINE_PII_KEY": generate_key()})
    with book.begin() as conn:
        assert rotate_key(conn, CIPHER, new) == 2
    with book.connect() as conn:
        assert read_identity(conn, new, "amy") == AMY
        assert read_identity(conn, new, "bob") == BOB
        assert find_by_national_id(conn, new, BOB.national_id) == "bob"
        assert find_by_national_id(conn, CIPHER, BOB.national_id) is None
        with pytest.raises(PiiDecryptionError):
            read_identity(conn, CIPHER, "amy")


def test_a_rotation_from_the_wrong_key_names_the_borrower_and_changes_nothing(
    book: sa.Engine,
) -> None:
    _save(book, "amy", AMY)
    other = PiiCipher.from_env({"CROSSLINE_PII_KEY": generate_key()})
    with book.begin() as conn:
        save_identity(
            conn, other, "bob", name=BOB.name, national_id=BOB.national_id, phone=BOB.phone
        )
    before = dump(book)
    new = PiiCipher.from_env({"CROSSLINE_PII_KEY": generate_key()})
    with pytest.raises(PiiDecryptionError, match=r"^borrower 'bob': "), book.begin() as conn:
        rotate_key(conn, CIPHER, new)
    assert dump(book) == before


def test_the_rotation_command_reads_both_keys_and_is_audited(
    book: sa.Engine, database_url: str
) -> None:
    _save(book, "amy", AMY)
    with book.begin() as conn:
        old = PiiCipher.from_env({"CROSSLINE_PII_KEY": KEY})
        save_email(conn, old, "amy", "amy@example.com")
    new_key = generate_key()
    runner = CliRunner()
    missing = runner.invoke(
        cli,
        ["access", "rotate-pii-key", "--database", database_url],
        env={"CROSSLINE_PII_KEY": KEY},
    )
    assert missing.exit_code == 2
    assert "CROSSLINE_NEW_PII_KEY: not set" in missing.output
    env = {"CROSSLINE_PII_KEY": KEY, "CROSSLINE_NEW_PII_KEY": new_key}
    done = runner.invoke(cli, ["access", "rotate-pii-key", "--database", database_url], env=env)
    assert done.exit_code == 0, done.output
    assert "re-sealed 1 identities and 1 e-mail addresses" in done.output
    with book.connect() as conn:
        new = PiiCipher.from_env({"CROSSLINE_PII_KEY": new_key})
        assert read_identity(conn, new, "amy") == AMY
        assert read_emails(conn, new, ["amy"]) == {"amy": "amy@example.com"}
        actions = conn.execute(sa.text("SELECT action, detail FROM audit_log")).all()
    assert [tuple(a) for a in actions] == [("pii_key.rotate", '{"emails":1,"identities":1}')]
