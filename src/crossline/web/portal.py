"""The borrower portal: a borrower's own credit across every product and lender group.

Each page reads through the API's route functions as the logged-in borrower, so the
portal shows exactly what ``GET /v1/borrowers/{me}/…`` would, and every form runs
the command the API runs, with its audit entry.

Forms follow Post/Redirect/Get: a command's page redirects (303) to a page that shows
a fixed confirmation chosen by a short word in the query (``?done=repaid``), so a
reload never posts again and no query text is ever echoed onto a page.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any

import plotly.graph_objects as go
import sqlalchemy as sa
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from plotly.subplots import make_subplots
from pydantic import BaseModel, ConfigDict, Field

from crossline.api.access import Caller, engine_of
from crossline.api.errors import ApiError, not_found
from crossline.api.routes import borrowers, bureau, whatif
from crossline.api.routes.commands import execute
from crossline.bureau.inquiries import FREE_SELF_QUERIES_PER_YEAR, self_queries_this_year
from crossline.bureau.report import grid_months
from crossline.catalog import Catalog
from crossline.events.preferences import languages_of
from crossline.events.templates import LANGUAGES
from crossline.kernels.bureau import NEGATIVE_STATUSES
from crossline.money import FEN_PER_YUAN, parse_amount
from crossline.scenario.spec import ConvertStatement, Dispute, Repay, SetLanguage, Statement
from crossline.servicing.context import open_context
from crossline.store.schema import bureau_disputes, bureau_explanations
from crossline.web.pages import PageRoute, chart, page
from crossline.web.session import BORROWERS, CsrfField, check_csrf, viewer

router = APIRouter(prefix="/portal", route_class=PageRoute)

LIMIT_DECISIONS = frozenset({"application", "review"})
"""The decisions that set or change a line's limit or status."""

DONE = {
    "repaid": "Your payment was taken.",
    "replayed": "That form had already been sent: nothing was taken or done twice.",
    "converted": "Your statement was turned into monthly installments.",
    "disputed": "Your dispute was filed: the lender must answer it within 20 days.",
    "explained": "Your statement was attached to the record.",
    "language": "Your notifications will be written in the language you chose.",
}
"""The confirmations a redirect may ask a page to show, by the word in ``?done=``."""

DUES_DAYS = 60
"""How far ahead the dues calendar looks."""

NOT_DUE_ROWS = frozenset({"paid", "written_off", "cycle"})
"""Schedule rows the dues calendar leaves out: settled, written off, or a revolving
cycle not yet billed (its amount is not known until the statement)."""

PAY_CHOICES = frozenset({"amount", "all_due", "all"})
"""What the repay form may ask to pay: the amount typed, everything due, everything owed."""


def _me(request: Request) -> tuple[Caller, str]:
    who = viewer(request, BORROWERS)
    assert who.principal.borrower_id is not None, "a borrower user is bound to a borrower"
    return who, who.principal.borrower_id


def _done(done: str | None) -> str | None:
    """The fixed message a redirect asked for; unknown words show nothing."""
    return DONE.get(done or "")


def _book(request: Request) -> tuple[date, Catalog]:
    """Today's business date and the catalog, as the services read them."""
    with engine_of(request).connect() as conn:
        ctx = open_context(conn)
        return ctx.today, ctx.catalog


def limit_history(request: Request, who: Caller, me: str) -> dict[str, list[dict[str, Any]]]:
    """Per product, the decisions that set or changed its line, newest first."""
    history: dict[str, list[dict[str, Any]]] = {}
    for decision in borrowers.borrower_decisions(me, request, who):
        if decision["kind"] in LIMIT_DECISIONS and decision["product"] is not None:
            history.setdefault(decision["product"], []).append(decision)
    return history


def owed_fen(line: dict[str, Any]) -> int:
    """Everything owed on a line (principal, interest, penalty, fees), in fen."""
    return sum(parse_amount(amount) for amount in line["outstanding"].values())


