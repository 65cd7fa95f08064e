"""Decision-engine benchmark: applications end to end, the nightly review, zen-engine vs Polars.

Usage::

    python benchmarks/decide.py --borrowers 1000000 [--database URL] [--reuse]
        [--applications 1000] [--workers 2] [--rows 1000000] [--partitions 8] [--seed 7]

The book is the scoring benchmark's (``benchmarks/book.py``: test data generated
column-wise with Polars and bulk-loaded, about 2 lines a borrower over the four
products and three groups, bureau records with grids, inquiries, loans,
installments, statements, journal), left as the last close would leave it:
every borrower scored in every group's view as of the business date
(``rescore``, committed, not timed). On PostgreSQL the applications are
measured after a VACUUM ANALYZE, as autovacuum would leave the book after the
close (the scores and the rolled-back review below are bulk writes; planned
on statistics taken before them, an application's read of its pending events
scanned every unhandled event: 3 ms of server time an application, measured
on 2026-11-25). ``--reuse`` measures a book already at
``--database`` (built by this script or by ``benchmarks/score.py``; it is
scored first if it never was).

Figures, printed as one JSON line on stdout (progress goes to stderr):

* ``application_p50_ms`` / ``application_p99_ms`` / ``applications_per_second``
  — ``apply(ctx, borrower, product)`` for ``--applications`` borrowers, each for
  a product they hold no line of, who never applied before, each in
  its own ``engine.begin()`` transaction with ``open_context``, timed from the
  checkout to the commit included (the group's view, the inquiry, the score,
  the policy, the stored decision, the line if approved), one process after 20
  untimed; ``application_statements``: the statements an application sends (the
  commit not counted), the mean over the 20 untimed; then
  ``applications_per_second_parallel``: as many other borrowers
  shared by ``--workers`` processes, wall time (each warms up on 20 first).
  Goal: p99 ≤ 10 ms and ≥ 500 a second on 2 cores. ``approved``, ``referred``
  and ``declined`` count the outcomes of all of them (the policy ran). The
  applications are committed: a ``--reuse`` run decides other borrowers.
* ``rescore_seconds`` then ``review_seconds`` — the nightly account
  management of every borrower, as the close of the business date runs it
  (as of the next day): per partition, ``rescore(..., shards=(lo, hi))`` (the
  features, score and band of every borrower in every group's view) and then
  ``review(..., "nightly", shards=(lo, hi))`` with that frame, each partition in
  its own transaction, ``--workers`` processes side by side, each phase timed
  on its own (wall time). Both are **rolled back**: the writes are made and
  timed but not committed, so that every run measures the same book. Goal:
  1,000,000 borrowers reviewed in ≤ 60 s.
* ``zen_rows_per_second`` / ``polars_rows_per_second`` / ``polars_over_zen`` —
  the shipped ``ant`` application graph over ``--rows`` random applications
  (``APPLICATION_INPUTS``, generated column-wise around the tables' thresholds,
  some nulls, ratios at 4 places): ``evaluate_frame`` on the whole frame against
  ``evaluate`` (zen-engine) row by row. The rows are turned into dicts
  (``iter_rows(named=True)``) in chunks outside the zen timing. Both results are
  compared on 10,000 random rows (all rows if fewer); any difference fails the run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path
from queue import Empty
from typing import Any

import polars as pl
import sqlalchemy as sa

from book import (
    BUSINESS_DATE,
    as_autovacuum_leaves_it,
    below,
    book_at,
    continue_ids,
    uniform,
)
from crossline.catalog import load_catalog
from crossline.decisions.applications import apply
from crossline.decisions.contracts import APPLICATION_INPUTS, CONTRACTS
from crossline.decisions.management import review
from crossline.decisions.policies import default_policy_text
from crossline.policy.bundle import load_bundle
from crossline.policy.evaluate import evaluate, evaluate_frame, frame_results
from crossline.policy.jdm import Graph
from crossline.scoring.scorecard import band
from crossline.scoring.service import rescore
from crossline.servicing.context import open_context
from crossline.store import platform
from crossline.store.checkpoints import Checkpointer
from crossline.store.engine import make_engine
from crossline.store.schema import SHARDS, applications, credit_lines, current_scores

NIGHT = BUSINESS_DATE + timedelta(days=1)
"""The close of the business date scores and reviews as of the next day."""
WARM_UP = 20
PARITY_ROWS = 10_000
ZEN_CHUNK = 50_000
"""Rows turned into dicts at a time for zen-engine (a million dicts at once is gigabytes)."""
POLICY_GROUP = "ant"

Application = tuple[str, str]
"""(borrower, product)"""


def log(message: str) -> None:
    """Progress to stderr, so that stdout carries only the JSON figure."""
    print(f"[decide-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _partitions(count: int) -> list[tuple[int, int]]:
    return [platform.shard_range(p, count) for p in range(count)]


def _percentile(sorted_values: Sequence[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * share))]


# --------------------------------------------------------------------------- worker processes


def _entry(target: Callable[..., dict[str, Any]], barrier: Any, queue: Any, args: tuple) -> None:
    """Run one worker's part; a failure breaks the barrier so that no one waits for it."""
    try:
        queue.put(("ok", target(barrier, *args)))
    except BaseException:
        barrier.abort()
        queue.put(("error", traceback.format_exc()))


