"""The credit report as text a person can read and act on."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from crossline.bureau.report import CreditReport, grid_months
from crossline.money import format_fen

STATUS_MEANING = (
    "N current · 1–7 overdue by 30-day bands (1 = 1–30 days … 7 = over 180) · "
    "C settled · B bad debt · - not reported"
)
BANDS = {
    "1": "1–30 days",
    "2": "31–60 days",
    "3": "61–90 days",
    "4": "91–120 days",
    "5": "121–150 days",
    "6": "151–180 days",
    "7": "over 180 days",
}
REASON_TEXT = {
    "loan_approval": "loan approval",
    "post_loan_management": "post-loan management",
    "self_query": "own query",
}


def _accounts(report: CreditReport) -> Table:
    months = grid_months(report.as_of)
    table = Table(title="Accounts and 24-month repayment history", title_justify="left")
    for header in ("product", "lender", "opened", "status", "balance", "limit", "overdue"):
        table.add_column(header)
    table.add_column(f"{months[0]:%Y-%m} … {months[-1]:%Y-%m}", no_wrap=True)
    for account in report.accounts:
        latest = account["latest"]
        table.add_row(
            account["product"],
            f"{account['provider']} ({account['group']})",
            f"{account['opened_on']:%Y-%m-%d}",
            latest["status"],
            format_fen(latest["balance_fen"]),
            format_fen(latest["limit_fen"]),
            format_fen(latest["overdue_fen"]),
            "".join(account["grid"]),
        )
    return table


def _notes(report: CreditReport) -> list[str]:
    lines = []
    for account in report.accounts:
        for month in account["disputed_months"]:
            lines.append(f"{account['product']} {month}: under dispute")
        lines.extend(f"{account['product']} {note}" for note in account["statements"])
    return lines


def _inquiries(report: CreditReport) -> Table:
    table = Table(title="Inquiries (last 24 months)", title_justify="left")
    for header in ("date", "by", "reason", "charged"):
        table.add_column(header)
    for inquiry in report.inquiries:
        table.add_row(
            f"{inquiry['inquired_on']:%Y-%m-%d}",
            inquiry["inquirer"],
            REASON_TEXT[inquiry["reason"]],
            "yes" if inquiry["charged"] else "no",
        )
    return table


def _disputes(report: CreditReport) -> Table:
    table = Table(title="Disputes", title_justify="left")
    for header in ("record", "filed", "answer due", "outcome", "claim"):
        table.add_column(header)
    for dispute in report.disputes:
        outcome = dispute["outcome"] or "open"
        if dispute["resolved_on"] is not None:
            outcome += f" on {dispute['resolved_on']:%Y-%m-%d}"
        table.add_row(
            f"{dispute['product']} {dispute['period_end']:%Y-%m}",
            f"{dispute['filed_on']:%Y-%m-%d}",
            f"{dispute['due_on']:%Y-%m-%d}",
            outcome,
            dispute["claim"],
        )
    return table


def _what_it_means(report: CreditReport) -> Text:
    """Plain advice: what each negative record is, how long it stays, what can be done."""
    if not report.negatives:
        return Text("What this means for you\nNo late payment is shown on your report.")
    lines = ["What this means for you"]
    for record in report.negatives:
        if record["status"] == "B":
            what = "reported as bad debt (written off)"
        else:
            what = f"reported {BANDS[record['status']]} late"
        until = (
            f"shown until {record['shown_until']:%Y-%m-%d} (5 years after it was repaid)"
            if record["shown_until"] is not None
            else "shown while it stays unpaid, then for 5 years after it is repaid"
        )
        lines.append(f"- {record['product']} {record['month']:%Y-%m}: {what}; {until}.")
    lines.append(
        "If a record is wrong you can dispute it: the lender must answer within 20 days. "
        "You can also add a statement explaining it; lenders see it beside the record."
    )
    return Text("\n".join(lines))


def render_report(report: CreditReport) -> RenderableType:
    """Header, accounts with their grids, statements and disputes flags, inquiries, disputes."""
    header = Text.assemble(
        ("Personal credit report", "bold"),
        f"\nborrower {report.borrower_id} · as of {report.as_of:%Y-%m-%d}",
        f"\n{STATUS_MEANING}",
    )
    parts: list[RenderableType] = [header, _accounts(report), _what_it_means(report)]
    notes = _notes(report)
    if notes:
        parts.append(Text("Statements and flags\n" + "\n".join(notes)))
    if report.hidden_records:
        parts.append(
            Text(
                f"{report.hidden_records} negative record(s) are past their 5-year retention "
                "and are no longer shown."
            )
        )
    parts += [_inquiries(report), _disputes(report)]
    return Group(*parts)
