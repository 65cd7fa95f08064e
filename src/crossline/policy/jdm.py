"""JDM decision graphs: the subset crossline runs, read and checked.

A graph is one ``inputNode``, one ``outputNode`` and decision tables
(``decisionTableNode``), each fed by the input and feeding the output. Tables
therefore read only the decision's inputs, never each other's outputs: the
platform computes derived inputs before a decision, where they are tested
code, and a table a risk analyst reads stands on its own.

Each table names an ``outputPath`` (its key in the result, unique in the
graph): zen-engine silently drops a collect table's list when it meets another
table's object at the output node, and nesting every table under its own key
avoids that. Input columns read one input field by name; output fields are
plain names. Rules carry an ``_id`` so that an error can point at the row.

Anything outside the subset — other node kinds, expressions in column fields,
a table feeding a table, unknown inputs, cells outside ``cells.py`` — is
refused at load with the node, row and column named.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from crossline.policy.cells import (
    CellError,
    Kind,
    Output,
    column_dtype,
    compile_input,
    compile_output,
    kind_of,
)
from crossline.policy.errors import PolicyError

HitPolicy = Literal["first", "collect"]
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Column:
    id: str
    name: str
    field: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One row: its id, its input tests (compiled) and its output cells (typed)."""

    id: str
    tests: tuple[pl.Expr, ...]
    outputs: tuple[Output, ...]


@dataclass(frozen=True, slots=True)
class Table:
    node_id: str
    name: str
    hit_policy: HitPolicy
    path: str
    inputs: tuple[Column, ...]
    outputs: tuple[Column, ...]
    rules: tuple[Rule, ...]
    dtypes: tuple[pl.DataType, ...]
    """The Polars type of each output column."""


@dataclass(frozen=True, slots=True)
class Graph:
    """A checked graph: its tables in document order and the JSON that zen-engine runs."""

    tables: tuple[Table, ...]
    document: dict[str, Any]
    key: str
    """A digest of the document: which compiled zen-engine decision runs it."""

    def table(self, path: str) -> Table | None:
        return next((t for t in self.tables if t.path == path), None)


