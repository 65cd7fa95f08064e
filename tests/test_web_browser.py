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