def _line(request: Request, who: Caller, me: str, product: str) -> dict[str, Any]:
    """My line of ``product``, as the API shows it; 404 for a product I do not hold,
    exactly as for one that does not exist."""
    for line in borrowers.lines(me, request, who):
        if line["product"] == product:
            return line
    raise not_found("line")


def row_fen(row: dict[str, Any]) -> tuple[int, int]:
    """A schedule row's amount and what is paid of it, in fen."""
    components = ("principal", "interest", "fee", "penalty")
    amount = sum(parse_amount(row[name]) for name in components)
    paid = sum(parse_amount(row["paid"][name]) for name in components)
    return amount, paid


def _conversion_offers(line: dict[str, Any], catalog: Catalog, today: date) -> list[dict[str, Any]]:
    """The bill-installment plans the latest statement may still turn into: a revolving
    line's offers, while its latest statement is not yet due and the line is current
    (the service refuses otherwise, with its reason)."""
    product = catalog.product(line["product"])
    statements = line["statements"]
    if product.kind != "revolving" or not statements or line["dpd"] > 0:
        return []
    if date.fromisoformat(str(statements[-1]["due_date"])) < today:
        return []
    return [
        {"months": o.months, "fee_percent": format((o.fee_rate * 100).normalize(), "f")}
        for o in product.bill_installments
    ]


@router.get("")
def home(request: Request) -> Response:
    """My score in each lender group's view with its reasons, my lines and what last
    changed each of them, and my early warning with its advice."""
    who, me = _me(request)
    return page(
        request,
        "portal/home.html",
        who,
        scores=borrowers.scores(me, request, who),
        lines=[line | {"owed_fen": owed_fen(line)} for line in borrowers.lines(me, request, who)],
        history=limit_history(request, who, me),
        profile=borrowers.profile(me, request, who),
        warning=borrowers.early_warning(me, request, who),
    )


@router.get("/lines/{product}")
def line_page(request: Request, product: str, done: str | None = None) -> Response:
    """One of my lines: where it stands, what changed its limit and why, its statements,
    its loans with their schedules, and the forms to repay or convert a statement."""
    who, me = _me(request)
    line = _line(request, who, me, product)
    today, catalog = _book(request)
    loans = [
        loan | {"rows": [row | {"unpaid_fen": _unpaid(row)} for row in loan["schedule"]]}
        for loan in line["loans"]
    ]
    return page(
        request,
        "portal/line.html",
        who,
        line=line,
        name=catalog.product(product).name,
        owed_fen=owed_fen(line),
        loans=loans,
        history=limit_history(request, who, me).get(product, []),
        offers=_conversion_offers(line, catalog, today),
        key=str(uuid.uuid4()),
        done=_done(done),
    )


def _unpaid(row: dict[str, Any]) -> int:
    amount, paid = row_fen(row)
    return amount - paid


def _idempotency_key(key: str) -> str:
    """The form's key as the API takes its header: 1 to 100 characters."""
    if not 1 <= len(key) <= 100:
        raise ApiError(400, "invalid_input", "key: expected 1 to 100 characters", "key")
    return key


def _money_form(
    request: Request, who: Caller, command: Repay | ConvertStatement, key: str, done: str
) -> Response:
    """Run a line page's money-moving form under its idempotency key, then back to the
    line saying what happened (or that this post replayed the first)."""
    _, replayed = execute(request, who, command, command.borrower, _idempotency_key(key))
    said = "replayed" if replayed else done
    return RedirectResponse(f"/portal/lines/{command.product}?done={said}", status_code=303)