def _run_workers(target: Callable[..., dict[str, Any]], shares: list[tuple]) -> list[dict]:
    """Run ``target(barrier, *share)`` in one spawned process per share; their results.

    The workers meet at the barrier between phases, so that every phase starts for
    all of them at once and no phase overlaps the next: a phase's wall time is the
    latest end minus the earliest start (``perf_counter`` is the system's monotonic
    clock, the same in every process)."""
    context = get_context("spawn")
    barrier = context.Barrier(len(shares))
    queue = context.Queue()
    processes = [
        context.Process(target=_entry, args=(target, barrier, queue, share)) for share in shares
    ]
    for process in processes:
        process.start()
    results: list[dict] = []
    try:
        while len(results) < len(processes):
            try:
                kind, payload = queue.get(timeout=1.0)
            except Empty:
                dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a worker died (exit code {dead[0]})") from None
                continue
            if kind == "error":
                raise RuntimeError(f"a worker failed:\n{payload}")
            results.append(payload)
    except BaseException:
        barrier.abort()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
        raise
    for process in processes:
        process.join()
    return results


def _wall(results: list[dict], phase: str) -> float:
    return max(r[phase][1] for r in results) - min(r[phase][0] for r in results)


# --------------------------------------------------------------------------- the book


def _settle(barrier: Any, url: str, ranges: list[tuple[int, int]]) -> dict[str, Any]:
    """Score the partitions as of the business date and commit: what the last close left."""
    engine = make_engine(url)
    barrier.wait()
    rows = 0
    for lo, hi in ranges:
        with engine.begin() as conn:
            rows += rescore(conn, BUSINESS_DATE, "eod", shards=(lo, hi)).height
    engine.dispose()
    return {"rows": rows}


def _scored_before(url: str) -> bool:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = conn.execute(sa.select(current_scores.c.borrower_id).limit(1)).first()
    engine.dispose()
    return found is not None


def settle(url: str, partitions: int, workers: int) -> None:
    started = time.perf_counter()
    ranges = _partitions(partitions)
    results = _run_workers(_settle, [(url, ranges[w::workers]) for w in range(workers)])
    rows = sum(r["rows"] for r in results)
    log(f"book scored as of {BUSINESS_DATE}: {rows:,} rows in {time.perf_counter() - started:.1f}s")


# --------------------------------------------------------------------------- figure 1


def pick_applications(
    url: str, ids: list[str], products: list[str], count: int, seed: int
) -> list[Application]:
    """``count`` (borrower, product) pairs in random order: each borrower once, for a product
    they have no line of, and only borrowers who never applied: an earlier run's applicant
    has an inquiry event no handler has seen, so their view would be rebuilt, not served
    (a rerun with ``--reuse`` would measure rebuilds where a first run measures serving)."""
    rng = random.Random(seed)
    order = rng.sample(ids, len(ids))
    engine = make_engine(url)
    chosen: list[Application] = []
    c, a = credit_lines.c, applications.c
    with engine.connect() as conn:
        for offset in range(0, len(order), 2_000):
            if len(chosen) >= count:
                break
            batch = order[offset : offset + 2_000]
            held: dict[str, set[str]] = {b: set() for b in batch}
            for borrower, product in conn.execute(
                sa.select(c.borrower_id, c.product).where(c.borrower_id.in_(batch))
            ):
                held[borrower].add(product)
            applied = set(
                conn.execute(sa.select(a.borrower_id).where(a.borrower_id.in_(batch))).scalars()
            )
            for borrower in batch:
                free = [p for p in products if p not in held[borrower]]
                if free and borrower not in applied:
                    chosen.append((borrower, rng.choice(free)))
    engine.dispose()
    if len(chosen) < count:
        raise SystemExit(
            f"only {len(chosen):,} borrowers can apply for a product they do not hold; "
            f"{count:,} are needed (fewer --applications or more --borrowers)"
        )
    return chosen[:count]


