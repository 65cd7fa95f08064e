"""Who is calling: API keys, users and sessions (``crossline.security``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from crossline.catalog import load_catalog
from crossline.security import api_keys, hashing
from crossline.security.api_keys import authenticate_api_key, create_api_key, revoke_api_key
from crossline.security.principals import Principal
from crossline.security.sessions import authenticate_session, log_in, log_out
from crossline.security.throttle import MAX_FAILURES, WINDOW, TooManyAttemptsError
from crossline.security.users import create_user
from crossline.servicing.context import open_context
from crossline.servicing.errors import InputError
from crossline.servicing.lines import register_borrower
from crossline.store.schema import api_keys as api_keys_table
from crossline.store.schema import sessions, users
from tests.conftest import initialise
from tests.helpers import dump

CATALOG = load_catalog("default")
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PASSWORD = "correct horse battery"
PRODUCTION_HASHER = hashing.SECRET_HASHER


class CountingHasher(PasswordHasher):
    """Cheap argon2id parameters, counting verifications.

    At the library's defaults one hash or check takes 0.2 to 0.9 s on the CI
    machine; this file makes dozens. ``test_production_hashes_use_argon2id_defaults``
    checks the real setting once.
    """

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=1024, parallelism=1)
        self.checks = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.checks += 1
        return super().verify(hash, password)


@pytest.fixture(autouse=True)
def hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingHasher]:
    cheap = CountingHasher()
    monkeypatch.setattr(hashing, "SECRET_HASHER", cheap)
    monkeypatch.setattr(api_keys, "_VERIFIED", api_keys._VerifiedTokens(capacity=16))
    yield cheap


@pytest.fixture
def book(engine: sa.Engine) -> sa.Engine:
    """A book with borrowers amy and bob."""
    initialise(engine, date(2026, 3, 1))
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "amy", 1_000_000)
        register_borrower(ctx, "bob", 1_000_000)
    return engine


def _key(engine: sa.Engine, provider: str = "weilidai") -> str:
    with engine.begin() as conn:
        return create_api_key(conn, provider, CATALOG)


def _authenticate(engine: sa.Engine, token: str) -> Principal | None:
    with engine.connect() as conn:
        return authenticate_api_key(conn, token, datetime.now(UTC))


def test_an_api_key_authenticates_as_its_provider_and_group(engine: sa.Engine) -> None:
    token = _key(engine, "weilidai")
    prefix, key_id, secret = token[:4], token[4:20], token[21:]
    assert (prefix, token[20], len(secret)) == ("clk_", "_", 43)
    assert _authenticate(engine, token) == Principal(
        role="provider", subject=key_id, provider="weilidai", lender_group="webank"
    )
    with engine.connect() as conn:
        (row,) = conn.execute(sa.select(api_keys_table)).mappings().all()
    assert row["key_id"] == key_id
    assert row["secret_hash"].startswith("$argon2id$")
    assert not any(secret in str(value) for value in row.values())


def test_each_key_is_new(engine: sa.Engine) -> None:
    first, second = _key(engine), _key(engine)
    assert first[4:20] != second[4:20]
    assert first[21:] != second[21:]


def test_an_unknown_provider_is_refused_and_nothing_is_written(engine: sa.Engine) -> None:
    before = dump(engine)
    with pytest.raises(InputError, match="provider: unknown provider 'nobank'") as caught:
        _key(engine, "nobank")
    assert caught.value.field == "provider"
    assert dump(engine) == before


def _wrong_secret(token: str) -> str:
    last = "A" if token[-1] != "A" else "B"
    return token[:-1] + last


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: "",
        lambda t: "Bearer " + t,
        lambda t: t[:-1],
        lambda t: t.replace("clk_", "clx_"),
        lambda t: "clk_" + "0" * 16 + t[20:],
        _wrong_secret,
    ],
    ids=["empty", "prefixed", "short", "wrong-scheme", "unknown-key", "wrong-secret"],
)
def test_a_token_that_is_not_exactly_the_key_is_refused(engine: sa.Engine, tamper: Any) -> None:
    token = _key(engine)
    assert _authenticate(engine, token) is not None
    assert _authenticate(engine, tamper(token)) is None


def test_a_revoked_key_is_refused_even_after_it_was_verified(engine: sa.Engine) -> None:
    token = _key(engine)
    assert _authenticate(engine, token) is not None
    with engine.begin() as conn:
        revoke_api_key(conn, token[4:20])
    assert _authenticate(engine, token) is None


def test_a_key_revoked_by_another_process_is_refused_at_once(engine: sa.Engine) -> None:
    """This process's cache knows the token; the revocation reaches only the database."""
    token = _key(engine)
    assert _authenticate(engine, token) is not None
    with engine.begin() as conn:
        conn.execute(sa.update(api_keys_table).values(revoked_at=NOW))
    assert _authenticate(engine, token) is None