@router.post("/lines/{product}/repay")
def repay(
    request: Request,
    product: str,
    csrf: CsrfField = "",
    key: Annotated[str, Form()] = "",
    pay: Annotated[str, Form()] = "amount",
    amount: Annotated[str, Form()] = "",
) -> Response:
    """Repay from the line page. The form's key, made when the page was shown, is the
    idempotency key: a second post of the same form replays the first, pays nothing."""
    who, me = _me(request)
    check_csrf(request, csrf)
    _line(request, who, me, product)
    if pay not in PAY_CHOICES:
        raise ApiError(400, "invalid_input", "pay: expected amount, all_due or all", "pay")
    command = Repay(borrower=me, product=product, amount=amount if pay == "amount" else pay)
    return _money_form(request, who, command, key, "repaid")


@router.post("/lines/{product}/convert")
def convert(
    request: Request,
    product: str,
    csrf: CsrfField = "",
    key: Annotated[str, Form()] = "",
    months: Annotated[str, Form()] = "",
) -> Response:
    """Turn the latest statement into bill installments, under the form's idempotency key."""
    who, me = _me(request)
    check_csrf(request, csrf)
    _line(request, who, me, product)
    command = ConvertStatement(borrower=me, product=product, months=months)
    return _money_form(request, who, command, key, "converted")


def dues(lines: list[dict[str, Any]], today: date, days: int = DUES_DAYS) -> dict[str, Any]:
    """Every unpaid schedule row of ``lines``: those past their due date, oldest first,
    and those due in the next ``days`` days grouped by date with the total of each date,
    in fen."""
    last = today + timedelta(days=days)
    overdue: list[dict[str, Any]] = []
    upcoming: dict[date, list[dict[str, Any]]] = {}
    for line in lines:
        for loan in line["loans"]:
            for row in loan["schedule"]:
                unpaid = _unpaid(row)
                due = date.fromisoformat(str(row["due_date"]))
                if row["status"] in NOT_DUE_ROWS or unpaid <= 0 or due > last:
                    continue
                item = {"due_date": due, "product": line["product"], "loan": loan["id"]}
                item |= {"seq": row["seq"], "status": row["status"], "fen": unpaid}
                if due < today:
                    overdue.append(item)
                else:
                    upcoming.setdefault(due, []).append(item)
    overdue.sort(key=lambda item: (item["due_date"], item["product"]))
    days_due = [
        {"date": day, "items": items, "total_fen": sum(item["fen"] for item in items)}
        for day, items in sorted(upcoming.items())
    ]
    return {
        "overdue": overdue,
        "overdue_fen": sum(item["fen"] for item in overdue),
        "days": days_due,
        "until": last,
    }


@router.get("/dues")
def dues_page(request: Request) -> Response:
    """What I must pay, when, on which line: the dues calendar over all my lines."""
    who, me = _me(request)
    today, _ = _book(request)
    calendar = dues(borrowers.lines(me, request, who), today)
    return page(request, "portal/dues.html", who, today=today, **calendar)


def _self_queries(request: Request, me: str) -> dict[str, int]:
    """How many self-queries I made this calendar year and how many free ones are left."""
    with engine_of(request).connect() as conn:
        used = self_queries_this_year(open_context(conn), me)
    return {"used": used, "free_left": max(FREE_SELF_QUERIES_PER_YEAR - used, 0)}


@router.get("/credit-report")
def credit_report_page(request: Request) -> Response:
    """What pulling my report costs: looking is a self-query, recorded as an inquiry, so
    the page pulls nothing until I ask with its button."""
    who, me = _me(request)
    return page(
        request, "portal/credit_report.html", who, report=None, **_self_queries(request, me)
    )


def grid_cells(account: Mapping[str, Any], months: list[date]) -> list[dict[str, Any]]:
    """An account's 24 monthly statuses with their months, late ones and disputed ones marked."""
    disputed = set(account["disputed_months"])
    return [
        {
            "month": f"{month:%Y-%m}",
            "status": status,
            "late": status in NEGATIVE_STATUSES,
            "disputed": f"{month:%Y-%m}" in disputed,
        }
        for month, status in zip(months, account["grid"], strict=True)
    ]


