"""HTTP API benchmark: a mixed load on ``crossline serve`` from another process, on loopback.

Usage::

    python benchmarks/api.py [--database URL] [--borrowers 2000] [--requests 20000]
        [--seconds 60] [--concurrency 32] [--workers 2] [--seed 7]

The server is the one operators run: ``crossline serve --workers W`` on
PostgreSQL (a fresh ``crossline_bench_api`` database on the local server,
created and dropped by this script, unless ``--database`` names an empty one),
with its access log, its audit log and its outbox worker, started as a
subprocess with a ``CROSSLINE_PII_KEY`` made for the run.

Setup, not timed, through the services the API calls (the HTTP path is what is
measured, not how fast the book is filled): ``crossline init``; ``--borrowers``
registered with an encrypted identity each; one API key per catalog provider;
half of the borrowers hold a line opened by an approved application and owe
on it (a Huabei purchase, or a Jiebei or Weilidai cash loan); their events
are handled and every borrower is scored in every group's view, as the last
close would have left them (so an application serves the stored view, as in
production, rather than rebuilding it), then ``VACUUM ANALYZE`` runs, as
autovacuum would have after the bulk writes.

The load is one ``aiohttp.ClientSession`` (HTTP/1.1 keep-alive,
``--concurrency`` requests in flight, each client task sending its next request
when its last one is answered) running a plan drawn with ``--seed``. It was an
``httpx.AsyncClient``, which spent 2.8 ms of CPU per request on this machine
against aiohttp's 0.2 ms: on two cores shared with the server and PostgreSQL,
the client took a fifth of the machine from what it measured.

* 10% ``POST /v1/applications``: a borrower applies for a product they never
  applied for (the group's view, the bureau inquiry, the score, the policy,
  the stored decision, the line if approved);
* 20% ``POST /v1/repayments`` with a fresh ``Idempotency-Key``: a line holder
  repays between 1 and 30 yuan, never more than they owe;
* 70% reads of a line holder, a third each: ``GET /v1/borrowers/{id}/lines``
  (the snapshot of loans, schedules and statements), ``…/scores`` and
  ``…/decisions``.

Each request is sent with the key of the provider of the product concerned, so
every one of them is allowed. Before the timing, every key is sent on every
connection once (``GET /v1/business-date``, so that each server process checks
each key's argon2 hash before the clock starts, as a long-running server
has) and a read of each kind warms the processes up; none of it is counted.
The load stops after ``--requests`` requests or ``--seconds`` seconds,
whichever comes first.

Figures, one JSON line on stdout (progress to stderr): ``requests``,
``seconds`` (wall, first request sent to last answer), ``requests_per_second``,
``p50_ms`` / ``p99_ms`` / ``max_ms`` (each request's time as the client saw it,
sent to answered), ``errors`` (any answer that is not 2xx, or no answer; the
first few are printed), ``by_kind`` (count, p50 and p99 per kind),
``application_outcomes``, ``cpu_seconds`` spent during the timed load by the
client, the server's processes and PostgreSQL's (on 2 cores all three share
them), the 1-minute load average before it, and ``ledger_balanced``
(``ledger check`` once the server has stopped). Goal (issue 6): ≥ 1,000
requests a second with p99 ≤ 50 ms on 2 cores, no errors, the ledger
balanced. Exits 1 on any error or an unbalanced ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from book import as_autovacuum_leaves_it
from crossline.catalog import load_catalog
from crossline.commands import run_command
from crossline.events.handlers import handle_pending
from crossline.ledger.check import check_ledger
from crossline.money import format_fen
from crossline.scenario.spec import Apply, Draw, Purchase
from crossline.scoring.service import rescore
from crossline.security import create_api_key, save_identity
from crossline.security.national_ids import check_character
from crossline.security.pii import KEY_VARIABLE, PiiCipher, generate_key
from crossline.servicing.context import open_context
from crossline.servicing.lines import register_borrower
from crossline.store.engine import make_engine
from crossline.store.schema import SHARDS, outbox

DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/crossline_bench_api"
START = date(2026, 3, 2)
HOLDINGS: dict[str, Draw | Purchase] = {
    "huabei": Purchase(borrower="-", product="huabei", amount="2000.00"),
    "jiebei": Draw(
        borrower="-", product="jiebei", amount="3000.00", term_months=12, method="equal_installment"
    ),
    "weilidai": Draw(
        borrower="-", product="weilidai", amount="3000.00", term_months=10, method="equal_principal"
    ),
}
"""What a line holder owes, per product: a revolving purchase or a cash loan (the
borrower field is filled in per holder)."""
MIX: dict[str, float] = {"application": 0.10, "repayment": 0.20, "read": 0.70}
READS = ("lines", "scores", "decisions")
REPAYMENT_FEN = (100, 3_000)
"""Each repayment is 1 to 30 yuan."""
ERRORS_SHOWN = 5
HANDLE_EVERY = 100
"""Setup handles its events every so many lines, as the server's outbox worker would:
an application reads the outbox for its group's view, so a backlog slows each one."""
READY_SECONDS = 120.0
"""How long the server may take to start (its workers import the whole book's code)."""


