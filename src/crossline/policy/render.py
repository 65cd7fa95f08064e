"""A policy version as tables a risk analyst reads: one per decision table, then the
reason and document texts and the price tiers.

Cells are shown as written in the file (the ZEN expressions the analyst edits), not as
what crossline compiled them to, so that a row on screen can be found in the editor.
The functions are pure (a :class:`Bundle` in, rich renderables out) so that the CLI
and the risk console show a policy the same way. Every text is a :class:`Text`, never
markup: a cell like ``[1..5]`` or a description with brackets is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table as RichTable
from rich.text import Text

from crossline.policy.bundle import Bundle
from crossline.policy.jdm import Graph, Table

ANY = "-"
"""How an empty input cell (it matches any value) is shown."""

_HIT_MEANING = {
    "first": "rows are tried in order; the first that matches decides",
    "collect": "every row that matches adds its result",
}


def table_title(decision: str, table: Table) -> str:
    """``application › Offer (first, result under 'offer')``: where the table sits and
    how its rows combine, in the words the error messages use."""
    return f"{decision} › {table.name} ({table.hit_policy}, result under {table.path!r})"


def table_sizes(bundle: Bundle) -> list[tuple[str, int]]:
    """Each decision table's title and its number of rows: what checking a policy
    reports, so an analyst sees the file was read as they meant it."""
    return [
        (table_title(decision, table), len(table.rules))
        for decision, graph in bundle.graphs.items()
        for table in graph.tables
    ]


def _raw_rules(graph: Graph, table: Table) -> list[Mapping[str, Any]]:
    """The table's rows as written: the checked :class:`Table` keeps compiled cells only."""
    node = next(n for n in graph.document["nodes"] if n.get("id") == table.node_id)
    rules: list[Mapping[str, Any]] = node["content"]["rules"]
    return rules


def decision_table(decision: str, graph: Graph, table: Table) -> RichTable:
    """One decision table: the row id, its input tests, its outputs and its description."""
    shown = RichTable(
        title=Text(table_title(decision, table)),
        title_justify="left",
        caption=Text(f"{_HIT_MEANING[table.hit_policy]}; {ANY} in an input matches any value"),
        caption_justify="left",
    )
    shown.add_column("row", overflow="fold")
    for column in table.inputs:
        shown.add_column(Text(column.name), overflow="fold")
    for column in table.outputs:
        shown.add_column(Text(column.name), overflow="fold", header_style="bold magenta")
    shown.add_column("description", overflow="fold")
    for rule, raw in zip(table.rules, _raw_rules(graph, table), strict=True):
        tests = [str(raw.get(c.id, "")).strip() or ANY for c in table.inputs]
        outputs = [str(raw.get(c.id, "")).strip() for c in table.outputs]
        cells = [rule.id, *tests, *outputs, str(raw.get("_description", ""))]
        shown.add_row(*(Text(cell) for cell in cells))
    return shown


def _texts(title: str, texts: Mapping[str, str]) -> RichTable:
    shown = RichTable("code", "text", title=Text(title), title_justify="left")
    for code, text in texts.items():
        shown.add_row(Text(code), Text(text))
    return shown


def _pricing(bundle: Bundle) -> RichTable:
    shown = RichTable("product", "tier", "rate", title=Text("Price tiers"), title_justify="left")
    for product, tiers in bundle.pricing.items():
        for tier, rate in tiers.items():
            shown.add_row(Text(product), Text(tier), Text(str(rate)))
    return shown


def render_policy(bundle: Bundle) -> RenderableType:
    """The whole version: header, every decision table in document order, the reason and
    document texts the tables' codes stand for, and the price tiers offers name."""
    header = Text(f"{bundle.group} {bundle.version}", style="bold")
    if bundle.description:
        header.append(f"\n{bundle.description}", style="not bold")
    parts: list[RenderableType] = [header]
    for decision, graph in bundle.graphs.items():
        parts.extend(decision_table(decision, graph, table) for table in graph.tables)
    parts.append(_texts("Reasons", bundle.reasons))
    parts.append(_texts("Documents", bundle.documents))
    parts.append(_pricing(bundle))
    return Group(*parts)