@router.post("/credit-report")
def pull_credit_report(request: Request, csrf: CsrfField = "") -> Response:
    """Pull my report (a self-query through the API's own pull, recorded as an inquiry)
    and show it, with a form on each account to dispute a month or explain it."""
    who, me = _me(request)
    check_csrf(request, csrf)
    pulled = bureau.pull_report(bureau.ReportPull(borrower=me, reason="self_query"), request, who)
    report = pulled["report"]
    months = grid_months(date.fromisoformat(report["as_of"]))
    accounts = [account | {"cells": grid_cells(account, months)} for account in report["accounts"]]
    return page(
        request,
        "portal/credit_report.html",
        who,
        report=report,
        accounts=accounts,
        charged=pulled["inquiry"]["charged"],
        **_self_queries(request, me),
    )


def _record_form(
    request: Request,
    who: Caller,
    model: type[Dispute | Statement],
    me: str,
    fields: dict[str, str],
    done: str,
) -> Response:
    """Run a form about one of my reported months (validated as the API validates the
    command), then back to my disputes and statements."""
    execute(request, who, model.model_validate({"borrower": me} | fields), me, None)
    return RedirectResponse(f"/portal/disputes?done={done}", status_code=303)


@router.post("/disputes")
def file_dispute(
    request: Request,
    csrf: CsrfField = "",
    product: Annotated[str, Form()] = "",
    month: Annotated[str, Form()] = "",
    claim: Annotated[str, Form()] = "",
) -> Response:
    """Dispute a reported month: the Dispute command, then the list of my disputes."""
    who, me = _me(request)
    check_csrf(request, csrf)
    fields = {"product": product, "month": month, "claim": claim}
    return _record_form(request, who, Dispute, me, fields, "disputed")