def _decide_one(engine: sa.Engine, borrower: str, product: str) -> str:
    with engine.begin() as conn:
        return apply(open_context(conn), borrower, product).status


def _applications(
    barrier: Any, url: str, warm: list[Application], timed: list[Application]
) -> dict[str, Any]:
    """Decide ``warm`` untimed, counting the statements they send, wait for the others, then
    decide ``timed`` one by one."""
    engine = make_engine(url)
    sent = 0

    def count(*_: Any) -> None:
        nonlocal sent
        sent += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    for borrower, product in warm:
        _decide_one(engine, borrower, product)
    sa.event.remove(engine, "before_cursor_execute", count)
    barrier.wait()
    started = time.perf_counter()
    timings: list[float] = []
    outcomes: Counter[str] = Counter()
    with Checkpointer(engine):
        for borrower, product in timed:
            began = time.perf_counter()
            outcomes[_decide_one(engine, borrower, product)] += 1
            timings.append(time.perf_counter() - began)
        ended = time.perf_counter()
    engine.dispose()
    return {
        "decide": (started, ended),
        "timings": timings,
        "outcomes": dict(outcomes),
        "statements": sent / len(warm),
    }


def applications_figures(
    url: str, picked: list[Application], count: int, workers: int
) -> dict[str, Any]:
    """Sequential latency and rate, then the parallel rate, on disjoint borrowers."""
    warm, sequential = picked[:WARM_UP], picked[WARM_UP : WARM_UP + count]
    rest = picked[WARM_UP + count :]
    (alone,) = _run_workers(_applications, [(url, warm, sequential)])
    timings = sorted(alone["timings"])
    seconds = _wall([alone], "decide")
    outcomes = Counter(alone["outcomes"])
    log(
        f"applications, one process: {count:,} in {seconds:.2f}s, "
        f"p50 {_percentile(timings, 0.5) * 1000:.2f} ms, "
        f"p99 {_percentile(timings, 0.99) * 1000:.2f} ms, {dict(outcomes)}"
    )
    shares = []
    warm_parallel, timed_parallel = rest[: WARM_UP * workers], rest[WARM_UP * workers :]
    for w in range(workers):
        shares.append((url, warm_parallel[w::workers], timed_parallel[w::workers]))
    together = _run_workers(_applications, shares)
    parallel_seconds = _wall(together, "decide")
    parallel_timings = sorted(t for r in together for t in r["timings"])
    for r in together:
        outcomes.update(r["outcomes"])
    log(
        f"applications, {workers} processes: {len(timed_parallel):,} in "
        f"{parallel_seconds:.2f}s, p99 {_percentile(parallel_timings, 0.99) * 1000:.2f} ms"
    )
    return {
        "applications": count,
        "application_p50_ms": round(_percentile(timings, 0.5) * 1000, 3),
        "application_p99_ms": round(_percentile(timings, 0.99) * 1000, 3),
        "application_statements": round(alone["statements"], 1),
        "applications_per_second": round(count / seconds, 1),
        "applications_parallel": len(timed_parallel),
        "applications_per_second_parallel": round(len(timed_parallel) / parallel_seconds, 1),
        "application_parallel_p50_ms": round(_percentile(parallel_timings, 0.5) * 1000, 3),
        "application_parallel_p99_ms": round(_percentile(parallel_timings, 0.99) * 1000, 3),
        "approved": outcomes["approved"],
        "referred": outcomes["referred"],
        "declined": outcomes["declined"],
    }


# --------------------------------------------------------------------------- figure 2


