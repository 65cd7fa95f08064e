"""The borrower credit cap (DOMAIN §5: internet consumer credit ≤ RMB 200,000 per
borrower): a lender group's limits on one borrower's open lines add up to at most the
catalog's ``borrower_credit_cap``, whether a line is opened or raised.

The policies are small ones uploaded here, generous on purpose, so that the cap and
nothing else is what stops them; every expected figure is worked out in the comments
from the policy, the product maxima and the cap.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from crossline.catalog import CatalogError, catalog_from_data, load_catalog
from crossline.catalog.loader import catalog_to_json
from crossline.decisions.applications import apply
from crossline.decisions.management import _within_cap
from crossline.decisions.policies import activate_policy, upload_policy
from crossline.eod.runner import run_eod
from crossline.servicing.context import open_context
from crossline.servicing.errors import RefusedError
from crossline.servicing.lines import open_line, register_borrower
from crossline.store import platform
from crossline.store.schema import credit_lines, decisions
from tests.helpers import dump
from tests.test_applications import START, _setup, _table, small_policy

RICH = 30_000_000
"""A declared monthly income of 300,000.00: the small policy offers every line more than
its product's maximum, so only the maxima and the cap decide."""

CAP_FEN = 20_000_000


def _lines(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(credit_lines.c.product, credit_lines.c.limit_fen).order_by(
                credit_lines.c.credit_line_id
            )
        ).all()
    return dict(rows)


def test_the_default_catalog_caps_each_group_at_200_000_yuan() -> None:
    assert load_catalog("default").borrower_credit_cap_fen == CAP_FEN


def test_a_product_maximum_above_the_cap_is_refused_naming_the_field() -> None:
    data = json.loads(catalog_to_json(load_catalog("default")))
    data["borrower_credit_cap"] = "60000.00"
    with pytest.raises(CatalogError, match=r"products\[1\]\.max_limit: 200000\.00 is above"):
        catalog_from_data(data)


def test_an_application_gets_what_the_cap_leaves_and_none_declines_naming_it(
    engine: sa.Engine,
) -> None:
    _setup(engine, {"ning": RICH, "tao": RICH}, small_policy())
    with engine.begin() as conn:
        ctx = open_context(conn)
        ning_huabei = apply(ctx, "ning", "huabei")
        ning_jiebei = apply(ctx, "ning", "jiebei")
        tao_jiebei = apply(ctx, "tao", "jiebei")
        tao_huabei = apply(ctx, "tao", "huabei")
    # ning: Huabei at its maximum of 50,000.00; Jiebei offered 300,000 - 50,000 and capped
    # by its maximum of 200,000.00, then by the 150,000.00 the cap leaves.
    assert (ning_huabei.status, ning_huabei.limit_fen) == ("approved", 5_000_000)
    assert (ning_jiebei.status, ning_jiebei.limit_fen) == ("approved", 15_000_000)
    # tao: Jiebei at its 200,000.00 maximum uses the whole cap; Huabei, offered more than
    # its own maximum, is declined for the cap and for nothing else.
    assert (tao_jiebei.status, tao_jiebei.limit_fen) == ("approved", 20_000_000)
    assert (tao_huabei.status, tao_huabei.reasons[0].code) == ("declined", "credit_cap_reached")
    with engine.connect() as conn:
        per_borrower = dict(
            conn.execute(
                sa.select(credit_lines.c.borrower_id, sa.func.sum(credit_lines.c.limit_fen))
                .group_by(credit_lines.c.borrower_id)
                .order_by(credit_lines.c.borrower_id)
            ).all()
        )
    assert per_borrower == {"ning": CAP_FEN, "tao": CAP_FEN}


def _raising_policy() -> dict[str, Any]:
    """The small application policy, version 2, with a review that raises every line to
    200,000.00 every night."""
    policy = small_policy("ant-test-2")
    review = _table(
        "action", "first", ["line_status"], ["action", "limit_fen", "reason"],
        [["", '"increase"', "20000000", '"good"']],
    )  # fmt: skip
    nodes = [{"id": "in", "type": "inputNode", "name": "in"}, review]
    nodes.append({"id": "out", "type": "outputNode", "name": "out"})
    edges = [
        {"id": "in-action", "sourceId": "in", "targetId": "action"},
        {"id": "action-out", "sourceId": "action", "targetId": "out"},
    ]
    policy["decisions"]["review"] = {"nodes": nodes, "edges": edges}
    policy["reasons"]["good"] = "You have used your lines well."
    return policy


