"""What collections does for a line, by its delinquency bucket.

The strategies are data (``strategies.toml``) so a lender can change what each
bucket gets without a code change; every strategy stays within the contact
rules, which the scheduler (``collections.rules``) enforces whatever it says.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class Strategy:
    """The contacts a bucket gets: a reminder, a call, a call and a letter."""

    first_bucket: str
    name: str
    channels: tuple[str, ...]


def bucket_rank(bucket: str) -> int:
    """M0 → 0 … M7+ → 7: buckets ordered by how late."""
    return int(bucket.removeprefix("M").removesuffix("+"))


@cache
def strategies() -> tuple[Strategy, ...]:
    """The packaged strategies, from the earliest bucket to the latest."""
    text = resources.files(__package__).joinpath("strategies.toml").read_text(encoding="utf-8")
    found = [
        Strategy(s["from"], s["name"], tuple(s["channels"]))
        for s in tomllib.loads(text)["strategy"]
    ]
    return tuple(sorted(found, key=lambda s: bucket_rank(s.first_bucket)))


def strategy_for(bucket: str) -> Strategy | None:
    """The strategy of the latest ``from`` at or below ``bucket``; None for a current line."""
    chosen = None
    for strategy in strategies():
        if bucket_rank(strategy.first_bucket) <= bucket_rank(bucket):
            chosen = strategy
    return chosen
