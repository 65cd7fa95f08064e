"""What each kind of decision gives its policy graph and reads back.

The inputs are flat columns: the group's features of the borrower
(``crossline.kernels.features.FEATURE_SCHEMA``, ratios rounded to
``RATIO_PLACES`` places so that zen-engine and Polars compare the same
decimal), the score in that view, and the facts of the request. The tables
the code reads are named by their ``outputPath``.
"""

from __future__ import annotations

import polars as pl

from crossline.kernels.features import FEATURE_SCHEMA
from crossline.policy.bundle import Column, Contract, TableContract

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
                "borrower_limit_fen": Column("number", required=False),
            },
        ),
    },
)
"""``veto`` lists the one-vote vetoes that matched (any of them declines, whatever the
score); ``offer`` is the first matching row of the offer table. An approval that gives
``borrower_limit_fen`` sets the group's borrower-level limit, which caps what all the
group's lines may be used for together."""

AUTHORISATION_INPUTS = pl.Schema(
    {
        "score": pl.Int32(),
        "band": pl.String(),
        "product": pl.String(),
        "product_kind": pl.String(),
        "amount_fen": pl.Int64(),
        "line_limit_fen": pl.Int64(),
        "line_available_fen": pl.Int64(),
        "line_dpd": pl.Int32(),
        "group_limit_fen": pl.Int64(),
        "group_used_fen": pl.Int64(),
        "group_overdue_lines": pl.Int16(),
    }
)
"""A draw's or purchase's inputs: the borrower's current score in the group's view, the
amount, the line now, and the group's lines together (``group_limit_fen`` is the
borrower-level limit, null if the group sets none; ``group_overdue_lines`` counts the
group's lines overdue past their product's grace)."""

AUTHORISATION = Contract(
    inputs=AUTHORISATION_INPUTS,
    tables={
        "authorise": TableContract(
            "first",
            {
                "outcome": Column("string", ("approve", "decline")),
                "reason": Column("string", "reasons"),
            },
        )
    },
    required=False,
)
"""Optional: a group without an authorisation graph authorises on the line's status, the
available limit and the borrower-level limit alone."""

ACTIONS = ("keep", "reduce", "pause", "freeze", "close", "restore", "increase")

REVIEW_INPUTS = pl.Schema(
    dict(VIEW_INPUTS)
    | {
        "product": pl.String(),
        "product_kind": pl.String(),
        "line_status": pl.String(),
        "line_limit_fen": pl.Int64(),
        "granted_limit_fen": pl.Int64(),
        "limit_below_granted_fen": pl.Int64(),
        "line_dpd": pl.Int32(),
        "line_overdue_days": pl.Int32(),
        "group_overdue_lines": pl.Int16(),
        "months_since_action": pl.Int16(),
        "trigger": pl.String(),
    }
)
"""A line under review: its borrower's features and score in the group's view, the
line (``granted_limit_fen`` is what the application or the last increase granted,
``limit_below_granted_fen`` how far reductions have taken it below that,
``line_overdue_days`` its DPD once past the product's grace, else 0), the group's
lines overdue past grace, whole calendar months since the last action on the line
(null if none) and what triggered the review (``nightly`` or an event type)."""

REVIEW = Contract(
    inputs=REVIEW_INPUTS,
    tables={
        "action": TableContract(
            "first",
            {
                "action": Column("string", ACTIONS),
                "limit_fen": Column("number"),
                "reason": Column("string", "reasons"),
            },
        )
    },
    required=False,
)
"""One action per line; a group without a review graph does no account management."""

CONTRACTS = {"application": APPLICATION, "authorisation": AUTHORISATION, "review": REVIEW}
