"""zen-engine and the compiled Polars expressions agree on every row of random tables.

Hypothesis writes decision tables from the whole accepted subset of cells
(literals, comparisons, intervals, lists with ``null`` in any position,
arithmetic, floor/min/max, string lists), in both hit policies, and input rows
with nulls at the boundaries the literals draw; every row's result from
zen-engine must equal the compiled frame's. zen-engine is the reference: it is
the engine the JDM format is defined by. The shipped policies are checked
the same way on random applications around their thresholds.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossline.catalog import load_catalog
from crossline.decisions.contracts import CONTRACTS
from crossline.decisions.policies import default_policy_text
from crossline.policy.bundle import load_bundle
from crossline.policy.evaluate import evaluate, evaluate_frame, frame_results
from crossline.policy.jdm import parse_graph

SCHEMA = pl.Schema(
    {"n": pl.Int64(), "m": pl.Int32(), "r": pl.Float64(), "s": pl.String(), "b": pl.Boolean()}
)
NUMBERS = ["-1", "0", "0.25", "0.3", "1", "2.5", "3", "5", "7"]


def _joined(parts: list[str]) -> str:
    return ", ".join(parts)


_number = st.sampled_from(NUMBERS)
_interval = st.builds(
    lambda a, b, lo, hi: f"{lo}{min(a, b, key=float)}..{max(a, b, key=float)}{hi}",
    _number,
    _number,
    st.sampled_from("[("),
    st.sampled_from("])"),
)
_numeric_test = st.one_of(
    _number,
    st.builds(
        lambda op, v: f"{op} {v}", st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _number
    ),
    _interval,
    st.just("null"),
)
_string_test = st.sampled_from(['"a"', '"b"', "null", '!= "a"', '== "b"'])
_boolean_test = st.sampled_from(["true", "false", "null", "!= true", "== false"])


def _cell(test: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), st.lists(test, min_size=1, max_size=3).map(_joined))


INPUT_CELLS = {
    "n": _cell(_numeric_test),
    "m": _cell(_numeric_test),
    "r": _cell(_numeric_test),
    "s": _cell(_string_test),
    "b": _cell(_boolean_test),
}

_number_output = st.sampled_from(
    [
        "3",
        "0.25",
        "-2",
        "n",
        "m",
        "n * 0.35",
        "floor(n * 0.35)",
        "min([n, 5])",
        "max([n, m])",
        "-(n + 2)",
        "n - m * 2",
        "null",
        "",
    ]
)
OUTPUT_CELLS = {
    "number": _number_output,
    "string": st.sampled_from(['"x"', '"y"', "s", "null"]),
    "boolean": st.sampled_from(["true", "false", "null"]),
    "strings": st.sampled_from(['["income_proof"]', '["a", "b"]', "null"]),
}


@st.composite
def tables(draw: st.DrawFn) -> dict[str, Any]:
    """One decision-table node: 1–3 input columns, 1–2 outputs, 1–6 rows."""
    fields = draw(st.lists(st.sampled_from(list(SCHEMA)), min_size=1, max_size=3, unique=True))
    output_types = draw(st.lists(st.sampled_from(list(OUTPUT_CELLS)), min_size=1, max_size=2))
    rules = []
    for row in range(draw(st.integers(1, 6))):
        rule: dict[str, str] = {"_id": f"r{row}"}
        for position, field in enumerate(fields):
            rule[f"i{position}"] = draw(INPUT_CELLS[field])
        for position, kind in enumerate(output_types):
            rule[f"o{position}"] = draw(OUTPUT_CELLS[kind])
        rules.append(rule)
    return {
        "hitPolicy": draw(st.sampled_from(["first", "collect"])),
        "inputs": [{"id": f"i{k}", "name": f, "field": f} for k, f in enumerate(fields)],
        "outputs": [
            {"id": f"o{k}", "name": f"out{k}", "field": f"out{k}"} for k in range(len(output_types))
        ],
        "rules": rules,
    }


def graph_of(contents: list[dict[str, Any]]) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "in", "type": "inputNode", "name": "Request"}]
    edges = []
    for k, content in enumerate(contents):
        node_id = f"t{k}"
        nodes.append(
            {
                "id": node_id,
                "type": "decisionTableNode",
                "name": f"Table {k}",
                "content": {**content, "outputPath": f"table{k}"},
            }
        )
        edges += [
            {"id": f"a{k}", "sourceId": "in", "targetId": node_id},
            {"id": f"b{k}", "sourceId": node_id, "targetId": "out"},
        ]
    nodes.append({"id": "out", "type": "outputNode", "name": "Response"})
    return {"nodes": nodes, "edges": edges}


_values = st.fixed_dictionaries(
    {
        "n": st.none() | st.integers(-2, 8),
        "m": st.none() | st.integers(-2, 8),
        "r": st.none() | st.sampled_from([-1.0, 0.0, 0.25, 0.3, 1.0, 2.5, 3.0, 5.0, 6.75]),
        "s": st.none() | st.sampled_from(["a", "b", "c"]),
        "b": st.none() | st.booleans(),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tables(), min_size=1, max_size=2), st.lists(_values, min_size=1, max_size=12))
def test_zen_and_polars_agree(contents: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    graph = parse_graph(graph_of(contents), SCHEMA, "test")
    compiled = frame_results(graph, evaluate_frame(graph, pl.DataFrame(rows, schema=SCHEMA)))
    assert compiled == [evaluate(graph, row) for row in rows]


def _application_value(name: str, dtype: pl.DataType) -> st.SearchStrategy[Any]:
    """Values around the shipped policies' thresholds, nulls included."""
    if dtype == pl.Boolean():
        value: st.SearchStrategy[Any] = st.booleans()
    elif dtype == pl.String():
        value = st.sampled_from(
            {
                "income_proof": ["none", "submitted", "verified", "rejected"],
                "band": ["poor", "fair", "good", "very_good", "excellent"],
                "product_kind": ["revolving", "cash_loan", "installment"],
                "line_status": ["active", "paused", "frozen"],
                "trigger": ["nightly", "cured", "reported"],
            }.get(name, ["huabei", "jiebei", "weilidai", "fenqile", "yes", "no"])
        )
    elif dtype.is_float():
        value = st.integers(0, 15_000).map(lambda n: n / 10_000)
    elif name == "score":
        value = st.integers(350, 950)
    elif name.endswith("_fen"):
        value = st.integers(0, 30_000_000)
    elif "dpd" in name or name.endswith("_days"):
        value = st.integers(0, 90)
    else:
        value = st.integers(0, 8)
    always = ("score", "product", "product_kind", "income_proof", "line_status", "trigger")
    return value if name in always else st.none() | value


SHIPPED = [
    (group, kind)
    for group in ("ant", "webank", "lexin")
    for kind in CONTRACTS
    if kind in load_bundle(default_policy_text(group), load_catalog("default"), CONTRACTS).graphs
]


@pytest.mark.parametrize(("group", "kind"), SHIPPED)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_shipped_policies_agree_on_random_requests(
    group: str, kind: str, data: st.DataObject
) -> None:
    catalog = load_catalog("default")
    graph = load_bundle(default_policy_text(group), catalog, CONTRACTS).graphs[kind]
    schema = CONTRACTS[kind].inputs
    strategy = st.fixed_dictionaries(
        {name: _application_value(name, dtype) for name, dtype in schema.items()}
    )
    rows = data.draw(st.lists(strategy, min_size=1, max_size=20))
    compiled = evaluate_frame(graph, pl.DataFrame(rows, schema=schema))
    assert frame_results(graph, compiled) == [evaluate(graph, row) for row in rows]
