"""A lender group's policy version: its decision graphs, reason texts and price tiers.

The file a risk analyst edits and uploads (format ``crossline-policy/1``)::

    {
      "format": "crossline-policy/1",
      "group": "ant",
      "version": "ant-2026.11",
      "description": "...",
      "reasons":   {"score_too_low": "Your credit score is below what we lend at", ...},
      "documents": {"income_proof": "Proof of income: a payslip or a tax record", ...},
      "pricing":   {"jiebei": {"A": "0.0002", "B": "0.0003"}, ...},
      "decisions": {"application": <JDM graph>, ...}
    }

Every decision kind has a **contract** (:class:`Contract`, defined by the
code that makes that decision): the inputs its tables may read, and the
tables and output columns its code reads from the result, with the values a
code column may hold. A bundle is checked against the contracts and the
catalog when it is loaded — every reason and document a table can emit has a
text, every price tier a rate inside the product's band — so that nothing a
policy says is discovered wrong in the middle of a decision.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import polars as pl

from crossline.catalog import Catalog, CatalogError
from crossline.policy.cells import Constant, Output
from crossline.policy.errors import PolicyError
from crossline.policy.jdm import Graph, HitPolicy, Table, parse_graph

FORMAT = "crossline-policy/1"

Vocabulary = Literal["reasons", "documents"] | tuple[str, ...]
"""Where the values of a code column must come from: the bundle's reason or document
texts, or a fixed list."""


@dataclass(frozen=True, slots=True)
class Column:
    """An output column the platform reads: its type and, for codes, their vocabulary."""

    type: Literal["number", "string", "strings"]
    vocabulary: Vocabulary | None = None
    required: bool = True


@dataclass(frozen=True, slots=True)
class TableContract:
    hit_policy: HitPolicy
    columns: Mapping[str, Column]


@dataclass(frozen=True, slots=True)
class Contract:
    """What one kind of decision gives its graph and reads from the result."""

    inputs: pl.Schema
    tables: Mapping[str, TableContract]
    required: bool = True


@dataclass(frozen=True, slots=True)
class Bundle:
    group: str
    version: str
    description: str
    reasons: Mapping[str, str]
    documents: Mapping[str, str]
    pricing: Mapping[str, Mapping[str, Decimal]]
    graphs: Mapping[str, Graph]
    digest: str
    text: str = field(repr=False)


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(where, "expected a JSON object")
    return value


def _texts(value: Any, where: str) -> dict[str, str]:
    texts = dict(_object(value, where))
    for code, text in texts.items():
        if not isinstance(text, str) or not text.strip():
            raise PolicyError(f"{where} › {code!r}", "expected a non-empty text")
    return texts


def _pricing(value: Any, catalog: Catalog, group: str) -> dict[str, dict[str, Decimal]]:
    pricing: dict[str, dict[str, Decimal]] = {}
    for product_id, tiers in _object(value, "pricing").items():
        where = f"pricing › {product_id!r}"
        try:
            product = catalog.product(product_id)
        except CatalogError as exc:
            raise PolicyError(where, str(exc)) from exc
        if catalog.group_of(product_id) != group:
            raise PolicyError(where, f"{product_id} is not a product of group {group!r}")
        if product.kind == "revolving":
            raise PolicyError(where, "a revolving line has no price tier")
        low, high = (
            product.daily_rate_range()
            if product.kind == "cash_loan"
            else product.monthly_fee_rate_range()
        )
        pricing[product_id] = {}
        for tier, text in _object(tiers, where).items():
            try:
                rate = Decimal(str(text))
            except InvalidOperation as exc:
                raise PolicyError(f"{where} › {tier!r}", f"{text!r} is not a rate") from exc
            if not low <= rate <= high:
                raise PolicyError(f"{where} › {tier!r}", f"expected {low}–{high}, got {rate}")
            pricing[product_id][tier] = rate
    return pricing


def _constants(table: Table, position: int) -> list[tuple[str, Output]]:
    return [(rule.id, rule.outputs[position]) for rule in table.rules]


def _check_vocabulary(
    table: Table, position: int, vocabulary: Vocabulary, texts: Mapping[str, Mapping[str, str]]
) -> None:
    allowed = set(vocabulary) if isinstance(vocabulary, tuple) else set(texts[vocabulary])
    column = table.outputs[position].name
    for rule_id, output in _constants(table, position):
        where = f"node {table.name!r} › row {rule_id!r} › column {column!r}"
        node = output.expression
        if not isinstance(node, Constant):
            raise PolicyError(where, "a code column holds literal codes, not expressions")
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        for value in values:
            if value is not None and value not in allowed:
                source = (
                    "expected one of"
                    if isinstance(vocabulary, tuple)
                    else f"no {vocabulary} text for"
                )
                detail = sorted(allowed) if isinstance(vocabulary, tuple) else repr(value)
                raise PolicyError(where, f"{value!r}: {source} {detail}")


def _check_contract(
    graph: Graph, contract: Contract, where: str, texts: Mapping[str, Mapping[str, str]]
) -> None:
    for path, wanted in contract.tables.items():
        table = graph.table(path)
        if table is None:
            raise PolicyError(where, f"expected a table with outputPath {path!r}")
        here = f"{where} › node {table.name!r}"
        if table.hit_policy != wanted.hit_policy:
            raise PolicyError(here, f"expected hitPolicy {wanted.hit_policy!r}")
        fields = {c.field: n for n, c in enumerate(table.outputs)}
        for name, column in wanted.columns.items():
            if name not in fields:
                if not column.required:
                    continue
                raise PolicyError(here, f"expected an output column with field {name!r}")
            position = fields[name]
            types = {rule.outputs[position].type for rule in table.rules} - {"null"}
            if types - {column.type}:
                raise PolicyError(
                    f"{here} › column {table.outputs[position].name!r}",
                    f"expected {column.type} values",
                )
            if column.vocabulary is not None:
                _check_vocabulary(table, position, column.vocabulary, texts)


def load_bundle(text: str, catalog: Catalog, contracts: Mapping[str, Contract]) -> Bundle:
    """Read and check a policy file; :class:`PolicyError` says where it is wrong."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError("", f"not JSON: {exc}") from exc
    document = _object(raw, "policy")
    if document.get("format") != FORMAT:
        raise PolicyError("format", f"expected {FORMAT!r}")
    group = document.get("group")
    groups = sorted({p.group for p in catalog.providers})
    if group not in groups:
        raise PolicyError("group", f"expected one of {groups}, got {group!r}")
    version = document.get("version")
    if not isinstance(version, str) or not 0 < len(version) <= 64:
        raise PolicyError("version", "expected a version of 1 to 64 characters")
    texts = {
        "reasons": _texts(document.get("reasons", {}), "reasons"),
        "documents": _texts(document.get("documents", {}), "documents"),
    }
    decisions = _object(document.get("decisions"), "decisions")
    if unknown := sorted(set(decisions) - set(contracts)):
        raise PolicyError(
            "decisions", f"unknown decision {unknown[0]!r}; known: {sorted(contracts)}"
        )
    graphs = {}
    for kind, contract in contracts.items():
        if kind not in decisions:
            if contract.required:
                raise PolicyError("decisions", f"expected a {kind!r} graph")
            continue
        graph = parse_graph(decisions[kind], contract.inputs, kind)
        _check_contract(graph, contract, kind, texts)
        graphs[kind] = graph
    return Bundle(
        group=group,
        version=version,
        description=str(document.get("description", "")),
        reasons=texts["reasons"],
        documents=texts["documents"],
        pricing=_pricing(document.get("pricing", {}), catalog, group),
        graphs=graphs,
        digest=hashlib.sha256(text.encode()).hexdigest(),
        text=text,
    )
