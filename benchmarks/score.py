"""Scoring benchmark: features + score of every borrower in every lender group's view.

Usage::

    python benchmarks/score.py --borrowers 1000000 [--database URL] [--seed 7]

The book (``benchmarks/book.py``) is **test data**, generated column-wise with
Polars and bulk-loaded with ``crossline.store.bulk.insert_frame`` straight into
the tables, without the services: borrowers; credit lines across the four
products and three groups (about 2 a borrower, 5% late); bureau records for
the last three month ends with 24-month grids (a tenth of the accounts with
delinquent months, a few with an overdue the threshold kept off the report);
inquiries; a loan per non-revolving line with its installments, a revolving
loan with an open cycle and six statements per Huabei line; and journal
entries for draws, purchases and repayments. Amounts and schedules are
plausible, not exact product arithmetic: the figure measured is reading and
scoring, not servicing.

Three figures, printed as one JSON line on stdout (progress goes to stderr):

* ``borrowers_per_second`` — wall time of ``all_group_features`` over shard
  ranges (the EOD partitions) plus ``score_frame`` of every row, from the
  database, ``--workers`` processes side by side;
* ``single_p50_ms`` / ``single_p99_ms`` — one borrower in one group's view on a
  warm connection: ``group_features`` + ``score_row``, over 1,000 random borrowers;
* ``kernel_borrowers_per_second`` — ``build_features`` + ``score_frame`` on
  frames already read, one process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from book import BUSINESS_DATE, book_at
from crossline.catalog import load_catalog
from crossline.kernels.features import ViewFrames, build_features
from crossline.scoring.scorecard import default_scorecard, score_frame, score_row
from crossline.scoring.views import all_group_features, group_features, groups, read_view, scope
from crossline.store import platform
from crossline.store.engine import make_engine
from crossline.store.schema import SHARDS

LATENCY_SAMPLES = 1_000


def log(message: str) -> None:
    """Progress to stderr, so that stdout carries only the JSON figure."""
    print(f"[score-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the measures


def _partitions(count: int) -> list[tuple[int, int]]:
    return [platform.shard_range(p, count) for p in range(count)]


def score_shards(url: str, ranges: list[tuple[int, int]]) -> int:
    """Features and scores of every borrower of ``ranges`` in every view; returns the rows."""
    engine = make_engine(url)
    card = default_scorecard()
    scored = 0
    with engine.connect() as conn:
        for lo, hi in ranges:
            features = all_group_features(conn, BUSINESS_DATE, shards=(lo, hi))
            scored += score_frame(card, features).height
    engine.dispose()
    return scored


def batch(url: str, partitions: int, workers: int) -> tuple[float, int]:
    """Wall time of scoring every partition, spread over ``workers`` processes."""
    ranges = _partitions(partitions)
    shares = [ranges[w::workers] for w in range(workers)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        rows = sum(pool.map(score_shards, [url] * workers, shares))
    return time.perf_counter() - started, rows


def single(url: str, ids: list[str], group: str) -> tuple[float, float]:
    """p50 and p99 in ms of one borrower's features and score in ``group``'s view."""
    engine = make_engine(url)
    card = default_scorecard()
    timings = []
    with engine.connect() as conn:
        for borrower in ids[:20]:  # warm the statement caches and the plan
            score_row(
                card, group_features(conn, group, BUSINESS_DATE, [borrower]).row(0, named=True)
            )
        for borrower in ids:
            started = time.perf_counter()
            row = group_features(conn, group, BUSINESS_DATE, [borrower]).row(0, named=True)
            score_row(card, row)
            timings.append(time.perf_counter() - started)
    engine.dispose()
    timings.sort()
    return timings[len(timings) // 2] * 1000, timings[int(len(timings) * 0.99)] * 1000


def kernel(url: str, partitions: int, view_groups: list[str]) -> float:
    """Seconds of build_features + score_frame over the whole book, frames read beforehand."""
    engine = make_engine(url)
    card = default_scorecard()
    views = []
    with engine.connect() as conn:
        for lo, hi in _partitions(partitions):
            view = read_view(conn, BUSINESS_DATE, scope(None, (lo, hi)))
            frames = {name: getattr(view, name).lazy().collect() for name in view.__slots__}
            views.append(ViewFrames(**frames))
    engine.dispose()
    started = time.perf_counter()
    for view in views:
        score_frame(card, build_features(view, BUSINESS_DATE, view_groups))
    return time.perf_counter() - started


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--borrowers", type=int, default=1_000_000)
    parser.add_argument(
        "--database", help="SQLAlchemy URL (wiped first); default a temp SQLite file"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--partitions", type=int, default=8, help="shard ranges of the batch")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--reuse", action="store_true", help="measure the book already at --database, unbuilt"
    )
    parser.add_argument("--group", default="webank", help="the view of the single-borrower figure")
    args = parser.parse_args(argv)
    if args.reuse and not args.database:
        parser.error("--reuse needs --database")
    if args.borrowers < 1:
        parser.error("--borrowers: expected a positive number")
    if not 1 <= args.partitions <= SHARDS:
        parser.error(f"--partitions: expected 1..{SHARDS}")
    if args.workers < 1:
        parser.error("--workers: expected a positive number")
    return args


def main(argv: list[str] | None = None) -> None:
    """Build, load, measure, print one JSON line."""
    args = _arguments(argv)
    catalog = load_catalog("default")
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'score.db'}"
        counts, ids, database = book_at(url, args.borrowers, args.seed, args.reuse, catalog, log)
        view_groups = groups(catalog)
        seconds, rows = batch(url, args.partitions, args.workers)
        log(f"batch: {rows:,} scores in {seconds:.2f}s")
        p50, p99 = single(
            url, random.Random(args.seed).sample(ids, min(LATENCY_SAMPLES, len(ids))), args.group
        )
        log(f"single borrower: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        kernel_seconds = kernel(url, args.partitions, view_groups)
        log(f"kernel: {kernel_seconds:.2f}s")
    figures: dict[str, Any] = {
        "benchmark": "score",
        "borrowers": len(ids),
        "lines": counts["credit_lines"],
        "bureau_records": counts["bureau_records"],
        "journal_lines": counts["journal"],
        "database": database,
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "partitions": args.partitions,
        "groups": len(view_groups),
        "scores": rows,
        "batch_seconds": round(seconds, 3),
        "borrowers_per_second": round(len(ids) / seconds, 1),
        "single_group": args.group,
        "single_p50_ms": round(p50, 3),
        "single_p99_ms": round(p99, 3),
        "kernel_seconds": round(kernel_seconds, 3),
        "kernel_borrowers_per_second": round(len(ids) / kernel_seconds, 1),
    }
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
