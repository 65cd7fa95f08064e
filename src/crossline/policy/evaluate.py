"""Running a checked graph: zen-engine for one decision, Polars for a frame of many.

Both return the same result for a row, in one normal form: for each table,
under its ``outputPath``, a first-hit table gives the outputs of its first
matching row (a dict) or ``None``; a collect table gives the list of all
matching rows' outputs, in row order. Numbers are ``Decimal`` (zen-engine
computes in decimals; the compiled expressions in Polars decimals), strings
and booleans as they are, a list of strings as a list.

zen-engine runs through an engine with a static loader: calling a decision
object directly starts a new async runtime per call (~300 µs), the engine
does not (~20 µs). Contexts go to zen as JSON text, so a number reaches it as
the decimal text Python writes, the same value Polars compares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import polars as pl
import zen
from polars.expr.whenthen import ChainedThen, Then

from crossline.policy.cells import Output, output_expression
from crossline.policy.jdm import Graph, Table

Result = dict[str, Any]
_KEY = "graph"
_MAX_GRAPHS = 64
"""Graphs kept compiled at once (zen-engine decisions, Polars expressions): the versions
in force and a few under test, not every upload."""


def _row_condition(tests: tuple[pl.Expr, ...], outputs: tuple[Output, ...]) -> pl.Expr:
    present = [pl.col(name).is_not_null() for o in outputs for name in sorted(o.required)]
    return pl.all_horizontal([*tests, *present])


def table_expression(table: Table) -> pl.Expr:
    """The table's result per row: a struct (first hit, null if none) or a list of structs."""
    types = table.dtypes

    def values(outputs: tuple[Output, ...]) -> pl.Expr:
        return pl.struct(
            [
                output_expression(o, dtype).alias(column.field)
                for o, dtype, column in zip(outputs, types, table.outputs, strict=True)
            ]
        )

    conditions = [_row_condition(rule.tests, rule.outputs) for rule in table.rules]
    if table.hit_policy == "collect":
        matched = [
            pl.when(condition).then(values(rule.outputs))
            for condition, rule in zip(conditions, table.rules, strict=True)
        ]
        return pl.concat_list(matched).list.drop_nulls().alias(table.path)
    first: Then | ChainedThen = pl.when(conditions[0]).then(values(table.rules[0].outputs))
    for condition, rule in zip(conditions[1:], table.rules[1:], strict=True):
        first = first.when(condition).then(values(rule.outputs))
    return first.alias(table.path)


_EXPRESSIONS: dict[int, tuple[Graph, tuple[pl.Expr, ...]]] = {}
"""The tables' expressions per graph object (kept with it, so that its id stays its own):
building them walks every cell of every row, about a millisecond for a review graph, on
every partition's review at every close. The graphs are those of the loaded (cached)
policies, so the same object comes back."""


def _expressions(graph: Graph) -> tuple[pl.Expr, ...]:
    cached = _EXPRESSIONS.get(id(graph))
    if cached is not None:
        return cached[1]
    if len(_EXPRESSIONS) >= _MAX_GRAPHS:
        del _EXPRESSIONS[next(iter(_EXPRESSIONS))]
    expressions = tuple(table_expression(t) for t in graph.tables)
    _EXPRESSIONS[id(graph)] = (graph, expressions)
    return expressions


def evaluate_frame(graph: Graph, inputs: pl.DataFrame) -> pl.DataFrame:
    """Every table's result for every row of ``inputs`` (one column per outputPath)."""
    # with_columns, not select: a table of constants must still give one result per row.
    return (
        inputs.lazy()
        .with_columns(_expressions(graph))
        .select(t.path for t in graph.tables)
        .collect(engine="in-memory")
    )


def _number(value: Any) -> Any:
    """zen and Polars numbers as Decimal; other values unchanged, lists and dicts walked."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, list):
        return [_number(item) for item in value]
    if isinstance(value, dict):
        return {key: _number(item) for key, item in value.items()}
    raise TypeError(f"unexpected value {value!r}")


def _normal(graph: Graph, raw: Mapping[str, Any]) -> Result:
    result: Result = {}
    for table in graph.tables:
        fields = [c.field for c in table.outputs]
        value = raw.get(table.path)
        if table.hit_policy == "collect":
            rows = value or []
            result[table.path] = [{f: _number(row.get(f)) for f in fields} for row in rows]
        else:
            result[table.path] = (
                None if value is None else {f: _number(value.get(f)) for f in fields}
            )
    return result


def frame_results(graph: Graph, results: pl.DataFrame) -> list[Result]:
    """The rows of :func:`evaluate_frame` in the normal form."""
    return [_normal(graph, row) for row in results.iter_rows(named=True)]


_ENGINES: dict[str, zen.ZenEngine] = {}
"""One zen-engine per graph digest: building one parses the graph (~0.5 ms)."""


def _engine(graph: Graph) -> zen.ZenEngine:
    engine = _ENGINES.get(graph.key)
    if engine is None:
        if len(_ENGINES) >= _MAX_GRAPHS:
            del _ENGINES[next(iter(_ENGINES))]
        engine = zen.ZenEngine({"loader": {"type": "static", "content": {_KEY: graph.document}}})
        _ENGINES[graph.key] = engine
    return engine


def evaluate(graph: Graph, context: Mapping[str, Any]) -> Result:
    """One decision through zen-engine, in the normal form."""
    response = _engine(graph).evaluate(_KEY, json.dumps(dict(context)))
    return _normal(graph, response["result"])
