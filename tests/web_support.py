"""What the portal and console tests share: a small book with every kind of row the
pages show, the people who log in to it, the app over it in process or on a live port,
and Chromium driven by Playwright.

The book is built once per test module by the scenario runner (the real engine, day
by day) into a SQLite file; a test that writes gets its own copy of the file.

Ning holds Huabei (ant) and Weilidai (webank). Her first Huabei bill (1 April, due 10
April) is paid on 20 April, ten days late, so ant paused and later reviewed Huabei;
Weilidai's installments are paid on time. A second Huabei purchase falls due on 10 May.
The April month-end was reported, and on 2 May she disputed Huabei's April record, so
ant's dispute queue holds one case. Bohai holds Weilidai only: he is the other borrower
whom Ning must not see.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient

from crossline.api import create_app
from crossline.scenario.runner import run_scenario
from crossline.scenario.spec import parse_scenario
from crossline.security import create_user, log_in
from crossline.security.identities import save_identity
from crossline.security.pii import PiiCipher
from crossline.store.engine import make_engine
from tests.api_support import PASSWORD, cheap_secret_hashing

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "test-artefacts" / "screenshots"
"""Where browser tests leave their screenshots (``build/`` is not committed)."""
PII_KEY = bytes(range(32))
TODAY = date(2026, 5, 3)
"""The book's business date once built: the first day not yet closed."""

BOOK: dict[str, Any] = {
    "start": "2026-03-02",
    "catalog": "default",
    "borrowers": [
        {"id": "ning", "monthly_income": "8000.00"},
        {"id": "bohai", "monthly_income": "6000.00"},
    ],
    "steps": [
        {"date": "2026-03-02", "apply": {"borrower": "ning", "product": "huabei"}},
        {"date": "2026-03-02", "apply": {"borrower": "ning", "product": "weilidai"}},
        {"date": "2026-03-02", "apply": {"borrower": "bohai", "product": "weilidai"}},
        {
            "date": "2026-03-05",
            "purchase": {"borrower": "ning", "product": "huabei", "amount": "1000.00"},
        },
        {
            "date": "2026-03-06",
            "draw": {
                "borrower": "ning",
                "product": "weilidai",
                "amount": "3000.00",
                "term_months": 5,
                "method": "equal_principal",
            },
        },
        {
            "date": "2026-03-06",
            "draw": {
                "borrower": "bohai",
                "product": "weilidai",
                "amount": "2000.00",
                "term_months": 5,
                "method": "equal_principal",
            },
        },
        {
            "date": "2026-04-06",
            "repay": {"borrower": "ning", "product": "weilidai", "amount": "all_due"},
        },
        {
            "date": "2026-04-06",
            "repay": {"borrower": "bohai", "product": "weilidai", "amount": "all_due"},
        },
        {
            "date": "2026-04-20",
            "repay": {"borrower": "ning", "product": "huabei", "amount": "all_due"},
        },
        {
            "date": "2026-04-25",
            "purchase": {"borrower": "ning", "product": "huabei", "amount": "600.00"},
        },
        {
            "date": "2026-05-02",
            "dispute": {
                "borrower": "ning",
                "product": "huabei",
                "month": "2026-04",
                "claim": "I paid on time; the bank transfer was delayed",
            },
        },
    ],
    "end": "2026-05-02",
}

STAFF = (
    ("olga", "operator", "ant"),
    ("rita", "risk_admin", "ant"),
    ("wendy", "operator", "webank"),
)
"""Console users: ant's operator and risk admin, and webank's operator."""


def build_book(path: Path) -> None:
    """Run ``BOOK`` into a new SQLite file at ``path`` and add the people who log in."""
    engine = make_engine(f"sqlite:///{path}")
    try:
        outcome = run_scenario(parse_scenario(BOOK), engine)
        assert outcome["ledger"]["balanced"], outcome["ledger"]
        refused = [event for event in outcome["events"] if event.get("ok") is False]
        assert refused == [], refused
        with engine.begin() as conn:
            save_identity(
                conn,
                PiiCipher(PII_KEY),
                "ning",
                name="Li Ning",
                national_id="11010519491231002X",
                phone="13800138000",
            )
            for borrower in ("ning", "bohai"):
                create_user(conn, borrower, PASSWORD, "borrower", borrower_id=borrower)
            for login, role, group in STAFF:
                create_user(conn, login, PASSWORD, role, lender_group=group)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def book_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book, built once per module (with the tests' cheap password hashing)."""
    path = tmp_path_factory.mktemp("web") / "book.db"
    with pytest.MonkeyPatch.context() as patch:
        cheap_secret_hashing(patch)
        build_book(path)
    return path


@pytest.fixture
def site_engine(book_file: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    """This test's own copy of the book."""
    path = tmp_path / "book.db"
    shutil.copy(book_file, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@dataclass
class Site:
    """The app over a copy of the book, driven in process."""

    client: TestClient
    engine: sa.Engine

    def log_in(self, login: str) -> None:
        """Log in through the page's form, as a browser would; the cookie is kept."""
        answer = self.client.post(
            "/login", data={"login": login, "password": PASSWORD}, follow_redirects=False
        )
        assert answer.status_code == 303, answer.text

    def csrf(self, path: str) -> str:
        """The CSRF token the forms of ``path`` carry."""
        text = self.client.get(path).text
        marker = 'name="csrf" value="'
        start = text.index(marker) + len(marker)
        return text[start : text.index('"', start)]


@pytest.fixture
def site(site_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    cheap_secret_hashing(monkeypatch)
    app = create_app(site_engine, PiiCipher(PII_KEY), handle_events=False)
    with TestClient(app, base_url="http://testserver") as client:
        yield Site(client, site_engine)


def session_token(engine: sa.Engine, login: str) -> str:
    """A session for ``login``, made directly (for tests that set the cookie themselves)."""
    with engine.begin() as conn:
        token = log_in(conn, login, PASSWORD, datetime.now(UTC))
    assert token is not None
    return token


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def live_site(site_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app served by uvicorn on a free local port, with its outbox worker: the base
    URL a browser opens."""
    cheap_secret_hashing(monkeypatch)
    port = _free_port()
    config = uvicorn.Config(
        create_app(site_engine, PiiCipher(PII_KEY)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@dataclass
class Browser:
    """A Chromium page and everything its pages logged as errors."""

    page: Any
    errors: list[str]
    base: str

    def log_in(self, login: str) -> None:
        self.page.goto(f"{self.base}/login")
        self.page.fill("input[name=login]", login)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("load")

    def screenshot(self, name: str) -> Path:
        """Save the whole page as a test artefact and return where."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def browser(live_site: str) -> Iterator[Browser]:
    """Debian's Chromium (Playwright's own download is not used), headless, with every
    console error and page error collected for the test to assert none happened."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"the browser tests need Chromium at {CHROMIUM} (make test)"
    errors: list[str] = []
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking"],
        )
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield Browser(page, errors, live_site)
        finally:
            chromium.close()
