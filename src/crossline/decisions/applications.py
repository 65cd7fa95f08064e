"""Credit applications: apply, and re-decide when the documents asked for arrive.

``apply`` reads the deciding group's view of the borrower (its own lines now,
other groups through the bureau), scores it, runs the group's policy and
records the report pull as a ``loan_approval`` inquiry. The score is the one
the report supported before this pull: a lender's own inquiry is the act of
reading the report, not something on it.

The outcome is ``approved`` (a line is opened with the offered limit and the
price of the offered tier; the APR is shown), ``referred`` (the documents the
policy asks for) or ``declined``. Any matching veto declines whatever the
score. Up to four reasons go with an outcome, in plain language with codes:
the vetoes, the offer's own reason, then what holds the score down most.

``submit_document`` and ``verify_document`` re-decide the same application
with the document's state as an input; verifying an income proof also
records the borrower's verified income, which every group's view then shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crossline.bureau.inquiries import queue_inquiry
from crossline.catalog import Product
from crossline.catalog.apr import tier_apr
from crossline.decisions.inputs import (
    GROUP_LINES,
    STORED,
    View,
    borrower_view,
    group_lines_of,
    stored_keys,
)
from crossline.decisions.policies import IN_FORCE, policy_for
from crossline.decisions.records import MAX_REASONS, DecisionRecord, Reason, record_decision
from crossline.events.notifications import Notice, notify
from crossline.events.outbox import Event, emit
from crossline.money import format_fen
from crossline.policy.bundle import Bundle
from crossline.policy.evaluate import Result, evaluate
from crossline.scoring.scorecard import Scorecard, default_scorecard
from crossline.servicing.context import BORROWER, Context, unknown_borrower
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.lines import LINE, catalog_product, insert_line
from crossline.store.ids import allocate_many
from crossline.store.inserts import Inserts, insert_rows
from crossline.store.schema import (
    applications,
    borrower_limits,
    borrowers,
    credit_lines,
    documents,
)

STATUS = {"approve": "approved", "refer": "referred", "decline": "declined"}
MIN_LIMIT_FEN = 10_000
"""The smallest line worth opening (100.00); a smaller offered limit declines."""

PLATFORM_REASONS = {
    "policy_no_match": "No rule of our lending policy covers this application.",
    "no_limit_left": "Your credit lines with us already use all the credit we can extend.",
    "credit_cap_reached": (
        "Your credit lines with us already add up to the most the rules let one lender "
        "grant one borrower."
    ),
}
"""Reasons the platform itself gives, beside those of a policy."""

DOCUMENT_KINDS = ("income_proof",)
"""Documents the platform knows how to check."""


@dataclass(frozen=True, slots=True)
class ApplicationResult:
    application_id: int
    decision_id: int
    borrower_id: str
    product: str
    status: str
    score: int
    policy_version: str
    arm: str
    reasons: tuple[Reason, ...]
    documents: tuple[str, ...] = ()
    limit_fen: int | None = None
    tier: str | None = None
    rate: Decimal | None = None
    apr: Decimal | None = None
    credit_line_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The result as a command reports it: amounts and rates as text."""
        return {
            "application_id": self.application_id,
            "decision_id": self.decision_id,
            "status": self.status,
            "score": self.score,
            "policy_version": self.policy_version,
            "arm": self.arm,
            "reasons": [{"code": r.code, "text": r.text} for r in self.reasons],
            "documents": list(self.documents),
            "limit": None if self.limit_fen is None else format_fen(self.limit_fen),
            "tier": self.tier,
            "rate": None if self.rate is None else str(self.rate),
            "apr": None if self.apr is None else str(self.apr),
            "credit_line_id": self.credit_line_id,
        }


@dataclass(frozen=True, slots=True)
class _Request:
    application_id: int | None
    """None for a new application until its decision is written: the id comes from a
    counter row that stays locked until commit, so it is taken as late as possible,
    once the policy has decided, with the decision's and the notification's."""
    borrower_id: str
    product: Product
    group: str
    requested_limit_fen: int | None
    income_proof: str


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: str
    reasons: tuple[Reason, ...]
    documents: tuple[str, ...] = ()
    limit_fen: int | None = None
    tier: str | None = None
    borrower_limit_fen: int | None = None


