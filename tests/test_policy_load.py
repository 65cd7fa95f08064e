"""A graph outside the supported subset is refused at load, naming the node, row and column."""

from __future__ import annotations

import copy
from typing import Any

import polars as pl
import pytest

from crossline.policy.errors import PolicyError
from crossline.policy.jdm import parse_graph

SCHEMA = pl.Schema({"score": pl.Int32(), "band": pl.String(), "utilisation": pl.Float64()})


def _graph() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "Request"},
            {
                "id": "offer",
                "type": "decisionTableNode",
                "name": "Offer",
                "content": {
                    "hitPolicy": "first",
                    "outputPath": "offer",
                    "inputs": [
                        {"id": "s", "name": "Score", "field": "score"},
                        {"id": "b", "name": "Band", "field": "band"},
                    ],
                    "outputs": [{"id": "o", "name": "Outcome", "field": "outcome"}],
                    "rules": [
                        {"_id": "high", "s": ">= 650", "b": "", "o": '"approve"'},
                        {"_id": "rest", "s": "", "b": "", "o": '"decline"'},
                    ],
                },
            },
            {"id": "out", "type": "outputNode", "name": "Response"},
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "offer"},
            {"id": "e2", "sourceId": "offer", "targetId": "out"},
        ],
    }


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    graph = copy.deepcopy(_graph())
    target: Any = graph
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return graph


RULE = ("nodes", 1, "content", "rules", 0)


@pytest.mark.parametrize(
    ("graph", "where", "message"),
    [
        (
            _with((*RULE, "s"), "> high"),
            "node 'Offer' › row 'high' › column 'Score'",
            "not a literal",
        ),
        (
            _with((*RULE, "b"), '> "a"'),
            "node 'Offer' › row 'high' › column 'Band'",
            "only be tested for equality",
        ),
        (_with((*RULE, "s"), "]1..5["), "row 'high' › column 'Score'", "open intervals"),
        (_with((*RULE, "s"), "not(5)"), "row 'high' › column 'Score'", "never matches"),
        (_with((*RULE, "o"), "score / 2"), "row 'high' › column 'Outcome'", "division"),
        (_with((*RULE, "o"), "sqrt(score)"), "row 'high' › column 'Outcome'", "unknown function"),
        (
            _with((*RULE, "o"), "utilisation * 2"),
            "row 'high' › column 'Outcome'",
            "whole-number inputs only",
        ),
        (_with((*RULE, "o"), "3"), "column 'Outcome'", "mix number and string"),
        (
            _with(("nodes", 1, "content", "inputs", 0, "field"), "income"),
            "node 'Offer' › column 'Score'",
            "unknown input 'income'",
        ),
        (
            _with(("nodes", 1, "content", "inputs", 0, "field"), "score * 2"),
            "node 'Offer' › column 'Score'",
            "plain input name",
        ),
        (_with(("nodes", 1, "type"), "functionNode"), "node 'Offer'", "not supported"),
        (_with(("nodes", 1, "content", "hitPolicy"), "unique"), "node 'Offer'", "hitPolicy"),
        (_with(("nodes", 1, "content", "outputPath"), ""), "node 'Offer'", "outputPath"),
        (_with(("edges",), [_graph()["edges"][0]]), "application", "feed the output"),
    ],
)
def test_refusals_name_where_and_why(graph: dict[str, Any], where: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_graph(graph, SCHEMA, "application")
    assert where in caught.value.where
    assert message in caught.value.message


def test_the_unchanged_graph_loads() -> None:
    graph = parse_graph(_graph(), SCHEMA, "application")
    assert [t.path for t in graph.tables] == ["offer"]
    assert [r.id for r in graph.tables[0].rules] == ["high", "rest"]