def _review(barrier: Any, url: str, ranges: list[tuple[int, int]]) -> dict[str, Any]:
    """Rescore every partition of the share (rolled back), wait, review each (rolled back)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        catalog = open_context(conn).catalog
        conn.rollback()
        barrier.wait()
        started = time.perf_counter()
        scored = []
        for lo, hi in ranges:
            transaction = conn.begin()
            scored.append(rescore(conn, NIGHT, "eod", shards=(lo, hi)))
            transaction.rollback()
        rescored = (started, time.perf_counter())
        barrier.wait()
        started = time.perf_counter()
        changed = 0
        for (lo, hi), frame in zip(ranges, scored, strict=True):
            transaction = conn.begin()
            changed += review(conn, catalog, frame, NIGHT, "nightly", shards=(lo, hi))
            transaction.rollback()
        reviewed = (started, time.perf_counter())
    engine.dispose()
    return {
        "rescore": rescored,
        "review": reviewed,
        "rows": sum(frame.height for frame in scored),
        "changed": changed,
    }


def review_figures(url: str, people: int, partitions: int, workers: int) -> dict[str, Any]:
    ranges = _partitions(partitions)
    results = _run_workers(_review, [(url, ranges[w::workers]) for w in range(workers)])
    rescore_seconds = _wall(results, "rescore")
    review_seconds = _wall(results, "review")
    changed = sum(r["changed"] for r in results)
    rows = sum(r["rows"] for r in results)
    log(
        f"nightly: rescore {rows:,} borrower-views in {rescore_seconds:.2f}s, "
        f"review in {review_seconds:.2f}s, {changed:,} lines changed (rolled back)"
    )
    return {
        "scored_views": rows,
        "rescore_seconds": round(rescore_seconds, 3),
        "review_seconds": round(review_seconds, 3),
        "review_borrowers_per_second": round(people / review_seconds, 1),
        "nightly_seconds": round(rescore_seconds + review_seconds, 3),
        "lines_changed": changed,
    }


# --------------------------------------------------------------------------- figure 3


def _pick(key: pl.Expr, seed: int, stream: int, values: Sequence[str]) -> pl.Expr:
    return pl.lit(pl.Series(list(values))).get(below(key, seed, stream, len(values)))


ALWAYS = ("score", "band", "product", "product_kind", "income_proof")
"""Inputs an application always has; every other column is null in 5% of the rows."""


def _column(name: str, dtype: pl.DataType, key: pl.Expr, seed: int, stream: int) -> pl.Expr:
    """Random values of one input, spread over the shipped tables' thresholds."""
    u = uniform(key, seed, stream)
    small = pl.when(u < 0.85).then(0).otherwise(1 + below(key, seed, stream + 500, 6))
    if name == "score":
        value = 350 + below(key, seed, stream, 601)
    elif name == "product":
        value = _pick(key, seed, stream, ["huabei", "jiebei"])
    elif name == "income_proof":
        value = _pick(key, seed, stream, ["none", "submitted", "verified", "rejected"])
    elif name == "verified_income":
        value = _pick(key, seed, stream, ["yes", "no"])
    elif dtype == pl.Boolean():
        value = u < 0.05
    elif dtype.is_float():
        value = (below(key, seed, stream, 10_001).cast(pl.Float64) / 10_000).round(4)
    elif name.endswith("_fen"):
        value = below(key, seed, stream, 30_000_001)
    elif "dpd" in name or name.endswith("_days"):
        value = pl.when(u < 0.8).then(0).otherwise(below(key, seed, stream + 500, 120))
    elif name.startswith("months_") or name.endswith("_months"):
        value = below(key, seed, stream, 60)
    else:
        value = small
    null = uniform(key, seed, stream + 1_000) < 0.05
    return (value if name in ALWAYS else pl.when(~null).then(value)).cast(dtype).alias(name)


def policy_rows(rows: int, seed: int) -> pl.DataFrame:
    """``rows`` random applications with the columns of ``APPLICATION_INPUTS``."""
    key = pl.int_range(rows, dtype=pl.Int64)
    columns = [
        _column(name, dtype, key, seed, 100 + k)
        for k, (name, dtype) in enumerate(APPLICATION_INPUTS.items())
        if name not in ("band", "product_kind")
    ]
    bands = {s: band(s) for s in range(350, 951)}
    kinds = {"huabei": "revolving", "jiebei": "cash_loan"}
    return (
        pl.select(columns)
        .with_columns(
            pl.col("score").replace_strict(bands, return_dtype=pl.String).alias("band"),
            pl.col("product").replace_strict(kinds, return_dtype=pl.String).alias("product_kind"),
        )
        .select(list(APPLICATION_INPUTS))
        .cast(APPLICATION_INPUTS)
    )