def _mapping(value: Any, where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(where, f"expected {what} (a JSON object)")
    return value


def _list(value: Any, where: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise PolicyError(where, f"expected {what} (a JSON list)")
    return value


def _text(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise PolicyError(where, f"expected {what} (a non-empty string)")
    return value


def _columns(raw: Any, where: str, what: str) -> tuple[Column, ...]:
    columns = []
    for position, item in enumerate(_list(raw, where, f"a list of {what}"), start=1):
        entry = _mapping(item, f"{where} › {what} {position}", "a column")
        name = entry.get("name") or entry.get("id") or str(position)
        here = f"{where} › column {name!r}"
        column = Column(
            _text(entry.get("id"), here, "an id"),
            str(name),
            _text(entry.get("field"), here, "a field"),
        )
        if not _NAME.match(column.field):
            raise PolicyError(here, f"field {column.field!r}: expected a plain input name")
        columns.append(column)
    if len({c.id for c in columns}) != len(columns):
        raise PolicyError(where, f"two {what} share an id")
    return tuple(columns)


def _rule(
    raw: Any,
    position: int,
    table: str,
    inputs: tuple[Column, ...],
    outputs: tuple[Column, ...],
    kinds: Mapping[str, Kind],
) -> Rule:
    entry = _mapping(raw, f"{table} › row {position}", "a row")
    rule_id = str(entry.get("_id") or position)
    where = f"{table} › row {rule_id!r}"
    tests = []
    for column in inputs:
        cell = entry.get(column.id, "")
        if not isinstance(cell, str):
            raise PolicyError(f"{where} › column {column.name!r}", "expected a string cell")
        try:
            tests.append(compile_input(cell, column.field, kinds[column.field]))
        except CellError as exc:
            raise PolicyError(f"{where} › column {column.name!r}", f"{cell!r}: {exc}") from exc
    values = []
    for column in outputs:
        cell = entry.get(column.id, "")
        if not isinstance(cell, str):
            raise PolicyError(f"{where} › column {column.name!r}", "expected a string cell")
        try:
            values.append(compile_output(cell, dict(kinds)))
        except CellError as exc:
            raise PolicyError(f"{where} › column {column.name!r}", f"{cell!r}: {exc}") from exc
    return Rule(rule_id, tuple(tests), tuple(values))


def _table(node: Mapping[str, Any], where: str, kinds: Mapping[str, Kind]) -> Table:
    content = _mapping(node.get("content"), f"{where} › content", "the table")
    hit = content.get("hitPolicy")
    if hit not in ("first", "collect"):
        raise PolicyError(where, f"hitPolicy {hit!r}: expected 'first' or 'collect'")
    path = _text(content.get("outputPath"), where, "an outputPath (the table's key in the result)")
    if not _NAME.match(path):
        raise PolicyError(where, f"outputPath {path!r}: expected a plain name")
    for option in ("inputField", "executionMode", "passThrough"):
        if content.get(option):
            raise PolicyError(where, f"{option} is not supported: tables read the inputs directly")
    inputs = _columns(content.get("inputs"), where, "inputs")
    outputs = _columns(content.get("outputs"), where, "outputs")
    if not outputs:
        raise PolicyError(where, "a table needs at least one output column")
    for column in inputs:
        if column.field not in kinds:
            raise PolicyError(
                f"{where} › column {column.name!r}",
                f"unknown input {column.field!r}; known: {', '.join(sorted(kinds))}",
            )
    if len({c.field for c in outputs}) != len(outputs):
        raise PolicyError(where, "two output columns write the same field")
    raw_rules = _list(content.get("rules"), where, "rules")
    if not raw_rules:
        raise PolicyError(where, "a table needs at least one row")
    rules = tuple(
        _rule(raw, n, where, inputs, outputs, kinds) for n, raw in enumerate(raw_rules, start=1)
    )
    if len({r.id for r in rules}) != len(rules):
        raise PolicyError(where, "two rows share an _id")
    dtypes = []
    for position, column in enumerate(outputs):
        try:
            dtypes.append(column_dtype([rule.outputs[position] for rule in rules]))
        except CellError as exc:
            raise PolicyError(f"{where} › column {column.name!r}", str(exc)) from exc
    return Table(
        node_id=str(node["id"]),
        name=str(node.get("name") or node["id"]),
        hit_policy=hit,
        path=path,
        inputs=inputs,
        outputs=outputs,
        rules=rules,
        dtypes=tuple(dtypes),
    )


def _check_edges(document: Mapping[str, Any], nodes: dict[str, str], where: str) -> None:
    """Input → every table → output, and nothing else."""
    source = next(node_id for node_id, kind in nodes.items() if kind == "inputNode")
    sink = next(node_id for node_id, kind in nodes.items() if kind == "outputNode")
    tables = {node_id for node_id, kind in nodes.items() if kind == "decisionTableNode"}
    edges = set()
    for item in _list(document.get("edges"), where, "edges"):
        edge = _mapping(item, f"{where} › edges", "an edge")
        pair = (str(edge.get("sourceId")), str(edge.get("targetId")))
        if pair[0] not in nodes or pair[1] not in nodes:
            raise PolicyError(where, f"edge {edge.get('id')!r} joins a node that does not exist")
        edges.add(pair)
    expected = {(source, t) for t in tables} | {(t, sink) for t in tables}
    if edges != expected:
        extra = sorted(edges - expected)
        missing = sorted(expected - edges)
        detail = f"unexpected {extra}" if extra else f"missing {missing}"
        raise PolicyError(
            where, f"every table must be fed by the input and feed the output ({detail})"
        )


def parse_graph(document: Any, schema: pl.Schema, where: str) -> Graph:
    """Check a JDM graph against the subset and the decision's input columns."""
    graph = _mapping(document, where, "a JDM graph")
    kinds: dict[str, Kind] = {}
    for name, dtype in schema.items():
        kinds[name] = kind_of(dtype)
    nodes: dict[str, str] = {}
    tables = []
    for item in _list(graph.get("nodes"), where, "nodes"):
        node = _mapping(item, f"{where} › nodes", "a node")
        node_id = _text(node.get("id"), f"{where} › nodes", "a node id")
        here = f"{where} › node {node.get('name') or node_id!r}"
        kind = node.get("type")
        if kind not in ("inputNode", "outputNode", "decisionTableNode"):
            raise PolicyError(here, f"node type {kind!r} is not supported; use decision tables")
        if node_id in nodes:
            raise PolicyError(here, f"node id {node_id!r} is used twice")
        nodes[node_id] = str(kind)
        if kind == "decisionTableNode":
            tables.append(_table(node, here, kinds))
    for kind in ("inputNode", "outputNode"):
        if list(nodes.values()).count(kind) != 1:
            raise PolicyError(where, f"expected exactly one {kind}")
    if not tables:
        raise PolicyError(where, "expected at least one decision table")
    paths = [t.path for t in tables]
    if len(set(paths)) != len(paths):
        raise PolicyError(where, "two tables share an outputPath")
    if clash := sorted(set(paths) & set(kinds)):
        raise PolicyError(where, f"outputPath {clash[0]!r} is also an input name")
    _check_edges(graph, nodes, where)
    text = json.dumps(graph, sort_keys=True)
    return Graph(tuple(tables), dict(graph), hashlib.sha256(text.encode()).hexdigest())