def _unique(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


def _adverse(bundle: Bundle, codes: list[str], view: View) -> tuple[Reason, ...]:
    """Policy and platform reasons first, then the score's, up to four in all."""
    texts = {**PLATFORM_REASONS, **bundle.reasons}
    reasons = [Reason(code, texts[code]) for code in _unique(codes)]
    return (*reasons, *view.reasons)[:MAX_REASONS]


def _fen(value: Decimal | None) -> int | None:
    """A policy's amount in whole fen, rounded down (a limit is never rounded up)."""
    return None if value is None else max(0, int(value.to_integral_value(ROUND_FLOOR)))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an application result comes to: the outcome, an approval's limit, and the
    platform's own reason when the platform, not the policy, declines."""

    status: str
    limit_fen: int | None = None
    platform_reason: str | None = None


def verdict(
    vetoed: bool,
    offer_outcome: str | None,
    offer_limit: Decimal | None,
    offer_borrower_limit: Decimal | None,
    requested_limit_fen: int | None,
    max_limit_fen: int,
    headroom_fen: int,
) -> Verdict:
    """The platform's rule from a policy's result to an outcome, for one decision and for a
    backtest's replay of thousands (the one rule for both): any veto declines; no offer
    declines; an approval's limit is the offer's amount floored to the fen (none counts
    as 0), capped by the product's maximum and the requested limit, then by
    ``headroom_fen`` (what the borrower credit cap leaves beside the group's open
    lines), declined under ``MIN_LIMIT_FEN`` (naming the cap when it alone is the
    cause), then capped by the offer's borrower-level limit."""
    if vetoed:
        return Verdict("declined")
    if offer_outcome is None:
        return Verdict("declined", platform_reason="policy_no_match")
    status = STATUS[offer_outcome]
    if status != "approved":
        return Verdict(status)
    caps = [max_limit_fen] if requested_limit_fen is None else [max_limit_fen, requested_limit_fen]
    wanted = max(0, min(_fen(offer_limit) or 0, *caps))
    limit = min(wanted, max(0, headroom_fen))
    if limit < MIN_LIMIT_FEN:
        reason = "credit_cap_reached" if wanted >= MIN_LIMIT_FEN else "no_limit_left"
        return Verdict("declined", platform_reason=reason)
    borrower_limit = _fen(offer_borrower_limit)
    return Verdict(status, limit if borrower_limit is None else min(limit, borrower_limit))


def _interpret(
    bundle: Bundle, result: Result, request: _Request, view: View, cap_fen: int, headroom_fen: int
) -> _Outcome:
    """A policy result as an outcome: ``verdict`` decides it; what is left is what to tell
    the borrower, the platform's reason if it declined, else the vetoes, else the
    offer's own reason (and a referral's documents). A group-wide borrower limit is
    never set above the cap."""
    vetoes = [row["code"] for row in result["veto"]]
    offer = result["offer"] or {}
    decided = verdict(
        bool(vetoes),
        offer.get("outcome"),
        offer.get("limit_fen"),
        offer.get("borrower_limit_fen"),
        request.requested_limit_fen,
        request.product.max_limit_fen,
        headroom_fen,
    )
    if decided.status == "approved":
        borrower_limit = _fen(offer.get("borrower_limit_fen"))
        return _Outcome(
            "approved",
            (),
            limit_fen=decided.limit_fen,
            tier=offer.get("tier"),
            borrower_limit_fen=None if borrower_limit is None else min(borrower_limit, cap_fen),
        )
    platform = [decided.platform_reason] if decided.platform_reason else []
    offered = [offer["reason"]] if offer.get("reason") else []
    documents = tuple(offer["documents"] or ()) if decided.status == "referred" else ()
    return _Outcome(
        decided.status, _adverse(bundle, platform or vetoes or offered, view), documents
    )


def _price(bundle: Bundle, product: Product, tier: str | None) -> Decimal | None:
    if product.kind == "revolving" or tier is None:
        return None
    return bundle.pricing[product.id][tier]


def _notify(
    ctx: Context,
    request: _Request,
    result: ApplicationResult,
    line_id: int | None,
    notification_id: int,
    later: Inserts,
) -> None:
    payload = {
        "application_id": result.application_id,
        "status": result.status,
        "reasons": [{"code": r.code, "text": r.text} for r in result.reasons],
        "documents": list(result.documents),
        "limit": None if result.limit_fen is None else format_fen(result.limit_fen),
        "apr": None if result.apr is None else str(result.apr),
    }
    notice = Notice(
        borrower_id=request.borrower_id,
        shard=ctx.shard(request.borrower_id),
        business_date=ctx.today,
        kind="application_decision",
        payload=payload,
        product=request.product.id,
        credit_line_id=line_id,
    )
    notify(ctx.conn, [notice], notification_id, later)


def _decide(
    ctx: Context, request: _Request, card: Scorecard, later: Inserts, checked: sa.RowMapping
) -> ApplicationResult:
    """Decide ``request`` on ``checked``, the row of ``_before_deciding``'s columns, and
    write what the decision makes: its line at once (its id is needed), then into
    ``later``, which the caller sends with the application's own row, the borrower limit,
    the decision and its notification, and for a new application (no ``application_id``
    yet) the bureau pull it made. The ids are reserved together, one round trip, after
    the line: the counter rows stay locked until commit, and every other application
    waits for them."""
    view = borrower_view(
        ctx.conn, ctx.catalog, request.group, request.borrower_id, ctx.today, card, checked
    )
    lines = group_lines_of(checked)
    income = view.inputs["verified_income_fen"] or view.inputs["declared_income_fen"]
    inputs = (
        view.inputs
        | {
            "product": request.product.id,
            "product_kind": request.product.kind,
            "requested_limit_fen": request.requested_limit_fen,
            "monthly_income_fen": income,
            "income_proof": request.income_proof,
        }
        | lines
    )
    bundle, arm = policy_for(ctx, request.group, request.borrower_id, checked)
    result = evaluate(bundle.graphs["application"], inputs)
    cap_fen = ctx.catalog.borrower_credit_cap_fen
    outcome = _interpret(
        bundle, result, request, view, cap_fen, cap_fen - inputs["group_limit_fen"]
    )
    rate = _price(bundle, request.product, outcome.tier) if outcome.status == "approved" else None
    line_id = None
    if outcome.status == "approved":
        assert outcome.limit_fen is not None
        daily = rate if request.product.kind == "cash_loan" else None
        fee = rate if request.product.kind == "installment" else None
        line_id = insert_line(
            ctx, request.borrower_id, request.product, outcome.limit_fen, daily, fee
        )
        if outcome.borrower_limit_fen is not None:
            limit = outcome.borrower_limit_fen
            set_borrower_limit(ctx, request.borrower_id, request.group, limit, later)
    wanted = {"decision": 1, "notification": 1}
    if request.application_id is None:
        wanted |= {"application": 1, "outbox": 1}
    ids = allocate_many(ctx.conn, wanted)
    application_id = ids.get("application", request.application_id)
    assert application_id is not None
    decision_id = record_decision(
        ctx.conn,
        DecisionRecord(
            borrower_id=request.borrower_id,
            shard=ctx.shard(request.borrower_id),
            lender_group=request.group,
            product=request.product.id,
            credit_line_id=line_id,
            application_id=application_id,
            kind="application",
            business_date=ctx.today,
            policy_version=bundle.version,
            arm=arm,
            outcome=outcome.status,
            score=view.score,
            reasons=outcome.reasons,
            inputs=inputs,
            outputs=result,
        ),
        ids["decision"],
        later,
    )
    decided = ApplicationResult(
        application_id=application_id,
        decision_id=decision_id,
        borrower_id=request.borrower_id,
        product=request.product.id,
        status=outcome.status,
        score=view.score,
        policy_version=bundle.version,
        arm=arm,
        reasons=outcome.reasons,
        documents=outcome.documents,
        limit_fen=outcome.limit_fen,
        tier=outcome.tier,
        rate=rate,
        apr=tier_apr(request.product, rate) if outcome.status == "approved" else None,
        credit_line_id=line_id,
    )
    _notify(ctx, request, decided, line_id, ids["notification"], later)
    if request.application_id is None:
        queue_inquiry(
            ctx, request.borrower_id, request.group, "loan_approval", ids["outbox"], later
        )
    return decided


def set_borrower_limit(
    ctx: Context, borrower_id: str, group: str, limit_fen: int, later: Inserts | None = None
) -> None:
    """Set the group's borrower-level limit (the latest assessment replaces the last);
    ``later``: as for ``store.numbered.append_rows``."""
    row = {
        "borrower_id": borrower_id,
        "shard": ctx.shard(borrower_id),
        "lender_group": group,
        "limit_fen": limit_fen,
        "set_on": ctx.today,
    }
    insert_rows(ctx.conn, _SET_BORROWER_LIMIT[ctx.conn.dialect.name], [row], later)


def _upsert_borrower_limit(insert: Any) -> sa.Insert:
    statement = insert(borrower_limits)
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=["borrower_id", "lender_group"],
        set_={"limit_fen": statement.excluded.limit_fen, "set_on": statement.excluded.set_on},
    )