def test_a_review_s_raises_are_cut_to_the_cap_in_line_order(engine: sa.Engine) -> None:
    _setup(engine, {"ning": RICH}, small_policy())
    with engine.begin() as conn:
        ctx = open_context(conn)
        apply(ctx, "ning", "huabei", requested_limit_fen=2_000_000)
        apply(ctx, "ning", "jiebei", requested_limit_fen=10_000_000)
        policy = _raising_policy()
        upload_policy(conn, json.dumps(policy), START)
        activate_policy(conn, "ant", policy["version"], START)
    run_eod(engine, START)
    # Huabei wants 20,000 -> 50,000 (its maximum), Jiebei 100,000 -> 200,000. The cap
    # leaves 200,000 - 120,000 = 80,000: Huabei, the older line, takes its 30,000 raise
    # and Jiebei the 50,000 left.
    assert _lines(engine) == {"huabei": 5_000_000, "jiebei": 15_000_000}
    with engine.connect() as conn:
        reviews = conn.execute(
            sa.select(decisions.c.product, decisions.c.outcome, decisions.c.outputs)
            .where(decisions.c.kind == "review")
            .order_by(decisions.c.decision_id)
        ).all()
    assert [(r.product, r.outcome, json.loads(r.outputs)["new_limit_fen"]) for r in reviews] == [
        ("huabei", "increase", 5_000_000),
        ("jiebei", "increase", 15_000_000),
    ]
    run_eod(engine, START + timedelta(days=1))
    assert _lines(engine) == {"huabei": 5_000_000, "jiebei": 15_000_000}


def test_the_cap_is_the_database_catalog_s(engine: sa.Engine) -> None:
    data = json.loads(catalog_to_json(load_catalog("default")))
    data["borrower_credit_cap"] = "60000.00"
    for product in data["products"]:
        if product["id"] in ("jiebei", "weilidai"):
            product["max_limit"] = "60000.00"
    with engine.begin() as conn:
        platform.initialise(conn, business_date=START, catalog_json=json.dumps(data), partitions=1)
        ctx = open_context(conn)
        register_borrower(ctx, "ning", RICH)
        policy = small_policy()
        upload_policy(conn, json.dumps(policy), START)
        activate_policy(conn, "ant", policy["version"], START)
        apply(ctx, "ning", "huabei")
        jiebei = apply(ctx, "ning", "jiebei")
    # Huabei 50,000.00; Jiebei offered 250,000, capped at its 60,000 maximum, then at the
    # 60,000 - 50,000 the database's cap leaves.
    assert (jiebei.status, jiebei.limit_fen) == ("approved", 1_000_000)


def test_opening_a_line_directly_is_refused_above_the_cap_and_writes_nothing(
    engine: sa.Engine,
) -> None:
    _setup(engine, {"ning": RICH})
    with engine.begin() as conn:
        ctx = open_context(conn)
        open_line(ctx, "ning", "jiebei", 18_000_000, Decimal("0.0004"))
        open_line(ctx, "ning", "weilidai", 20_000_000, Decimal("0.0004"))  # webank: its own
    before = dump(engine)
    with (
        pytest.raises(RefusedError, match=r"the 20000\.00 the borrower credit cap") as refused,
        engine.begin() as conn,
    ):
        open_line(open_context(conn), "ning", "huabei", 2_000_001)
    assert refused.value.code == "credit_cap_reached"
    assert dump(engine) == before
    with engine.begin() as conn:
        open_line(open_context(conn), "ning", "huabei", 2_000_000)
    assert _lines(engine)["huabei"] == 2_000_000


def test_raises_are_cut_per_borrower_and_group_counting_what_the_night_lowers_or_closes() -> None:
    actions = pl.DataFrame(
        {
            "credit_line_id": [1, 2, 3, 4, 5, 6, 7],
            "borrower_id": ["a", "a", "a", "b", "b", "c", "c"],
            "lender_group": ["ant", "ant", "webank", "ant", "ant", "ant", "ant"],
            "line_status": ["active"] * 7,
            "new_status": ["active", "active", "active", "closed", "active", "active", "active"],
            "line_limit_fen": [
                15_000_000, 4_000_000, 20_000_000, 12_000_000, 6_000_000, 18_000_000, 5_000_000
            ],
            "new_limit_fen": [
                10_000_000, 12_000_000, 20_000_000, 12_000_000, 15_000_000, 18_000_000, 8_000_000
            ],
        }
    )  # fmt: skip
    cut = _within_cap(actions, CAP_FEN).sort("credit_line_id")
    assert cut.get_column("new_limit_fen").to_list() == [
        # a/ant: line 1 falls to 100,000, which leaves line 2 room to 100,000 (not 120,000);
        # a/webank is its own lender and keeps 200,000.
        10_000_000,
        10_000_000,
        20_000_000,
        # b/ant: line 4 closes, so line 5 may rise to its full 150,000.
        12_000_000,
        15_000_000,
        # c/ant: already 230,000, above the cap: nothing is cut below where it stands,
        # and the raise gets no room.
        18_000_000,
        5_000_000,
    ]
