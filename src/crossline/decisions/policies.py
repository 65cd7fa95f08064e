"""Which policy decides for a borrower: versions, roles, and the champion/challenger split.

A group's policy versions live in the ``policies`` table. Uploading checks a
file and keeps it as a ``draft``; activating makes a version the group's
``champion`` (the previous one is ``retired``) or its ``challenger`` for a
share of borrowers. A borrower's arm comes from a stable hash of the borrower
and the group, so the same borrower meets the same version on every decision
while the split lasts, and the groups' splits are independent. A group with no
stored champion decides with the default policy shipped in the package
(``decisions/policies/<group>.json``).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any, Literal

import sqlalchemy as sa

from crossline.catalog import Catalog, catalog_from_json
from crossline.catalog.apr import tier_apr
from crossline.decisions.contracts import CONTRACTS
from crossline.policy.bundle import Bundle, load_bundle
from crossline.policy.cells import Constant
from crossline.policy.errors import PolicyError
from crossline.policy.jdm import Rule, Table
from crossline.servicing.context import Context
from crossline.servicing.errors import RefusedError
from crossline.store import platform
from crossline.store.schema import policies

Arm = Literal["champion", "challenger"]


def _constant(table: Table, rule: Rule, field: str) -> object:
    """The literal a row writes in an output column (None for an expression or null)."""
    node = rule.outputs[[c.field for c in table.outputs].index(field)].expression
    return node.value if isinstance(node, Constant) else None


def _check_offer(bundle: Bundle, catalog: Catalog) -> None:
    """Every price tier an offer can name has a rate for each priced product of the
    group, and every referral names the documents it asks for."""
    table = bundle.graphs["application"].table("offer")
    assert table is not None
    priced = [p.id for p in catalog.products_in_group(bundle.group) if p.kind != "revolving"]
    names = {c.field: c.name for c in table.outputs}
    for rule in table.rules:
        where = f"application › node {table.name!r} › row {rule.id!r}"
        if _constant(table, rule, "outcome") == "refer" and not _constant(table, rule, "documents"):
            raise PolicyError(
                f"{where} › column {names['documents']!r}", "a referral names its documents"
            )
        tier = _constant(table, rule, "tier")
        if tier is None:
            continue
        for product in priced:
            if tier not in bundle.pricing.get(product, {}):
                raise PolicyError(
                    f"{where} › column {names['tier']!r}",
                    f"tier {tier!r} has no price for {product} in 'pricing'",
                )


@functools.lru_cache(maxsize=32)
def _load(text: str, catalog_text: str) -> Bundle:
    catalog = catalog_from_json(catalog_text)
    bundle = load_bundle(text, catalog, CONTRACTS)
    _check_offer(bundle, catalog)
    _solve_tier_aprs(bundle, catalog)
    return bundle


def _solve_tier_aprs(bundle: Bundle, catalog: Catalog) -> None:
    """Solve the APR an approval shows for every priced tier now, once per loaded policy,
    rather than in the first approval at each tier (about 10 ms each: the p99 of
    ``benchmarks/decide.py`` was made of them)."""
    for product_id, tiers in bundle.pricing.items():
        product = catalog.product(product_id)
        for rate in tiers.values():
            tier_apr(product, rate)


def check_policy(conn: sa.Connection, text: str) -> Bundle:
    """A policy file checked against the contracts and the catalog in force."""
    return _load(text, platform.catalog_json(conn))


@functools.lru_cache(maxsize=16)
def default_policy_text(group: str) -> str:
    """The shipped default policy of a group (read once: it ships with the package)."""
    path = resources.files("crossline.decisions").joinpath("policies", f"{group}.json")
    if not path.is_file():
        raise RefusedError("no_policy", f"group {group!r} has no policy")
    return path.read_text(encoding="utf-8")


def upload_policy(conn: sa.Connection, text: str, today: date) -> Bundle:
    """Check a policy file and keep it as a draft; the same file twice is one upload."""
    bundle = check_policy(conn, text)
    p = policies.c
    stored = conn.execute(
        sa.select(p.digest).where(p.lender_group == bundle.group, p.version == bundle.version)
    ).scalar_one_or_none()
    if stored is not None:
        if stored != bundle.digest:
            raise RefusedError(
                "version_exists",
                f"{bundle.group} already has a different policy {bundle.version!r}; "
                "give the new one its own version",
            )
        return bundle
    conn.execute(
        sa.insert(policies).values(
            lender_group=bundle.group,
            version=bundle.version,
            document=text,
            digest=bundle.digest,
            role="draft",
            uploaded_on=today,
        )
    )
    return bundle


def policy_role(conn: sa.Connection, group: str, version: str) -> str:
    """The role of an uploaded version: draft, champion, challenger or retired."""
    p = policies.c
    role: str = conn.execute(
        sa.select(p.role).where(p.lender_group == group, p.version == version)
    ).scalar_one()
    return role


def activate_policy(
    conn: sa.Connection, group: str, version: str, today: date, challenger_share: int | None = None
) -> None:
    """Make a stored version the champion, or (with a share, 1–99 %) the challenger."""
    if challenger_share is not None and not 1 <= challenger_share <= 99:
        raise RefusedError("invalid_share", "challenger_share: expected 1 to 99 (per cent)")
    p = policies.c
    found = conn.execute(
        sa.select(p.policy_id, p.document).where(p.lender_group == group, p.version == version)
    ).one_or_none()
    if found is None:
        raise RefusedError("unknown_policy", f"{group} has no uploaded policy {version!r}")
    check_policy(conn, found.document)  # the catalog may have changed since the upload
    role = "champion" if challenger_share is None else "challenger"
    conn.execute(
        sa.update(policies)
        .where(p.lender_group == group, p.role == role)
        .values(role="retired", challenger_share=None)
    )
    conn.execute(
        sa.update(policies)
        .where(p.policy_id == found.policy_id)
        .values(role=role, challenger_share=challenger_share, activated_on=today)
    )


@dataclass(frozen=True, slots=True)
class Arms:
    """A group's policies in force: the champion, and a challenger with its share."""

    champion: Bundle
    challenger: Bundle | None
    share: int