_SET_BORROWER_LIMIT = {
    "sqlite": _upsert_borrower_limit(sqlite.insert),
    "postgresql": _upsert_borrower_limit(postgresql.insert),
}


def _store(
    ctx: Context, request: _Request, decided: ApplicationResult, new: bool, later: Inserts
) -> None:
    """The application's row: a new one joins the decision's inserts (``later``); a
    re-decided one is updated at once."""
    values = {
        "status": decided.status,
        "decided_on": ctx.today,
        "decision_id": decided.decision_id,
        "documents_required": json.dumps(list(decided.documents)),
        "credit_line_id": decided.credit_line_id,
    }
    if new:
        row = {
            "application_id": request.application_id,
            "borrower_id": request.borrower_id,
            "shard": ctx.shard(request.borrower_id),
            "product": request.product.id,
            "lender_group": request.group,
            "requested_limit_fen": request.requested_limit_fen,
            "applied_on": ctx.today,
        }
        later.add(_INSERT_APPLICATION, [row | values])
        return
    ctx.conn.execute(
        sa.update(applications)
        .where(applications.c.application_id == request.application_id)
        .values(**values)
    )


def apply(
    ctx: Context,
    borrower_id: str,
    product_id: str,
    requested_limit_fen: int | None = None,
    card: Scorecard | None = None,
) -> ApplicationResult:
    """Decide an application for a line of ``product_id``; open the line if approved."""
    product = catalog_product(ctx, product_id)
    if requested_limit_fen is not None and requested_limit_fen <= 0:
        raise InputError("requested_limit", "expected a positive amount")
    group = ctx.catalog.group_of(product_id)
    keys = stored_keys(ctx.catalog, group, borrower_id) | {"product": product_id}
    checked = ctx.conn.execute(_BEFORE_APPLYING, keys).mappings().one()
    if not checked["known"]:
        raise unknown_borrower(borrower_id)
    if checked["line"] is not None:
        raise RefusedError("line_exists", f"{borrower_id!r} already has a {product_id} line")
    if checked["referral"] is not None:
        raise RefusedError(
            "application_pending",
            f"application {checked['referral']} for {product_id} is waiting for documents",
        )
    request = _Request(
        application_id=None,
        borrower_id=borrower_id,
        product=product,
        group=group,
        requested_limit_fen=requested_limit_fen,
        income_proof="none",
    )
    later = Inserts()
    decided = _decide(ctx, request, card or default_scorecard(), later, checked)
    _store(ctx, replace(request, application_id=decided.application_id), decided, True, later)
    later.send(ctx.conn)
    return decided


