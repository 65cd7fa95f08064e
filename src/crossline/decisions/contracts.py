"""What each kind of decision gives its policy graph and reads back.

The inputs are flat columns: the group's features of the borrower
(``crossline.kernels.features.FEATURE_SCHEMA``, ratios rounded to
:data:`RATIO_PLACES` places so that zen-engine and Polars compare the same
decimal), the score in that view, and the facts of the request. The tables
the code reads are named by their ``outputPath``.
"""

from __future__ import annotations

import polars as pl

from crossline.kernels.features import FEATURE_SCHEMA
from crossline.policy.bundle import Column, Contract, TableContract

RATIO_PLACES = 4
"""Decimal places of the ratio features a policy sees."""

OUTCOMES = ("approve", "refer", "decline")

VIEW_INPUTS = pl.Schema(
    {k: v for k, v in FEATURE_SCHEMA.items() if k not in ("borrower_id", "shard")}
    | {"score": pl.Int32(), "band": pl.String()}
)
"""What every decision knows of the borrower: the group's features and score."""

APPLICATION_INPUTS = pl.Schema(
    dict(VIEW_INPUTS)
    | {
        "product": pl.String(),
        "product_kind": pl.String(),
        "requested_limit_fen": pl.Int64(),
        "monthly_income_fen": pl.Int64(),
        "income_proof": pl.String(),
        "group_lines": pl.Int16(),
        "group_paused_lines": pl.Int16(),
        "group_frozen_lines": pl.Int16(),
        "group_limit_fen": pl.Int64(),
    }
)
"""An application's inputs. ``monthly_income_fen`` is the verified income if there is
one, else the declared; ``income_proof`` is ``none``, ``submitted``, ``verified`` or
``rejected`` for this application; the ``group_*`` columns count the borrower's lines
with the group (open ones; of them paused and frozen) and sum their limits."""

APPLICATION = Contract(
    inputs=APPLICATION_INPUTS,
    tables={
        "veto": TableContract("collect", {"code": Column("string", "reasons")}),
        "offer": TableContract(
            "first",
            {
                "outcome": Column("string", OUTCOMES),
                "limit_fen": Column("number"),
                "tier": Column("string"),
                "reason": Column("string", "reasons"),
                "documents": Column("strings", "documents"),
            },
        ),
    },
)
"""``veto`` lists the one-vote vetoes that matched (any of them declines, whatever the
score); ``offer`` is the first matching row of the offer table."""

CONTRACTS = {"application": APPLICATION}