def _in_force(role: Arm, column: sa.Column[Any]) -> sa.ScalarSelect[Any]:
    p = policies.c
    return (
        sa.select(column)
        .where(p.lender_group == sa.bindparam("group"), p.role == role)
        .scalar_subquery()
    )


IN_FORCE = (
    _in_force("champion", policies.c.digest).label("champion_digest"),
    _in_force("challenger", policies.c.digest).label("challenger_digest"),
    _in_force("challenger", policies.c.challenger_share).label("challenger_share"),
)
"""The columns that name a group's policies in force (bound: ``group``), by digest: a
decision reads them inside the statement that reads its other inputs, and a document
(30 KB) is read only the first time its digest is met (``arms_in``)."""
_IN_FORCE = sa.select(*IN_FORCE)


def policies_in_force(conn: sa.Connection, group: str, catalog_json: str) -> Arms:
    """The group's champion and challenger, checked against the catalog (``catalog_json``,
    as stored)."""
    row = conn.execute(_IN_FORCE, {"group": group}).mappings().one()
    return arms_in(conn, group, row, catalog_json)


def arms_in(conn: sa.Connection, group: str, in_force: sa.RowMapping, catalog_json: str) -> Arms:
    """The arms a row of ``IN_FORCE``'s columns names; a group with no stored champion
    decides with its shipped default. Checking is cached per document and catalog."""
    champion = in_force["champion_digest"]
    challenger = in_force["challenger_digest"]
    return Arms(
        champion=_load(
            _document(conn, champion) if champion else default_policy_text(group), catalog_json
        ),
        challenger=_load(_document(conn, challenger), catalog_json) if challenger else None,
        share=int(in_force["challenger_share"]) if challenger else 0,
    )


_DOCUMENTS: dict[str, str] = {}
"""Policy documents by digest: a digest names one text (it is the text's SHA-256), so a
document read once never needs reading again."""
_DOCUMENTS_KEPT = 32


def _document(conn: sa.Connection, digest: str) -> str:
    text = _DOCUMENTS.get(digest)
    if text is None:
        p = policies.c
        text = conn.execute(sa.select(p.document).where(p.digest == digest).limit(1)).scalar_one()
        if len(_DOCUMENTS) >= _DOCUMENTS_KEPT:
            _DOCUMENTS.pop(next(iter(_DOCUMENTS)), None)
        _DOCUMENTS[digest] = text
    return text


def arm_of(borrower_id: str, group: str, share: int) -> Arm:
    """The borrower's arm: a stable hash into 100 buckets; the first ``share`` are challenger."""
    digest = hashlib.sha256(f"{group}:{borrower_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    return "challenger" if bucket < share else "champion"


def policy_for(
    ctx: Context, group: str, borrower_id: str, in_force: sa.RowMapping | None = None
) -> tuple[Bundle, Arm]:
    """The policy that decides for this borrower in this group, and which arm it is;
    ``in_force``: the row of ``IN_FORCE``'s columns if the caller has read it."""
    if in_force is None:
        arms = policies_in_force(ctx.conn, group, ctx.catalog_json)
    else:
        arms = arms_in(ctx.conn, group, in_force, ctx.catalog_json)
    arm = arm_of(borrower_id, group, arms.share)
    if arm == "challenger" and arms.challenger is not None:
        return arms.challenger, arm
    return arms.champion, "champion"