def _redecide(ctx: Context, request: _Request, card: Scorecard) -> ApplicationResult:
    """Decide a referred application again, now with its documents, and store the outcome."""
    keys = stored_keys(ctx.catalog, request.group, request.borrower_id)
    checked = ctx.conn.execute(_BEFORE_DECIDING, keys).mappings().one()
    later = Inserts()
    decided = _decide(ctx, request, card, later, checked)
    _store(ctx, request, decided, False, later)
    later.send(ctx.conn)
    return decided


def _request(ctx: Context, application_id: int, income_proof: str) -> _Request:
    a = applications.c
    row = ctx.conn.execute(
        sa.select(a.borrower_id, a.product, a.lender_group, a.requested_limit_fen, a.status).where(
            a.application_id == application_id
        )
    ).one_or_none()
    if row is None:
        raise RefusedError("unknown_application", f"there is no application {application_id}")
    if row.status != "referred":
        raise RefusedError(
            "not_referred",
            f"application {application_id} is {row.status}, not waiting for documents",
        )
    return _Request(
        application_id=application_id,
        borrower_id=row.borrower_id,
        product=ctx.catalog.product(row.product),
        group=row.lender_group,
        requested_limit_fen=row.requested_limit_fen,
        income_proof=income_proof,
    )


def _required(ctx: Context, application_id: int) -> list[str]:
    text = ctx.conn.execute(
        sa.select(applications.c.documents_required).where(
            applications.c.application_id == application_id
        )
    ).scalar_one()
    return list(json.loads(text))


_INSERT_APPLICATION = applications.insert()
_REFERRED = sa.select(applications.c.application_id).where(
    applications.c.borrower_id == sa.bindparam("borrower_id"),
    applications.c.product == sa.bindparam("product"),
    applications.c.status == "referred",
)