def log(message: str) -> None:
    """Progress to stderr, so that stdout carries only the JSON figure."""
    print(f"[api-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _percentile(sorted_values: Sequence[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * share))]


# --------------------------------------------------------------------------- the database


def _admin_conninfo(url: URL) -> str:
    """libpq parameters for the server's maintenance database (where CREATE DATABASE runs)."""
    parts = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "password": url.password,
        "dbname": "postgres",
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


@contextmanager
def fresh_database(url: str) -> Iterator[None]:
    """An empty PostgreSQL database at ``url`` for the run, dropped afterwards."""
    parsed = make_url(url)
    name = parsed.database
    assert name is not None and name.isidentifier(), f"database name {name!r}"
    with psycopg.connect(_admin_conninfo(parsed), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield
    finally:
        with psycopg.connect(_admin_conninfo(parsed), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- the book


def national_id(n: int) -> str:
    """A distinct, well-formed national ID per ``n``: a Beijing region code, a birth date
    and a sequence number, then the GB 11643 check character (the API refuses any other)."""
    born = date(1970, 1, 1) + timedelta(days=n // 1_000)
    first17 = f"110101{born:%Y%m%d}{n % 1_000:03d}"
    return first17 + check_character(first17)


@dataclass(frozen=True, slots=True)
class Book:
    """What the load needs to know about the book: who holds what, and the keys."""

    borrowers: list[str]
    holdings: dict[str, str]
    """borrower → the product of the line they hold."""
    tokens: dict[str, str]
    """provider → API key token."""
    provider_of: dict[str, str]
    """product → its provider."""


def build_book(url: str, people: int, cipher: PiiCipher, seed: int) -> Book:
    """Initialise, register, give keys and open lines (see the module docstring)."""
    started = time.perf_counter()
    init = ["init", "--start", START.isoformat(), "--database", url]
    subprocess.run(
        [sys.executable, "-m", "crossline", *init],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    catalog = load_catalog("default")
    ids = [f"b{n:07d}" for n in range(people)]
    engine = make_engine(url)
    with engine.begin() as conn:
        ctx = open_context(conn)
        for n, borrower in enumerate(ids):
            register_borrower(ctx, borrower, 600_000 + (n % 50) * 20_000)
            save_identity(
                conn,
                cipher,
                borrower,
                name=f"Borrower {n}",
                national_id=national_id(n),
                phone=f"13{n:09d}",
            )
        tokens = {p.id: create_api_key(conn, p.id, catalog) for p in catalog.providers}
    log(f"{people:,} borrowers registered, {len(tokens)} API keys made")
    products = list(HOLDINGS)
    holders = random.Random(seed).sample(ids, people // 2)
    holdings = {borrower: products[n % len(products)] for n, borrower in enumerate(holders)}
    for n, (borrower, product) in enumerate(holdings.items()):
        with engine.begin() as conn:
            ctx = open_context(conn)
            decided, _ = run_command(ctx, Apply(borrower=borrower, product=product))
            if decided["status"] != "approved":
                raise SystemExit(f"setup: {borrower}'s {product} application was {decided}")
            spend = HOLDINGS[product].model_copy(update={"borrower": borrower})
            spent, _ = run_command(ctx, spend, f"setup-{borrower}")
            if not spent.get("ok", True):
                raise SystemExit(f"setup: {borrower}'s {product} spend was refused: {spent}")
        if (n + 1) % HANDLE_EVERY == 0:
            while handle_pending(engine):
                pass
        if (n + 1) % 500 == 0:
            log(f"{n + 1:,} lines opened and drawn on")
    while handle_pending(engine):
        pass
    with engine.begin() as conn:
        scored = rescore(conn, START, "eod", shards=(0, SHARDS)).height
    as_autovacuum_leaves_it(engine)
    engine.dispose()
    log(f"{scored:,} borrower views scored and stored, as the last close leaves them")
    log(f"book ready in {time.perf_counter() - started:.1f}s: {len(holdings):,} lines owing")
    return Book(ids, holdings, tokens, {p.id: p.provider for p in catalog.products})


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class Call:
    """One request of the plan."""

    kind: str
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _read(book: Book, kind: str, borrower: str) -> Call:
    token = book.tokens[book.provider_of[book.holdings[borrower]]]
    return Call(kind, "GET", f"/v1/borrowers/{borrower}/{kind}", _bearer(token))


def plan(book: Book, count: int, seed: int) -> list[Call]:
    """``count`` calls in the ``MIX``: applications for pairs never applied for, each
    once; repayments that never add up to more than a holder owes; reads of holders.
    A kind with nothing left to do (every pair applied for, every debt repaid) gives
    its turn to a read, so the plan always has ``count`` calls."""
    rng = random.Random(seed)
    holders = sorted(book.holdings)
    pairs = [
        (borrower, product)
        for borrower in book.borrowers
        for product in book.provider_of
        if book.holdings.get(borrower) != product
    ]
    rng.shuffle(pairs)
    unpaid = {borrower: HOLDINGS[book.holdings[borrower]].amount for borrower in holders}
    kinds, weights = list(MIX), list(MIX.values())
    calls: list[Call] = []
    for n in range(count):
        kind = rng.choices(kinds, weights)[0]
        if kind == "application" and pairs:
            borrower, product = pairs.pop()
            token = book.tokens[book.provider_of[product]]
            body = {"borrower": borrower, "product": product}
            calls.append(Call(kind, "POST", "/v1/applications", _bearer(token), body))
            continue
        borrower = rng.choice(holders)
        if kind == "repayment":
            fen = rng.randint(*REPAYMENT_FEN)
            if fen < unpaid[borrower]:
                unpaid[borrower] -= fen
                product = book.holdings[borrower]
                headers = _bearer(book.tokens[book.provider_of[product]])
                headers["Idempotency-Key"] = f"bench-{seed}-{n}"
                body = {"borrower": borrower, "product": product, "amount": format_fen(fen)}
                calls.append(Call(kind, "POST", "/v1/repayments", headers, body))
                continue
        calls.append(_read(book, rng.choice(READS), borrower))
    return calls


def warm_up_calls(book: Book, connections: int) -> list[Call]:
    """Each key on every connection, then a read of each kind per key."""
    calls = [
        Call("warm-up", "GET", "/v1/business-date", _bearer(token))
        for token in book.tokens.values()
        for _ in range(connections)
    ]
    for product in sorted(set(book.holdings.values())):
        holder = next(b for b, p in sorted(book.holdings.items()) if p == product)
        calls += [_read(book, kind, holder) for kind in READS]
    return calls


# --------------------------------------------------------------------------- the load


@dataclass
class Load:
    """What the client saw: each answered request's kind and seconds, and the errors."""

    timings: list[tuple[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unanswered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


async def _send(
    client: aiohttp.ClientSession, calls: Iterable[Call], deadline: float, load: Load
) -> None:
    """Send calls from the shared iterator one at a time until it is empty or time is up."""
    for call in calls:
        if time.perf_counter() >= deadline:
            return
        began = time.perf_counter()
        try:
            async with client.request(
                call.method, call.path, headers=call.headers, json=call.body
            ) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            load.errors.append(f"{call.method} {call.path}: no answer ({exc!r})")
            load.unanswered += 1
            continue
        load.timings.append((call.kind, time.perf_counter() - began))
        if not response.ok:
            load.errors.append(f"{call.method} {call.path}: {response.status} {body!r}")
        elif call.kind == "application":
            load.outcomes[json.loads(body)["status"]] += 1
        done = len(load.timings)
        if done % 5_000 == 0:
            log(f"{done:,} answered")


async def _run(base_url: str, calls: list[Call], concurrency: int, seconds: float) -> Load:
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30.0)
    load = Load()
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as client:
        shared = iter(calls)  # every task takes its next call from here: each is sent once
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_send(client, shared, deadline, load) for _ in range(concurrency)))
        load.seconds = time.perf_counter() - started
    return load


def run_load(base_url: str, calls: list[Call], concurrency: int, seconds: float) -> Load:
    return asyncio.run(_run(base_url, calls, concurrency, seconds))


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server(url: str, workers: int, pii_key: str, log_path: Path) -> Iterator[tuple[str, int]]:
    """``crossline serve`` on a free loopback port; yields (base URL, pid), stopped after."""
    port = _free_port()
    command = [sys.executable, "-m", "crossline", "serve", "--database", url]
    command += ["--port", str(port), "--workers", str(workers)]
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=os.environ | {KEY_VARIABLE: pii_key},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_ready(base_url: str, token: str, pid: int, log_path: Path) -> None:
    """Poll ``GET /v1/business-date`` (it needs a credential) until the server answers."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            break
        try:
            if httpx.get(f"{base_url}/v1/business-date", headers=_bearer(token)).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    tail = log_path.read_text(errors="replace")[-3_000:]
    raise SystemExit(f"the server did not come up; its log ends:\n{tail}")


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU time so far of this process, the server's processes, and PostgreSQL's."""

    def used(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
        except psutil.Error:  # ended since it was listed
            return 0.0
        return float(times.user + times.system)

    root = psutil.Process(server_pid)
    postgres = [
        p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")
    ]
    return {
        "client": used(psutil.Process()),
        "server": used(root) + sum(used(child) for child in root.children(recursive=True)),
        "postgres": sum(used(p) for p in postgres),
    }


# --------------------------------------------------------------------------- figures


def figures(load: Load) -> dict[str, Any]:
    """Throughput and latency, over all requests and per kind, in milliseconds."""
    every = sorted(s for _, s in load.timings)
    kinds = sorted({k for k, _ in load.timings})
    by_kind = {}
    for kind in kinds:
        mine = sorted(s for k, s in load.timings if k == kind)
        by_kind[kind] = {
            "requests": len(mine),
            "p50_ms": round(_percentile(mine, 0.5) * 1000, 2),
            "p99_ms": round(_percentile(mine, 0.99) * 1000, 2),
        }
    answered = len(load.timings)
    return {
        "requests": answered + load.unanswered,
        "seconds": round(load.seconds, 3),
        "requests_per_second": round(answered / load.seconds, 1),
        "p50_ms": round(_percentile(every, 0.5) * 1000, 2),
        "p99_ms": round(_percentile(every, 0.99) * 1000, 2),
        "max_ms": round(every[-1] * 1000, 2),
        "errors": len(load.errors),
        "by_kind": by_kind,
        "application_outcomes": dict(sorted(load.outcomes.items())),
    }


# --------------------------------------------------------------------------- main


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--database",
        help="an empty database (SQLAlchemy URL); default: a fresh crossline_bench_api on the "
        "local PostgreSQL, dropped afterwards",
    )
    parser.add_argument("--borrowers", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="cap on the timed load")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    for name in ("borrowers", "requests", "seconds", "concurrency", "workers"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name}: expected a positive number")
    if args.borrowers < 2:
        parser.error("--borrowers: expected at least 2 (half of them hold lines)")
    return args


def measure(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """Build the book, serve it, load it, check the ledger: the figures."""
    pii_key = generate_key()
    book = build_book(url, args.borrowers, PiiCipher.from_env({KEY_VARIABLE: pii_key}), args.seed)
    calls = plan(book, args.requests, args.seed)
    any_token = next(iter(book.tokens.values()))
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "serve.log"
        with server(url, args.workers, pii_key, log_path) as (base_url, pid):
            wait_until_ready(base_url, any_token, pid, log_path)
            warm = run_load(base_url, warm_up_calls(book, args.concurrency), args.concurrency, 60)
            if warm.errors:
                raise SystemExit(f"warm-up failed: {warm.errors[:ERRORS_SHOWN]}")
            log(f"server up with {args.workers} workers; load of {len(calls):,} requests")
            load_average = os.getloadavg()[0]
            cpu_before = cpu_seconds(pid)
            load = run_load(base_url, calls, args.concurrency, args.seconds)
            cpu_after = cpu_seconds(pid)
    for error in load.errors[:ERRORS_SHOWN]:
        log(f"error: {error}")
    engine = make_engine(url)
    with engine.connect() as conn:
        ledger = check_ledger(conn)
        unhandled = conn.execute(
            sa.select(sa.func.count()).where(outbox.c.handled.is_(False))
        ).scalar_one()
    engine.dispose()
    result = figures(load)
    log(
        f"{result['requests']:,} requests in {result['seconds']:.1f}s: "
        f"{result['requests_per_second']:,.0f}/s, p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms, {result['errors']} errors, ledger "
        f"{'balanced' if ledger.balanced else 'NOT balanced'}"
    )
    return result | {
        "cpu_seconds": {k: round(cpu_after[k] - cpu_before[k], 2) for k in cpu_before},
        "load_average_before": round(load_average, 2),
        "outbox_unhandled_after": unhandled,
        "ledger_balanced": ledger.balanced,
    }


def main(argv: list[str] | None = None) -> None:
    """Measure, print one JSON line, exit 1 on any error or an unbalanced ledger."""
    args = _arguments(argv)
    url = args.database or DEFAULT_DATABASE
    header: dict[str, Any] = {
        "benchmark": "api",
        "database": make_url(url).get_backend_name(),
        "cpus": os.cpu_count(),
        "server_workers": args.workers,
        "concurrency": args.concurrency,
        "borrowers": args.borrowers,
    }
    if args.database:
        result = measure(args, url)
    else:
        with fresh_database(url):
            result = measure(args, url)
    print(json.dumps(header | result), flush=True)
    if result["errors"] or not result["ledger_balanced"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
