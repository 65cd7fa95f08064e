"""The portal and the console in a real browser: Debian's Chromium driven by Playwright
against the app served on a local port. Each test saves a screenshot as an artefact
(``build/test-artefacts/screenshots``) and fails on any console or page error."""

from __future__ import annotations

from tests.web_support import Browser


def test_a_borrower_logs_in_and_sees_a_score_for_each_group(browser: Browser) -> None:
    page = browser.page
    page.goto(f"{browser.base}/portal")
    assert page.url.endswith("/login?next=/portal"), page.url
    browser.log_in("ning")
    assert page.url == f"{browser.base}/portal"
    assert page.locator("#scores .card").count() == 3
    assert page.locator("#lines tr[data-product]").count() == 2
    browser.screenshot("portal-home")
    assert browser.errors == []


def test_a_borrower_runs_a_what_if_and_sees_the_projection_drawn(browser: Browser) -> None:
    page = browser.page
    browser.log_in("ning")
    assert page.locator("#scores .card .big").first.inner_text().isdigit()
    page.click("header a[href='/portal/whatif']")
    page.select_option("#whatif select[name=product]", "huabei")
    page.fill("#whatif input[name=days_late]", "10")
    page.fill("#whatif input[name=horizon]", "20")
    page.click("#whatif button[type=submit]")
    page.wait_for_selector("#chart-whatif.js-plotly-plot .main-svg", timeout=30_000)
    # Huabei's bill due 10 May, paid on the 20th: past its 3 days' grace, it pauses.
    assert page.locator("#outlook tr[data-product=huabei] td").nth(1).inner_text() == (
        "no, from 2026-05-15"
    )
    assert page.locator("#chart-whatif .scatterlayer .trace").count() == 5
    browser.screenshot("portal-whatif")
    assert browser.errors == []


def test_a_borrower_repays_from_the_line_page(browser: Browser) -> None:
    page = browser.page
    browser.log_in("ning")
    page.click("#lines a[href='/portal/lines/huabei']")
    assert page.locator("#owed").inner_text() == "¥600.00"
    page.fill("#repay input[name=amount]", "100.00")
    page.click("#repay button[type=submit]")
    page.wait_for_selector("p.notice[role=status]")
    assert page.locator("p.notice[role=status]").inner_text() == "Your payment was taken."
    assert page.url == f"{browser.base}/portal/lines/huabei?done=repaid"
    assert page.locator("#owed").inner_text() == "¥500.00"
    browser.screenshot("portal-repaid")
    assert browser.errors == []


def test_an_operator_sees_the_portfolio_charts_drawn(browser: Browser) -> None:
    page = browser.page
    browser.log_in("olga")
    assert page.url == f"{browser.base}/console"
    charts = page.locator("script[data-chart]").count()
    assert charts >= 5
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}",
        timeout=30_000,
    )
    browser.screenshot("console-dashboard")
    assert browser.errors == []


def test_an_operator_reviews_a_dispute(browser: Browser) -> None:
    page = browser.page
    browser.log_in("olga")
    page.click("header.bar a[href='/console/disputes']")
    page.wait_for_load_state("load")
    dispute = page.locator("#open-disputes tr[data-dispute]")
    assert dispute.count() == 1
    assert "19 days left" in dispute.locator("td.sla").inner_text()
    browser.screenshot("console-disputes-open")
    dispute.locator("select[name=outcome]").select_option("confirmed")
    dispute.locator("button[type=submit]").click()
    page.wait_for_load_state("load")
    assert page.url == f"{browser.base}/console/disputes?done=answered"
    assert "The dispute is answered" in page.locator("p.notice[role=status]").inner_text()
    assert page.locator("#open-disputes").count() == 0
    answered = page.locator("#answered-disputes tr[data-dispute]")
    assert answered.count() == 1
    assert answered.locator("td.outcome").inner_text() == "confirmed"
    browser.screenshot("console-disputes-answered")
    assert browser.errors == []