def _before_deciding(stored: sa.Select[Any]) -> sa.Select[Any]:
    """What a decision reads, in one round trip: the borrower's lines with the group
    (``inputs.GROUP_LINES``), ``stored``, the group's stored view of them
    (``inputs.STORED``; nulls if there is none), and the group's policies in force
    (``policies.IN_FORCE``). Bound: ``inputs.stored_keys``."""
    group = GROUP_LINES.subquery("group_lines")
    view = stored.subquery("stored")
    return sa.select(*group.c, *view.c, *IN_FORCE).select_from(group.outerjoin(view, sa.true()))


def _before_applying(stored: sa.Select[Any]) -> sa.Select[Any]:
    """``_before_deciding``'s read, and what a new application is checked against: whether
    the borrower is known, their line of the product and their application waiting for
    documents, if any. Bound: ``inputs.stored_keys`` and ``product``."""
    return _before_deciding(stored).add_columns(
        BORROWER.exists().label("known"),
        LINE.with_only_columns(credit_lines.c.credit_line_id).scalar_subquery().label("line"),
        _REFERRED.scalar_subquery().label("referral"),
    )


_BEFORE_DECIDING = _before_deciding(STORED)
_BEFORE_APPLYING = _before_applying(STORED)


def _referred(ctx: Context, borrower_id: str, product_id: str) -> int | None:
    found = ctx.conn.execute(
        _REFERRED, {"borrower_id": borrower_id, "product": product_id}
    ).scalar_one_or_none()
    return None if found is None else int(found)


def referred_application(ctx: Context, borrower_id: str, product_id: str) -> int:
    """The borrower's application for a product that is waiting for documents."""
    found = _referred(ctx, borrower_id, product_id)
    if found is None:
        raise RefusedError(
            "no_referred_application",
            f"{borrower_id!r} has no {product_id} application waiting for documents",
        )
    return found


def submitted_document(ctx: Context, application_id: int, kind: str) -> int:
    """The latest document of a kind filed for an application and not yet checked."""
    d = documents.c
    found = ctx.conn.execute(
        sa.select(sa.func.max(d.document_id)).where(
            d.application_id == application_id, d.kind == kind, d.status == "submitted"
        )
    ).scalar_one()
    if found is None:
        raise RefusedError(
            "no_submitted_document", f"application {application_id} has no {kind} to check"
        )
    return int(found)


def submit_document(
    ctx: Context,
    application_id: int,
    kind: str,
    monthly_income_fen: int | None = None,
    card: Scorecard | None = None,
) -> ApplicationResult:
    """File a document a referred application asked for, and re-decide it."""
    request = _request(ctx, application_id, "submitted")
    required = _required(ctx, application_id)
    if kind not in required:
        raise InputError("kind", f"expected one of the documents asked for: {', '.join(required)}")
    if kind == "income_proof" and (monthly_income_fen is None or monthly_income_fen <= 0):
        raise InputError("monthly_income", "an income proof states a positive monthly income")
    ctx.conn.execute(
        sa.insert(documents).values(
            borrower_id=request.borrower_id,
            shard=ctx.shard(request.borrower_id),
            application_id=application_id,
            kind=kind,
            status="submitted",
            monthly_income_fen=monthly_income_fen,
            submitted_on=ctx.today,
        )
    )
    return _redecide(ctx, request, card or default_scorecard())


def verify_document(
    ctx: Context,
    document_id: int,
    verified: bool,
    note: str | None = None,
    card: Scorecard | None = None,
) -> ApplicationResult:
    """Accept or reject a submitted document and re-decide its application; an accepted
    income proof becomes the borrower's verified income."""
    d = documents.c
    row = ctx.conn.execute(
        sa.select(d.application_id, d.borrower_id, d.kind, d.status, d.monthly_income_fen).where(
            d.document_id == document_id
        )
    ).one_or_none()
    if row is None:
        raise RefusedError("unknown_document", f"there is no document {document_id}")
    if row.status != "submitted":
        raise RefusedError("already_checked", f"document {document_id} is already {row.status}")
    request = _request(ctx, row.application_id, "verified" if verified else "rejected")
    ctx.conn.execute(
        sa.update(documents)
        .where(d.document_id == document_id)
        .values(status="verified" if verified else "rejected", checked_on=ctx.today, note=note)
    )
    if verified and row.kind == "income_proof":
        ctx.conn.execute(
            sa.update(borrowers)
            .where(borrowers.c.borrower_id == row.borrower_id)
            .values(verified_income_fen=row.monthly_income_fen)
        )
        shard = ctx.shard(row.borrower_id)
        emit(ctx.conn, [Event(row.borrower_id, shard, ctx.today, "income_verified", payload={})])
    return _redecide(ctx, request, card or default_scorecard())
