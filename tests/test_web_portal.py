"""The borrower portal, in process: what a borrower sees, and what they may not."""

from __future__ import annotations

import re

from tests.web_support import Site


def test_a_page_without_a_session_sends_the_browser_to_log_in(site: Site) -> None:
    answer = site.client.get("/portal", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/portal"


def test_the_home_page_shows_each_group_s_score_and_every_line(site: Site) -> None:
    site.log_in("ning")
    text = site.client.get("/portal").text
    groups = re.findall(r'data-group="(\w+)"', text)
    assert groups == ["ant", "lexin", "webank"]
    assert re.findall(r'<tr data-product="(\w+)"', text) == ["huabei", "weilidai"]
    # Huabei: 600.00 bought on 25 April, nothing of it paid yet.
    assert "¥600.00" in text
    assert "Your overdue payment has been made" in text


def test_a_form_missing_a_field_gets_the_error_page_naming_it(site: Site) -> None:
    answer = site.client.post("/login", data={"login": "ning"})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert 'data-field="password"' in answer.text
