"""展期 (loan extension) on both backends: 《贷款通则》 Art. 12 by term class, the offer's
fee, schedule and APR to the fen, acceptance through the ledger, and refusals that
write nothing.

Expected money is computed here by hand from the conventions (DOMAIN §2), never by
calling the schedule code.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from crossline.catalog import catalog_from_data, catalog_to_json, load_catalog
from crossline.commands import run_command
from crossline.eod.runner import run_eod
from crossline.events.templates import LANGUAGES, PRODUCT_NAMES, render
from crossline.ledger.check import check_ledger
from crossline.scenario.spec import AcceptOffer, RequestExtension
from crossline.scenario.state import snapshot
from crossline.servicing.context import open_context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.extensions import request_extension
from crossline.servicing.extensions.limits import check_extension, term_class
from crossline.servicing.lines import get_line, open_line, register_borrower
from crossline.servicing.origination import draw, purchase_installments
from crossline.servicing.repayment import repay
from crossline.store import platform
from crossline.store.schema import extensions, installments, journal, notifications
from tests.conftest import initialise
from tests.helpers import dump, line_of, run_example, yuan

START = date(2026, 3, 1)
RATE = Decimal("0.0004")


def _catalog_json(**changes: Any) -> str:
    """The default catalog, Weilidai changed: its terms offer a loan of every Art. 12 class."""
    data = json.loads(catalog_to_json(load_catalog("default")))
    for product in data["products"]:
        if product["id"] == "weilidai":
            product["terms"] = [1, 5, 6, 24, 72]
            product.update(changes)
    return catalog_to_json(catalog_from_data(data))


def _loan(engine: sa.Engine, term: int = 5, amount: int = 600000, **catalog: Any) -> None:
    """Bob's Weilidai equal-principal loan at 0.04 % a day, drawn on START."""
    with engine.begin() as conn:
        platform.initialise(
            conn, business_date=START, catalog_json=_catalog_json(**catalog), partitions=1
        )
        ctx = open_context(conn)
        register_borrower(ctx, "bob", 900000)
        open_line(ctx, "bob", "weilidai", 3000000, RATE)
        draw(ctx, "bob", "weilidai", amount, term, "equal_principal")


def _request(engine: sa.Engine, months: int, loan: int | None = None) -> dict[str, Any]:
    with engine.begin() as conn:
        command = RequestExtension(borrower="bob", product="weilidai", months=months, loan=loan)
        return run_command(open_context(conn), command)[0]


def _accept(engine: sa.Engine) -> dict[str, Any]:
    with engine.begin() as conn:
        command = AcceptOffer(borrower="bob", product="weilidai")
        return run_command(open_context(conn), command)[0]


def _refused(engine: sa.Engine, code: str, months: int = 1) -> str:
    """Request ``months``: refused with ``code``, the database exactly as it was."""
    before = dump(engine)
    with pytest.raises(RefusedError) as caught:
        _request(engine, months)
    assert caught.value.code == code
    assert dump(engine) == before
    return caught.value.message


@pytest.mark.parametrize(
    ("term", "name", "maximum"),
    [(1, "short-term", 1), (12, "short-term", 12), (13, "medium-term", 6), (24, "medium-term", 12),
     (60, "medium-term", 30), (61, "long-term", 36), (360, "long-term", 36)],
)  # fmt: skip
def test_term_classes_of_article_12(term: int, name: str, maximum: int) -> None:
    cls = term_class(term)
    assert (cls.name, cls.maximum) == (name, maximum)
    check_extension(term, maximum - 1, 1)  # exactly at the maximum in total
    with pytest.raises(RefusedError, match=f"at most {maximum} months in total"):
        check_extension(term, maximum - 1, 2)


@pytest.mark.parametrize(
    ("term", "name", "maximum", "maturity"),
    [
        (6, "short-term", 6, "2027-03-01"),
        (24, "medium-term", 12, "2029-03-01"),
        (72, "long-term", 36, "2035-03-01"),
    ],
)
def test_article_12_boundary_on_a_booked_loan(
    engine: sa.Engine, term: int, name: str, maximum: int, maturity: str
) -> None:
    """At the maximum the offer is made; one month over is refused naming the rule, the
    class, the original term, what was already extended and the maximum."""
    _loan(engine, term)
    message = _refused(engine, "extension_limit_art12", maximum + 1)
    assert message == (
        f"《贷款通则》 Art. 12: a {name} loan (original term {term} months) may be extended "
        f"by at most {maximum} months in total; already extended 0, requested {maximum + 1}, "
        f"at most {maximum} more"
    )
    offer = _request(engine, maximum)  # drawn 2026-03-01: term + maximum months later
    assert offer["new_maturity"] == maturity


