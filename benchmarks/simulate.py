"""Simulator benchmark: borrower-days a second through the engine.

Usage::

    python benchmarks/simulate.py --borrowers 10000 --months 12 [--database URL] [--seed 7]

Runs ``crossline.sim.run.simulate`` on an empty database (a fresh
SQLite file under a temporary folder unless ``--database`` names one, which
must be empty): every borrower's commands through the services one
transaction each, the outbox handlers, and the close of every day.

Figures, one JSON line on stdout (progress to stderr): ``seconds`` (wall),
``borrower_days_per_second`` (borrowers × days ÷ seconds), ``commands`` and
``commands_per_second``, the slowest day, and the share of the wall time the
first and last month took (a book that grows makes later days dearer). Goal
(issue 5): 10,000 borrowers for 12 months in ≤ 300 s on 2 cores on SQLite,
that is ≥ 12,200 borrower-days a second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from crossline.catalog import load_catalog
from crossline.sim.run import simulate
from crossline.store.engine import make_engine

START = date(2026, 1, 1)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--borrowers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default=None, help="an empty database (default: temp SQLite)")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'simulate.db'}"
        engine = make_engine(url)
        days: list[tuple[date, float, int]] = []
        started = time.perf_counter()
        last = started

        def day_done(day: date, commands: int) -> None:
            nonlocal last
            now = time.perf_counter()
            days.append((day, now - last, commands))
            last = now
            if day.day == 1 or len(days) % 30 == 0:
                print(
                    f"[simulate-bench] {day}: {commands} commands, {now - started:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )

        result = simulate(
            engine, load_catalog("default"), args.borrowers, args.months, args.seed, START, day_done
        )
        seconds = time.perf_counter() - started
        engine.dispose()
    commands = sum(c for _, _, c in days)
    slowest = max(days, key=lambda d: d[1])
    first_month = sum(s for d, s, _ in days if (d.year, d.month) == (START.year, START.month))
    end = days[-1][0]
    last_month = sum(s for d, s, _ in days if (d.year, d.month) == (end.year, end.month))
    print(
        json.dumps(
            {
                "benchmark": "simulate",
                "database": engine.dialect.name,
                "cpus": os.cpu_count(),
                "borrowers": args.borrowers,
                "months": args.months,
                "days": len(days),
                "seconds": round(seconds, 1),
                "borrower_days_per_second": round(args.borrowers * len(days) / seconds, 1),
                "commands": commands,
                "commands_per_second": round(commands / seconds, 1),
                "slowest_day": str(slowest[0]),
                "slowest_day_seconds": round(slowest[1], 2),
                "first_month_seconds": round(first_month, 1),
                "last_month_seconds": round(last_month, 1),
                "ledger_balanced": result.ledger_balanced,
                "outcomes": result.commands,
            }
        )
    )


if __name__ == "__main__":
    main()