def test_a_verified_token_is_not_checked_with_argon2_again(
    engine: sa.Engine, hasher: CountingHasher
) -> None:
    token = _key(engine)
    for _ in range(3):
        assert _authenticate(engine, token) is not None
    assert hasher.checks == 1
    assert _authenticate(engine, _wrong_secret(token)) is None
    assert _authenticate(engine, _wrong_secret(token)) is None
    assert hasher.checks == 3


def test_the_cache_holds_a_digest_of_the_token_never_the_token(engine: sa.Engine) -> None:
    token = _key(engine)
    assert _authenticate(engine, token) is not None
    assert list(api_keys._VERIFIED._entries) == [hashlib.sha256(token.encode()).hexdigest()]
    assert token[21:] not in repr(api_keys._VERIFIED._entries)


def test_the_cache_is_bounded(engine: sa.Engine, hasher: CountingHasher) -> None:
    tokens = [_key(engine) for _ in range(17)]
    for token in tokens:
        assert _authenticate(engine, token) is not None
    assert len(api_keys._VERIFIED._entries) == 16
    assert _authenticate(engine, tokens[0]) is not None
    assert hasher.checks == 18


def test_revoking_an_unknown_key_names_the_key_id(engine: sa.Engine) -> None:
    with pytest.raises(InputError, match="key_id: no API key 'feed'"), engine.begin() as conn:
        revoke_api_key(conn, "feed")


def _session(engine: sa.Engine, login: str, password: str, now: datetime = NOW) -> str | None:
    with engine.begin() as conn:
        return log_in(conn, login, password, now)


def _who(engine: sa.Engine, token: str, now: datetime) -> Principal | None:
    with engine.connect() as conn:
        return authenticate_session(conn, token, now)


def test_a_borrower_logs_in_as_the_borrower_it_is(book: sa.Engine) -> None:
    with book.begin() as conn:
        create_user(conn, "amy@example.com", PASSWORD, "borrower", borrower_id="amy")
    token = _session(book, "amy@example.com", PASSWORD)
    assert token is not None
    assert _who(book, token, NOW + timedelta(hours=1)) == Principal(
        role="borrower", subject="amy@example.com", borrower_id="amy"
    )
    with book.connect() as conn:
        stored = conn.execute(sa.select(sessions.c.token_hash)).scalar_one()
        password_hash = conn.execute(sa.select(users.c.password_hash)).scalar_one()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash


@pytest.mark.parametrize("role", ["operator", "risk_admin"])
def test_console_users_are_bound_to_their_group(book: sa.Engine, role: str) -> None:
    with book.begin() as conn:
        create_user(conn, "li.wei", PASSWORD, role, lender_group="ant")
    token = _session(book, "li.wei", PASSWORD)
    assert token is not None
    assert _who(book, token, NOW) == Principal(role=role, subject="li.wei", lender_group="ant")


def test_a_session_lasts_twelve_hours(book: sa.Engine) -> None:
    with book.begin() as conn:
        create_user(conn, "amy", PASSWORD, "borrower", borrower_id="amy")
    token = _session(book, "amy", PASSWORD)
    assert token is not None
    assert _who(book, token, NOW + timedelta(hours=12, microseconds=-1)) is not None
    assert _who(book, token, NOW + timedelta(hours=12)) is None


def test_a_session_is_judged_by_the_instant_not_the_zone(book: sa.Engine) -> None:
    with book.begin() as conn:
        create_user(conn, "amy", PASSWORD, "borrower", borrower_id="amy")
    beijing = NOW.astimezone(ZoneInfo("Asia/Shanghai"))
    token = _session(book, "amy", PASSWORD, beijing)
    assert token is not None
    assert _who(book, token, NOW + timedelta(hours=11)) is not None
    assert _who(book, token, NOW + timedelta(hours=12)) is None