def test_extensions_add_up_against_the_limit(engine: sa.Engine) -> None:
    """Art. 12 limits all extensions of a loan together: 2 accepted, then 5 is one too many."""
    _loan(engine, 6)
    _request(engine, 2)
    _accept(engine)
    message = _refused(engine, "extension_limit_art12", 5)
    assert "already extended 2, requested 5, at most 4 more" in message
    assert _request(engine, 4)["new_maturity"] == "2027-03-01"  # 6 + 2 + 4 months from 03-01


def _interest(principal: Decimal, start: date, end: date) -> Decimal:
    return Decimal(yuan(principal * RATE * (end - start).days))


def test_offer_fee_schedule_and_apr_to_the_fen(engine: sa.Engine) -> None:
    """6000.00 over 5 months extended by 2 on 03-15: the 6000.00 not yet due is spread over
    7 months, equal principal rounded down (the last takes the rest), interest for the
    actual days of each period; the fee is 1 % of it, with the first installment."""
    _loan(engine, 5)
    run_eod(engine, date(2026, 3, 14))
    offer = _request(engine, 2)
    share = (Decimal(6000) / 7).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    assert share == Decimal("857.14")
    shares = [share] * 6 + [Decimal(6000) - 6 * share]
    dues = [date(2026, m, 1) for m in range(4, 11)]
    left, previous, expected = Decimal(6000), START, []
    for due, part in zip(dues, shares, strict=True):
        expected.append((due, part, _interest(left, previous, due)))
        left -= part
        previous = due
    # 74.40 = 6000 × 0.0004 × 31 days; 61.71 = 5142.86 × 0.0004 × 30 days.
    assert [e[2] for e in expected[:2]] == [Decimal("74.40"), Decimal("61.71")]
    assert offer["fee"] == "60.00" and offer["outstanding"] == "6000.00"
    assert (offer["old_maturity"], offer["new_maturity"]) == ("2026-08-01", "2026-10-01")
    assert offer["expires_on"] == "2026-03-22"
    assert offer["schedule"] == [
        {
            "seq": seq,
            "due_date": due.isoformat(),
            "principal": yuan(part),
            "interest": yuan(interest),
            "fee": "60.00" if seq == 1 else "0.00",
            "amount": yuan(part + interest + (60 if seq == 1 else 0)),
        }
        for seq, (due, part, interest) in enumerate(expected, start=1)
    ]
    # APR = 12 × the monthly IRR of those amounts against 6000.00, to 4 decimals: the
    # present value brackets 6000 at the APR ± 0.0001.
    amounts = [part + interest for _, part, interest in expected]
    amounts[0] += 60
    apr = Decimal(offer["apr"])

    def present_value(annual: Decimal) -> Decimal:
        monthly = annual / 12
        return sum((a / (1 + monthly) ** k for k, a in enumerate(amounts, start=1)), Decimal(0))

    assert present_value(apr - Decimal("0.0001")) > 6000 > present_value(apr + Decimal("0.0001"))
    # Nothing of the loan changed: the offer is only kept.
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(installments)).scalar_one()
        kinds = conn.execute(sa.select(notifications.c.kind)).scalars().all()
    assert rows == 5 and kinds == ["extension_offered"]


def test_accepting_reschedules_books_the_fee_and_keeps_the_loan_current(
    engine: sa.Engine,
) -> None:
    _loan(engine, 5)
    run_eod(engine, date(2026, 3, 14))
    offer = _request(engine, 2)
    accepted = _accept(engine)
    assert accepted["schedule"] == offer["schedule"]
    with engine.connect() as conn:
        fee_legs = conn.execute(
            sa.select(journal.c.account, journal.c.amount_fen).where(
                journal.c.event == "extension_fee"
            )
        ).all()
        assert sorted(fee_legs) == [("fee_income", -6000), ("fee_receivable", 6000)]
        assert check_ledger(conn).balanced
        stored = conn.execute(sa.select(extensions)).mappings().one()
        assert (stored["status"], stored["accepted_on"], stored["months"]) == (
            "accepted",
            date(2026, 3, 15),
            2,
        )
        assert stored["fee_fen"] == 6000 and stored["old_maturity"] == date(2026, 8, 1)
        kinds = conn.execute(
            sa.select(notifications.c.kind).order_by(notifications.c.notification_id)
        ).scalars()
        assert list(kinds) == ["extension_offered", "extension_approved"]
    # Paid when due, every month, through the old maturity (08-01) and after: current.
    for month in range(4, 10):
        run_eod(engine, date(2026, month, 1) - timedelta(days=1))
        with engine.begin() as conn:
            paid = repay(open_context(conn), "bob", "weilidai", "all_due")
        expected = offer["schedule"][month - 4]["amount"]
        assert yuan(Decimal(paid.amount_fen) / 100) == expected
    run_eod(engine, date(2026, 9, 5))
    with engine.connect() as conn:
        line = line_of(snapshot(conn, date(2026, 9, 6)), "bob", "weilidai")
        assert check_ledger(conn).balanced
    assert (line["dpd"], line["bucket"], line["pboc_status"]) == (0, "M0", "N")
    assert [r["status"] for r in line["loans"][0]["schedule"]] == ["paid"] * 6 + ["scheduled"]
    assert line["outstanding"]["principal"] == offer["schedule"][-1]["principal"]


