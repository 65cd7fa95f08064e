"""The ``crossline`` command line.

Exit codes: 0 success, 1 a check that found a problem (e.g. an unbalanced
ledger), 2 bad input (the message names the field; nothing was written).
Each module registers its commands on the apps in ``common``; importing them
here is what puts every command on ``app``.
"""

from __future__ import annotations

from crossline.cli import (
    access,
    bureau,
    collections,
    ledger,
    models,
    notifications,
    policies,
    scenarios,
    serve,
    simulation,
)
from crossline.cli.common import app

__all__ = [
    "access",
    "app",
    "bureau",
    "collections",
    "ledger",
    "main",
    "models",
    "notifications",
    "policies",
    "scenarios",
    "serve",
    "simulation",
]


def main() -> None:
    """Entry point for ``python -m crossline``."""
    app()