def test_a_naive_clock_is_refused(book: sa.Engine) -> None:
    with pytest.raises(ValueError, match="now: expected a timezone-aware datetime"):
        _session(book, "amy", PASSWORD, datetime(2026, 3, 2, 9, 30))


def test_logging_out_ends_the_session_only(book: sa.Engine) -> None:
    with book.begin() as conn:
        create_user(conn, "amy", PASSWORD, "borrower", borrower_id="amy")
    first, second = _session(book, "amy", PASSWORD), _session(book, "amy", PASSWORD)
    assert first is not None and second is not None and first != second
    with book.begin() as conn:
        log_out(conn, first)
        log_out(conn, first)
    assert _who(book, first, NOW) is None
    assert _who(book, second, NOW) is not None


def test_an_unknown_token_is_no_session(book: sa.Engine) -> None:
    assert _who(book, "not-a-token", NOW) is None


def test_an_unknown_login_and_a_wrong_password_look_the_same(
    book: sa.Engine, hasher: CountingHasher
) -> None:
    """Same answer and the same work (one argon2 check), so timing tells nothing either."""
    with book.begin() as conn:
        create_user(conn, "amy", PASSWORD, "borrower", borrower_id="amy")
    before = dump(book)
    checks = hasher.checks
    assert _session(book, "amy", "wrong password") is None
    assert hasher.checks == checks + 1
    assert _session(book, "nobody", PASSWORD) is None
    assert hasher.checks == checks + 2
    after = dump(book)
    # Each counts as one failure towards the throttle, and nothing else is written.
    failures = sorted(row[1] for row in after.pop("auth_failures"))
    assert failures == ["login:amy", "login:nobody"]
    before.pop("auth_failures")
    assert after == before


def _fail(engine: sa.Engine, login: str, times: int, now: datetime = NOW) -> None:
    for _ in range(times):
        assert _session(engine, login, "wrong password", now) is None


def test_after_five_wrong_passwords_a_login_waits_without_a_check(
    book: sa.Engine, hasher: CountingHasher
) -> None:
    with book.begin() as conn:
        create_user(conn, "amy", PASSWORD, "borrower", borrower_id="amy")
    _fail(book, "amy", MAX_FAILURES)
    checks = hasher.checks
    with pytest.raises(TooManyAttemptsError) as throttled:
        _session(book, "amy", PASSWORD, NOW + timedelta(minutes=1))
    assert hasher.checks == checks, "no argon2 check once throttled"
    # The five failures all happened at NOW; the first leaves the window 15 minutes on.
    assert throttled.value.retry_after == 14 * 60 + 1
    assert throttled.value.code == "too_many_attempts"
    assert _session(book, "amy", PASSWORD, NOW + WINDOW + timedelta(seconds=1)) is not None


def test_a_right_password_clears_the_failures_before_the_limit(book: sa.Engine) -> None:
    with book.begin() as conn:
        create_user(conn, "amy", PASSWORD, "borrower", borrower_id="amy")
    _fail(book, "amy", MAX_FAILURES - 1)
    assert _session(book, "amy", PASSWORD) is not None
    _fail(book, "amy", MAX_FAILURES - 1)
    assert _session(book, "amy", PASSWORD) is not None


def test_unknown_logins_are_throttled_alike_and_apart_from_others(book: sa.Engine) -> None:
    with book.begin() as conn:
        create_user(conn, "amy", PASSWORD, "borrower", borrower_id="amy")
    _fail(book, "nobody", MAX_FAILURES)
    with pytest.raises(TooManyAttemptsError):
        _session(book, "nobody", PASSWORD)
    assert _session(book, "amy", PASSWORD) is not None