def test_paying_off_after_an_extension_includes_its_fee(engine: sa.Engine) -> None:
    _loan(engine, 5)
    run_eod(engine, date(2026, 3, 14))
    _request(engine, 2)
    _accept(engine)
    run_eod(engine, date(2026, 3, 19))
    with engine.begin() as conn:
        result = repay(open_context(conn), "bob", "weilidai", "all")
    # 6000.00 + 19 days' interest (03-01 .. 03-20) + the 60.00 fee.
    assert result.amount_fen == 600000 + 240 * 19 + 6000  # 240 fen a day on 6000.00
    assert result.allocated["fee"] == 6000
    assert result.loans_paid_off == [1]
    with engine.connect() as conn:
        assert check_ledger(conn).balanced


def test_an_extension_after_a_prepayment_charges_interest_from_it(engine: sa.Engine) -> None:
    """1000.00 prepaid on 03-10 pays 9 days' interest (21.60) and 978.40 of principal; the
    extension the same day charges the first installment 22 more days on 5021.60."""
    _loan(engine, 5)
    run_eod(engine, date(2026, 3, 9))
    with engine.begin() as conn:
        repay(open_context(conn), "bob", "weilidai", 100000)
    offer = _request(engine, 2)
    assert (offer["outstanding"], offer["fee"]) == ("5021.60", "50.22")
    first = offer["schedule"][0]
    share = Decimal("717.37")  # 5021.60 / 7 rounded down
    interest = _interest(Decimal("5021.60"), date(2026, 3, 10), date(2026, 4, 1))
    assert interest == Decimal("44.19")
    assert (first["principal"], first["interest"], first["fee"]) == (
        yuan(share),
        yuan(interest),
        "50.22",
    )
    assert offer["schedule"][-1]["principal"] == yuan(Decimal("5021.60") - 6 * share)
    _accept(engine)
    with engine.begin() as conn:
        payoff = repay(open_context(conn), "bob", "weilidai", "all")
    assert payoff.amount_fen == 502160 + 5022  # nothing accrues after today's prepayment
    assert payoff.loans_paid_off == [1]
    with engine.connect() as conn:
        assert check_ledger(conn).balanced


def test_refusals_write_nothing(engine: sa.Engine) -> None:
    _loan(engine, 5)
    _refused(engine, "extension_limit_art12", 6)
    before = dump(engine)
    with pytest.raises(RefusedError) as caught:
        _accept(engine)
    assert caught.value.code == "no_pending_offer"
    with pytest.raises(InputError, match=r"^loan: no active loan 9"):
        _request(engine, 1, loan=9)
    with pytest.raises(InputError, match=r"^months"), engine.begin() as conn:
        request_extension(open_context(conn), "bob", "weilidai", 0)
    assert dump(engine) == before


def test_an_installment_plan_is_not_extended(engine: sa.Engine) -> None:
    initialise(engine, START)
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "bob", 900000)
        open_line(ctx, "bob", "fenqile", 1000000, None, Decimal("0.008"))
        line = get_line(ctx, "bob", "fenqile")
        fenqile = ctx.catalog.product("fenqile")
        purchase_installments(ctx, fenqile, line, 300000, 6, None, None)
    before = dump(engine)
    with (
        pytest.raises(RefusedError, match="extensions are offered on cash loans"),
        engine.begin() as conn,
    ):
        request_extension(open_context(conn), "bob", "fenqile", 1)
    assert dump(engine) == before


def test_an_overdue_loan_is_refused(engine: sa.Engine) -> None:
    _loan(engine, 5)
    run_eod(engine, date(2026, 4, 3))
    message = _refused(engine, "loan_overdue", 1)
    assert "3 days past due (since 2026-04-01)" in message
    assert "personalised installment plan" in message


def test_nothing_left_to_extend_on_the_final_due_date(engine: sa.Engine) -> None:
    """Art. 12: an extension is asked for before the maturity date."""
    _loan(engine, 1)
    run_eod(engine, date(2026, 3, 31))
    message = _refused(engine, "nothing_to_extend", 1)
    assert "before the loan's final due date" in message


def test_an_offer_above_the_apr_cap_is_refused(engine: sa.Engine) -> None:
    """A 5 % fee on a 5-month loan priced at 0.04 % a day: far above the 24 % cap."""
    _loan(engine, 5, extension_fee_rate="0.05")
    message = _refused(engine, "apr_cap", 1)
    assert "fee 300.00, above the cap of 24.00%" in message


