"""`crossline access` and `crossline audit verify`: keys, users and the PII key from the shell."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from argon2 import PasswordHasher
from typer.testing import CliRunner

from crossline.catalog import catalog_to_json, load_catalog
from crossline.cli import app
from crossline.security import hashing
from crossline.security.api_keys import authenticate_api_key
from crossline.security.pii import PiiCipher
from crossline.security.principals import Principal
from crossline.security.sessions import log_in
from crossline.servicing.context import open_context
from crossline.servicing.lines import register_borrower
from crossline.store import platform
from crossline.store.engine import _alembic_config, make_engine
from crossline.store.schema import audit_log
from tests.conftest import initialise
from tests.helpers import dump

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at test parameters (the defaults cost up to a second a hash on CI)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(hashing, "SECRET_HASHER", cheap)


@pytest.fixture
def book(engine: sa.Engine) -> sa.Engine:
    initialise(engine, date(2026, 3, 1))
    with engine.begin() as conn:
        register_borrower(open_context(conn), "amy", 1_000_000)
    return engine


def _invoke(*args: str, env: dict[str, str | None] | None = None, stdin: str = "") -> Any:
    runner = CliRunner()
    return runner.invoke(app, list(args), env={"COLUMNS": "400", **(env or {})}, input=stdin)


def _audit(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.role, audit_log.c.action, audit_log.c.target).order_by(
                audit_log.c.seq
            )
        )
        return [tuple(r) for r in rows]


def test_a_key_is_printed_once_works_and_is_audited(book: sa.Engine, database_url: str) -> None:
    result = _invoke("access", "key", "--provider", "huabei", "--database", database_url)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    key_id = token[4:20]
    with book.connect() as conn:
        assert authenticate_api_key(conn, token, datetime.now(UTC)) == Principal(
            role="provider", subject=key_id, provider="huabei", lender_group="ant"
        )
    assert _audit(book) == [("cli", "api_key.create", key_id)]


def test_an_unknown_provider_exits_2_naming_it_and_writes_nothing(
    book: sa.Engine, database_url: str
) -> None:
    before = dump(book)
    result = _invoke("access", "key", "--provider", "ant", "--database", database_url)
    assert result.exit_code == 2
    assert "provider: unknown provider 'ant'" in result.output
    assert dump(book) == before


def test_a_revoked_key_stops_working(book: sa.Engine, database_url: str) -> None:
    token = _invoke("access", "key", "--provider", "fenqile", "--database", database_url)
    token = token.stdout.strip()
    result = _invoke("access", "revoke", token[4:20], "--database", database_url)
    assert result.exit_code == 0, result.output
    with book.connect() as conn:
        assert authenticate_api_key(conn, token, datetime.now(UTC)) is None
    assert [a for _, a, _ in _audit(book)] == ["api_key.create", "api_key.revoke"]


def test_revoking_an_unknown_key_exits_2(book: sa.Engine, database_url: str) -> None:
    before = dump(book)
    result = _invoke("access", "revoke", "0123456789abcdef", "--database", database_url)
    assert result.exit_code == 2
    assert "key_id: no API key '0123456789abcdef'" in result.output
    assert dump(book) == before


def _can_log_in(engine: sa.Engine, login: str, password: str) -> bool:
    with engine.begin() as conn:
        return log_in(conn, login, password, NOW) is not None


def test_a_user_takes_the_password_from_the_environment(book: sa.Engine, database_url: str) -> None:
    result = _invoke(
        "access", "user", "--login", "amy", "--role", "borrower", "--borrower", "amy",
        "--database", database_url,
        env={"CROSSLINE_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _can_log_in(book, "amy", PASSWORD)
    assert _audit(book) == [("cli", "user.create", "amy")]


def test_a_user_takes_the_password_from_a_hidden_prompt(book: sa.Engine, database_url: str) -> None:
    result = _invoke(
        "access", "user", "--login", "li.wei", "--role", "risk_admin", "--group", "webank",
        "--database", database_url,
        env={"CROSSLINE_PASSWORD": None},
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert _can_log_in(book, "li.wei", PASSWORD)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--role", "borrower", "--borrower", "zed"), "borrower_id: 'zed' is not registered"),
        (("--role", "operator"), "lender_group: console users need the lender group"),
        (("--role", "operator", "--group", "nobank"), "lender_group: unknown group 'nobank'"),
        (("--role", "boss", "--group", "ant"), "role: expected one of"),
    ],
)
def test_a_bad_user_exits_2_naming_the_field_and_writes_nothing(
    book: sa.Engine, database_url: str, args: tuple[str, ...], message: str
) -> None:
    before = dump(book)
    result = _invoke(
        "access", "user", "--login", "amy", *args, "--database", database_url,
        env={"CROSSLINE_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.exit_code == 2
    assert message in result.output
    assert dump(book) == before


def test_a_short_password_exits_2(book: sa.Engine, database_url: str) -> None:
    before = dump(book)
    result = _invoke(
        "access", "user", "--login", "amy", "--role", "borrower", "--borrower", "amy",
        "--database", database_url,
        env={"CROSSLINE_PASSWORD": "short"},
    )  # fmt: skip
    assert result.exit_code == 2
    assert "password: expected at least 10 characters" in result.output
    assert dump(book) == before


def test_pii_key_prints_a_key_the_cipher_takes() -> None:
    result = _invoke("access", "pii-key")
    assert result.exit_code == 0
    cipher = PiiCipher.from_env({"CROSSLINE_PII_KEY": result.stdout.strip()})
    assert cipher.decrypt(cipher.encrypt("王小美")) == "王小美"


def test_audit_verify_reports_an_intact_log(book: sa.Engine, database_url: str) -> None:
    _invoke("access", "key", "--provider", "huabei", "--database", database_url)
    _invoke("access", "key", "--provider", "jiebei", "--database", database_url)
    result = _invoke("audit", "verify", "--database", database_url)
    assert result.exit_code == 0, result.output
    assert result.stdout == "audit log intact: 2 entries\n"


def test_audit_verify_exits_1_naming_the_first_bad_entry(
    book: sa.Engine, database_url: str
) -> None:
    for provider in ("huabei", "jiebei", "weilidai"):
        _invoke("access", "key", "--provider", provider, "--database", database_url)
    with book.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 2).values(actor="nobody"))
    result = _invoke("audit", "verify", "--database", database_url)
    assert result.exit_code == 1
    assert "audit log damaged at seq 2: seq 2 does not match its hash (edited)" in result.output


def test_a_book_made_before_the_security_tables_gets_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    command.upgrade(_alembic_config(engine), "0007")
    with engine.begin() as conn:
        platform.initialise(
            conn,
            business_date=date(2026, 3, 1),
            catalog_json=catalog_to_json(load_catalog("default")),
        )
    engine.dispose()
    assert _invoke("audit", "verify", "--database", url).exit_code == 2
    assert _invoke("access", "key", "--provider", "huabei", "--database", url).exit_code == 0
    result = _invoke("audit", "verify", "--database", url)
    assert result.stdout == "audit log intact: 1 entries\n"


def test_access_refuses_a_database_that_is_not_there(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    result = _invoke("access", "key", "--provider", "huabei", "--database", url)
    assert result.exit_code == 2
    assert "database: no database at" in result.output
    assert not (tmp_path / "missing.db").exists()