def test_a_log_in_deletes_expired_sessions_only(book: sa.Engine) -> None:
    with book.begin() as conn:
        create_user(conn, "amy", PASSWORD, "borrower", borrower_id="amy")
        create_user(conn, "bob", PASSWORD, "borrower", borrower_id="bob")
    old = _session(book, "amy", PASSWORD, NOW)
    live = _session(book, "amy", PASSWORD, NOW + timedelta(hours=6))
    later = NOW + timedelta(hours=13)
    assert old is not None and live is not None
    assert _session(book, "bob", PASSWORD, later) is not None
    with book.connect() as conn:
        stored = set(conn.execute(sa.select(sessions.c.token_hash)).scalars())
    assert hashing.token_digest(old) not in stored
    assert hashing.token_digest(live) in stored
    assert len(stored) == 2


def test_wrong_secrets_for_a_real_key_are_throttled_without_argon2(
    engine: sa.Engine, hasher: CountingHasher
) -> None:
    token = _key(engine)
    for _ in range(MAX_FAILURES):
        with engine.begin() as conn:
            assert authenticate_api_key(conn, _wrong_secret(token), NOW) is None
    checks = hasher.checks
    with engine.begin() as conn, pytest.raises(TooManyAttemptsError):
        authenticate_api_key(conn, token, NOW)
    assert hasher.checks == checks
    with engine.begin() as conn:
        assert authenticate_api_key(conn, token, NOW + WINDOW + timedelta(seconds=1)) is not None


def test_a_password_hashed_with_old_parameters_is_rehashed_at_log_in(
    book: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with book.begin() as conn:
        create_user(conn, "amy", PASSWORD, "borrower", borrower_id="amy")
    monkeypatch.setattr(hashing, "SECRET_HASHER", CountingHasher(time_cost=2))
    assert _session(book, "amy", PASSWORD) is not None
    with book.connect() as conn:
        stored = conn.execute(sa.select(users.c.password_hash)).scalar_one()
    assert ",t=2," in stored
    assert _session(book, "amy", PASSWORD) is not None


def test_production_hashes_use_argon2id_defaults(
    book: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "SECRET_HASHER", PRODUCTION_HASHER)
    with book.begin() as conn:
        create_user(conn, "amy", PASSWORD, "borrower", borrower_id="amy")
        stored = conn.execute(sa.select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


BAD_USERS = [
    (
        "short",
        {"login": "amy", "password": "123456789", "role": "borrower", "borrower_id": "amy"},
        "password",
    ),
    ("login-space", {"login": "a b", "role": "borrower", "borrower_id": "amy"}, "login"),
    ("login-short", {"login": "ab", "role": "borrower", "borrower_id": "amy"}, "login"),
    ("login-taken", {"login": "taken", "role": "borrower", "borrower_id": "bob"}, "login"),
    ("role-unknown", {"login": "amy", "role": "admin", "lender_group": "ant"}, "role"),
    ("role-provider", {"login": "amy", "role": "provider", "lender_group": "ant"}, "role"),
    ("borrower-missing", {"login": "amy", "role": "borrower"}, "borrower_id"),
    ("borrower-unknown", {"login": "amy", "role": "borrower", "borrower_id": "zed"}, "borrower_id"),
    (
        "borrower-group",
        {"login": "amy", "role": "borrower", "borrower_id": "amy", "lender_group": "ant"},
        "lender_group",
    ),
    ("group-missing", {"login": "li.wei", "role": "operator"}, "lender_group"),
    (
        "group-unknown",
        {"login": "lil", "role": "risk_admin", "lender_group": "huabei"},
        "lender_group",
    ),
    (
        "operator-borrower",
        {"login": "lil", "role": "operator", "lender_group": "ant", "borrower_id": "amy"},
        "borrower_id",
    ),
]


@pytest.mark.parametrize(
    ("args", "field"), [(a, f) for _, a, f in BAD_USERS], ids=[i for i, _, _ in BAD_USERS]
)
def test_a_bad_user_is_refused_naming_the_field_and_nothing_is_written(
    book: sa.Engine, args: dict[str, Any], field: str
) -> None:
    with book.begin() as conn:
        create_user(conn, "taken", PASSWORD, "borrower", borrower_id="amy")
    before = dump(book)
    arguments = {"password": PASSWORD, **args}
    with pytest.raises(InputError, match=f"^{field}: ") as caught, book.begin() as conn:
        create_user(
            conn,
            arguments.pop("login"),
            arguments.pop("password"),
            arguments.pop("role"),
            **arguments,
        )
    assert caught.value.field == field
    assert dump(book) == before