def test_offers_expire_and_go_stale(engine: sa.Engine) -> None:
    _loan(engine, 5)
    _request(engine, 1)  # offered 03-01, open through 03-08
    run_eod(engine, date(2026, 3, 8))
    before = dump(engine)
    with pytest.raises(RefusedError, match="no offer is pending"):
        _accept(engine)
    assert dump(engine) == before
    # A payment between offer and acceptance changes the terms: the borrower must ask again.
    _request(engine, 1)
    with engine.begin() as conn:
        repay(open_context(conn), "bob", "weilidai", 100000)
    before = dump(engine)
    with pytest.raises(RefusedError) as caught:
        _accept(engine)
    assert caught.value.code == "offer_stale"
    assert dump(engine) == before
    # A new request supersedes the old offer; on its last day it is still open.
    _request(engine, 2)
    run_eod(engine, date(2026, 3, 15))
    assert _accept(engine)["months"] == 2
    with engine.connect() as conn:
        statuses = conn.execute(
            sa.select(extensions.c.status).order_by(extensions.c.extension_id)
        ).scalars()
        assert list(statuses) == ["superseded", "superseded", "accepted"]


def test_templates_render_every_payload_field_in_both_languages(engine: sa.Engine) -> None:
    _loan(engine, 5)
    _request(engine, 2)
    _accept(engine)
    with engine.connect() as conn:
        sent = conn.execute(sa.select(notifications.c.kind, notifications.c.payload)).all()
    for kind, payload in sent:
        for lang in LANGUAGES:
            subject, body = render(kind, lang, json.loads(payload), "weilidai", date(2026, 3, 1))
            assert PRODUCT_NAMES[lang]["weilidai"] in subject and "60.00" in body


def test_the_example_extends_twice_and_stays_current(engine: sa.Engine) -> None:
    """6000.00 over 6 months at 0.03 % a day, equal installment, paid twice; each
    extension's fee is 1 % of the principal not yet due, to the fen."""
    outcome = run_example(engine, "extension_within_limit")
    steps = {e["step"]: e for e in outcome["events"] if "step" in e}
    r = Decimal("0.009")  # 0.0003 × 30
    payment = yuan(6000 * r / (1 - (1 + r) ** -6))
    assert steps[3]["amount"] == steps[4]["amount"] == payment == "1031.74"
    left = Decimal(6000)
    for _ in range(2):
        left -= Decimal(payment) - Decimal(yuan(left * r))
    assert steps[5]["outstanding"] == yuan(left) == "4035.72"
    assert steps[5]["fee"] == yuan(left / 100) == "40.36"
    assert steps[6]["new_maturity"] == "2026-12-01"
    # 7 installments from 06-01: the level payment on 4035.72; the first one's interest is
    # for the 31 actual days from 05-01, and it carries the fee.
    level = Decimal(yuan(left * r / (1 - (1 + r) ** -7)))
    first_interest = Decimal(yuan(left * Decimal("0.0003") * 31))
    first_principal = level - Decimal(yuan(left * r))
    assert steps[7]["amount"] == yuan(first_principal + first_interest + Decimal("40.36"))
    assert steps[8]["amount"] == steps[9]["amount"] == yuan(level)
    for _ in range(3):  # the installments of 06-01, 07-01 and 08-01 are paid
        left -= level - Decimal(yuan(left * r))
    assert steps[10]["outstanding"] == yuan(left) == "2337.08"
    assert steps[10]["fee"] == yuan(left / 100) == "23.37"
    assert steps[11]["new_maturity"] == "2027-03-01"
    assert steps[12]["allocated"]["fee"] == steps[10]["fee"]
    state = line_of(outcome["snapshots"]["after_old_maturity"], "eve", "jiebei")
    assert (state["dpd"], state["bucket"], state["pboc_status"]) == (0, "M0", "N")
    assert state["loans"][0]["schedule"][-1]["due_date"] == "2027-03-01"
    assert outcome["ledger"]["balanced"]


def test_the_example_refuses_a_third_extension_beyond_the_term(engine: sa.Engine) -> None:
    outcome = run_example(engine, "extension_beyond_legal_limit")
    refused = [e for e in outcome["events"] if e.get("ok") is False]
    assert [(e["step"], e["code"]) for e in refused] == [(7, "extension_limit_art12")]
    assert "short-term loan (original term 6 months)" in refused[0]["reason"]
    assert "already extended 6, requested 1, at most 0 more" in refused[0]["reason"]
    state = line_of(outcome["snapshots"]["after_refusal"], "fay", "jiebei")
    assert state["loans"][0]["schedule"][-1]["due_date"] == "2027-03-01"
    assert len(state["loans"][0]["schedule"]) == 12