@router.post("/statements")
def file_statement(
    request: Request,
    csrf: CsrfField = "",
    product: Annotated[str, Form()] = "",
    month: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    """Attach an explanatory statement to a reported month: the Statement command."""
    who, me = _me(request)
    check_csrf(request, csrf)
    fields = {"product": product, "month": month, "text": text}
    return _record_form(request, who, Statement, me, fields, "explained")


@router.get("/disputes")
def disputes_page(request: Request, done: str | None = None) -> Response:
    """My disputes with their answer's due date and outcome, and my statements: read from
    the bureau's tables for me alone, so seeing them needs no new (paid) pull."""
    who, me = _me(request)
    d, e = bureau_disputes.c, bureau_explanations.c
    with engine_of(request).connect() as conn:
        disputes = conn.execute(
            sa.select(
                d.product, d.period_end, d.claim, d.filed_on, d.due_on, d.outcome, d.resolved_on
            )
            .where(d.borrower_id == me)
            .order_by(d.dispute_id.desc())
        ).all()
        notes = conn.execute(
            sa.select(e.product, e.period_end, e.text, e.filed_on)
            .where(e.borrower_id == me)
            .order_by(e.explanation_id.desc())
        ).all()
    return page(
        request,
        "portal/disputes.html",
        who,
        disputes=disputes,
        notes=notes,
        done=_done(done),
    )


class WhatIfForm(BaseModel):
    """The what-if form: be ``days_late`` days late on ``product``'s next bill (every other
    bill paid on its due date), or repay everything today; over ``horizon`` days."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    product: str = ""
    days_late: int = Field(default=40, ge=0, le=120)
    horizon: int = Field(default=90, ge=1, le=365)
    repay_all: bool = False


def _open_rows(line: dict[str, Any]) -> list[tuple[date, int]]:
    """A line's schedule rows with something unpaid: (due date, unpaid fen), by date."""
    rows = [
        (date.fromisoformat(str(row["due_date"])), _unpaid(row))
        for loan in line["loans"]
        for row in loan["schedule"]
        if row["status"] not in {"paid", "written_off"}
    ]
    return sorted(row for row in rows if row[1] > 0)


def next_bill(line: dict[str, Any]) -> date | None:
    """The due date of the line's oldest unpaid bill or installment, billed or scheduled
    (a revolving cycle not yet billed has no amount to be late on)."""
    billed = [
        due
        for loan in line["loans"]
        for row in loan["schedule"]
        if row["status"] not in NOT_DUE_ROWS and _unpaid(row) > 0
        for due in [date.fromisoformat(str(row["due_date"]))]
    ]
    return min(billed, default=None)


def _repay(day: date, product: str, amount: str) -> dict[str, Any]:
    return {"date": day.isoformat(), "repay": {"product": product, "amount": amount}}


def hypothetical_steps(
    lines: list[dict[str, Any]], today: date, form: WhatIfForm
) -> list[dict[str, Any]]:
    """The steps the projection assumes, in date order. Everything repaid today; or the
    chosen product's next bill paid ``days_late`` days after it falls due (never before
    today), and every other bill on every line paid in full on its due date (at once if
    already past), so only the chosen bill is late."""
    if form.repay_all:
        return [_repay(today, line["product"], "all") for line in lines if owed_fen(line) > 0]
    if not form.product:
        raise ApiError(400, "invalid_input", "product: choose the line to be late on", "product")
    chosen = next((line for line in lines if line["product"] == form.product), None)
    if chosen is None:
        raise not_found("line")
    bill = next_bill(chosen)
    if bill is None:
        raise ApiError(
            400, "invalid_input", f"product: nothing is billed on {form.product} yet", "product"
        )
    late_on = max(bill + timedelta(days=form.days_late), today)
    last = today + timedelta(days=form.horizon - 1)
    days: set[tuple[date, str]] = set()
    for line in lines:
        for due, _ in _open_rows(line):
            pay_on = max(due, today)
            if line is chosen and due <= late_on:
                pay_on = late_on
            if pay_on <= last:
                days.add((pay_on, line["product"]))
    return [_repay(day, product, "all_due") for day, product in sorted(days)]


LENDING = "active"
"""The one line status under which a lender still lends (a reduced limit is still active)."""


STATUS_WORDS = {
    "N": "on time",
    "1": "1–30 days late",
    "2": "31–60 days late",
    "3": "61–90 days late",
    "4": "91–120 days late",
    "5": "121–150 days late",
    "6": "151–180 days late",
    "7": "over 180 days late",
    "B": "bad debt",
    "C": "settled",
    "G": "ended",
    "*": "nothing due",
}
"""What each PBOC status code (DOMAIN §3) says, for the list of changes."""


def _product(product: str) -> str:
    return product.capitalize()


def change_in_words(change: dict[str, Any]) -> str:
    """One projected change as a borrower reads it, with its date first."""
    day = change["date"]
    if change["what"] == "score":
        was = "unscored" if change["from"] is None else change["from"]
        return f"{day} {change['group']} score {was} → {change['to']}"
    if change["what"] == "reported":
        status = change["status"]
        meaning = f"{status} ({STATUS_WORDS.get(status, 'unknown')})"
        return (
            f"{day} {_product(change['product'])} {change['month']} reported to the credit "
            f"bureau: {meaning}"
        )
    words = f"{day} {_product(change['product'])} {change['status']}"
    was = change.get("was")
    if was is not None and was["limit"] != change["limit"]:
        words += f", limit ¥{was['limit']} → ¥{change['limit']}"
    elif was is None:
        words += f", limit ¥{change['limit']}"
    if "reason" in change:
        words += f": {change['reason']}"
    return words


def lending_outlook(daily: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each line: does its lender still lend to me all through the projection, and
    on which dates its status or limit changes ("will Weilidai still lend to me?")."""
    outlook = []
    for product, start in sorted(daily[0]["lines"].items()):
        steps, previous = [], start
        for view in daily[1:]:
            line = view["lines"].get(product, previous)
            if (line["status"], line["limit"]) != (previous["status"], previous["limit"]):
                steps.append({"date": view["date"]} | line)
            previous = line
        stops = next((s["date"] for s in steps if s["status"] != LENDING), None)
        outlook.append(
            {
                "product": product,
                "lends": start["status"] == LENDING and stops is None,
                "stops": stops,
                "start": start,
                "end": previous,
                "steps": steps,
            }
        )
    return outlook


def _yuan_whole(amount: str) -> int:
    """A limit in whole yuan for the chart's axis (charts take numbers; limits are set
    in whole yuan, and the exact amounts are in the list of changes)."""
    return parse_amount(amount) // FEN_PER_YUAN


def projection_chart(daily: list[dict[str, Any]]) -> dict[str, Any]:
    """The projected score in each group's view and the limit of each line, day by day
    (a paused or frozen line keeps its limit: its status shows on hover)."""
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=("Score in each lender group's view", "Limit of each line (¥)"),
    )
    days = [view["date"] for view in daily]
    for group in sorted({g for view in daily for g in view["scores"]}):
        scores = [view["scores"].get(group) for view in daily]
        figure.add_trace(go.Scatter(x=days, y=scores, name=f"{group} score"), row=1, col=1)
    for product in sorted({p for view in daily for p in view["lines"]}):
        limits = [
            _yuan_whole(view["lines"][product]["limit"]) if product in view["lines"] else None
            for view in daily
        ]
        statuses = [view["lines"].get(product, {}).get("status", "") for view in daily]
        figure.add_trace(
            go.Scatter(
                x=days,
                y=limits,
                text=statuses,
                hovertemplate="¥%{y} (%{text})",
                name=f"{_product(product)} limit",
                line_shape="hv",
            ),
            row=2,
            col=1,
        )
    figure.update_layout(height=560, margin={"t": 40, "l": 60, "r": 20, "b": 40})
    return chart(figure)


@router.get("/whatif")
def whatif_page(request: Request) -> Response:
    """ "If I pay this bill 40 days late…": the form, and once asked, the projection of my
    scores and every line's limit and status day by day, with each change in words.
    The projection runs on a copy of my book (the API's what-if), so it writes nothing:
    hence a GET form."""
    who, me = _me(request)
    today, _ = _book(request)
    lines = borrowers.lines(me, request, who)
    billed = [line["product"] for line in lines if next_bill(line) is not None]
    context: dict[str, Any] = {"products": billed, "today": today}
    if not request.query_params:
        return page(request, "portal/whatif.html", who, form=WhatIfForm(), **context)
    form = WhatIfForm.model_validate(dict(request.query_params))
    steps = hypothetical_steps(lines, today, form)
    body = whatif.WhatIfRequest(borrower=me, days=form.horizon, steps=steps)
    projection = whatif.whatif(body, request, who)
    return page(
        request,
        "portal/whatif.html",
        who,
        form=form,
        projection=projection,
        changes=[change_in_words(change) for change in projection["changes"]],
        outlook=lending_outlook(projection["daily"]),
        figure=projection_chart(projection["daily"]),
        charts=True,
        **context,
    )


@router.get("/notifications")
def notifications_page(request: Request, done: str | None = None) -> Response:
    """What I was told, newest first, in my language, and a form to change the language."""
    who, me = _me(request)
    notices = borrowers.borrower_notifications(me, request, who)
    with engine_of(request).connect() as conn:
        language = languages_of(conn, [me])[me]
    return page(
        request,
        "portal/notifications.html",
        who,
        notices=notices,
        language=language,
        languages=LANGUAGES,
        done=_done(done),
    )


@router.post("/notifications/language")
def choose_language(
    request: Request, csrf: CsrfField = "", language: Annotated[str, Form()] = ""
) -> Response:
    """The set_language command, then my notifications in the language chosen."""
    who, me = _me(request)
    check_csrf(request, csrf)
    command = SetLanguage.model_validate({"borrower": me, "language": language})
    execute(request, who, command, me, None)
    return RedirectResponse("/portal/notifications?done=language", status_code=303)