def _zen(graph: Graph, frame: pl.DataFrame, keep: set[int]) -> tuple[float, dict[int, Any]]:
    """Seconds of ``evaluate`` row by row, the conversion of the rows to dicts not counted,
    and the results of the rows in ``keep`` (a million results at once is gigabytes)."""
    seconds = 0.0
    kept: dict[int, Any] = {}
    for offset in range(0, frame.height, ZEN_CHUNK):
        rows = list(frame.slice(offset, ZEN_CHUNK).iter_rows(named=True))
        started = time.perf_counter()
        results = [evaluate(graph, row) for row in rows]
        seconds += time.perf_counter() - started
        kept |= {i: results[i - offset] for i in keep if offset <= i < offset + len(rows)}
    return seconds, kept


def policy_figures(rows: int, seed: int) -> dict[str, Any]:
    catalog = load_catalog("default")
    bundle = load_bundle(default_policy_text(POLICY_GROUP), catalog, CONTRACTS)
    graph = bundle.graphs["application"]
    frame = policy_rows(rows, seed)
    evaluate(graph, frame.row(0, named=True))  # the engine is built once, not in the timing
    evaluate_frame(graph, frame.head(100))
    started = time.perf_counter()
    compiled = evaluate_frame(graph, frame)
    polars_seconds = time.perf_counter() - started
    log(f"policy, Polars: {rows:,} rows in {polars_seconds:.3f}s")
    sample = sorted(random.Random(seed).sample(range(rows), min(PARITY_ROWS, rows)))
    zen_seconds, from_zen = _zen(graph, frame, set(sample))
    log(f"policy, zen-engine: {rows:,} rows in {zen_seconds:.2f}s")
    from_polars = frame_results(graph, compiled[sample])
    for index, polars_result in zip(sample, from_polars, strict=True):
        if polars_result != from_zen[index]:
            raise SystemExit(
                f"zen-engine and Polars disagree on row {index}: {frame.row(index, named=True)}\n"
                f"  zen-engine: {from_zen[index]}\n  Polars:     {polars_result}"
            )
    offers = Counter(
        "veto" if r["veto"] else (r["offer"] or {}).get("outcome", "none")
        for r in from_zen.values()
    )
    log(f"policy results agree on {len(sample):,} rows: {dict(offers)}")
    return {
        "policy": bundle.version,
        "rows": rows,
        "zen_seconds": round(zen_seconds, 3),
        "zen_rows_per_second": round(rows / zen_seconds, 1),
        "polars_seconds": round(polars_seconds, 3),
        "polars_rows_per_second": round(rows / polars_seconds, 1),
        "polars_over_zen": round(zen_seconds / polars_seconds, 1),
        "parity_rows": len(sample),
        "parity_outcomes": dict(sorted(offers.items())),
    }


# --------------------------------------------------------------------------- main


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--borrowers", type=int, default=1_000_000)
    parser.add_argument(
        "--database", help="SQLAlchemy URL (wiped first); default a temp SQLite file"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="measure the book already at --database, unbuilt"
    )
    parser.add_argument("--applications", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the policy figure")
    parser.add_argument("--partitions", type=int, default=8, help="shard ranges of the review")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.reuse and not args.database:
        parser.error("--reuse needs --database")
    for name in ("borrowers", "applications", "workers", "rows"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}: expected a positive number")
    if not 1 <= args.partitions <= SHARDS:
        parser.error(f"--partitions: expected 1..{SHARDS}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Build (or reuse) the book, measure the three figures, print one JSON line."""
    args = _arguments(argv)
    catalog = load_catalog("default")
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'decide.db'}"
        counts, ids, database = book_at(url, args.borrowers, args.seed, args.reuse, catalog, log)
        engine = make_engine(url)
        continue_ids(engine)
        engine.dispose()
        if not _scored_before(url):
            settle(url, args.partitions, args.workers)
        figures: dict[str, Any] = {
            "benchmark": "decide",
            "database": database,
            "borrowers": len(ids),
            "lines": counts["credit_lines"],
            "cpus": os.cpu_count(),
            "workers": args.workers,
            "partitions": args.partitions,
        }
        figures |= review_figures(url, len(ids), args.partitions, args.workers)
        engine = make_engine(url)
        as_autovacuum_leaves_it(engine)
        engine.dispose()
        needed = WARM_UP * (1 + args.workers) + 2 * args.applications
        picked = pick_applications(url, ids, [p.id for p in catalog.products], needed, args.seed)
        figures |= applications_figures(url, picked, args.applications, args.workers)
    figures |= policy_figures(args.rows, args.seed)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
