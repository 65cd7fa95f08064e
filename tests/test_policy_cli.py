"""`crossline policy`: a risk analyst checks, reads, uploads and activates a policy file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from crossline.cli import app
from crossline.store.schema import policies
from tests.conftest import initialise
from tests.helpers import dump

SHIPPED = Path(__file__).resolve().parent.parent / "src" / "crossline" / "decisions" / "policies"
START = date(2026, 3, 1)


def _invoke(*args: str) -> Any:
    """Run the CLI on a console wide enough that no table cell wraps."""
    return CliRunner().invoke(app, ["policy", *args], env={"COLUMNS": "400"})


def _words(output: str) -> str:
    """The output with line breaks undone: an error message wraps on a narrow console."""
    return " ".join(output.split())


def _ant() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SHIPPED / "ant.json").read_text(encoding="utf-8"))
    return document


def _offer_rule(document: dict[str, Any], rule_id: str) -> dict[str, Any]:
    nodes = document["decisions"]["application"]["nodes"]
    offer = next(n for n in nodes if n["id"] == "offer")
    rule: dict[str, Any] = next(r for r in offer["content"]["rules"] if r["_id"] == rule_id)
    return rule


def _write(tmp_path: Path, document: dict[str, Any], name: str = "policy.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("group", ["ant", "webank", "lexin"])
def test_validate_accepts_each_shipped_policy(group: str) -> None:
    result = _invoke("validate", str(SHIPPED / f"{group}.json"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ok {group} {group}-default-1\n")
    assert "application › Offer (first, result under 'offer')" in result.output
    assert "application › One-vote vetoes (collect, result under 'veto')" in result.output


def _open_interval(document: dict[str, Any]) -> None:
    _offer_rule(document, "a")["offer_in_score"] = "]1..5["


def _unpriced_tier(document: dict[str, Any]) -> None:
    _offer_rule(document, "a")["offer_out_tier"] = '"E"'


@pytest.mark.parametrize(
    ("break_it", "where", "message"),
    [
        (
            _open_interval,
            "application › node 'Offer' › row 'a' › column 'Score'",
            "open intervals",
        ),
        (
            _unpriced_tier,
            "application › node 'Offer' › row 'a' › column 'Price tier'",
            "tier 'E' has no price for jiebei in 'pricing'",
        ),
    ],
    ids=["open_interval", "unpriced_tier"],
)
def test_validate_refuses_a_broken_file_naming_row_and_column(
    engine: sa.Engine,
    database_url: str,
    tmp_path: Path,
    break_it: Any,
    where: str,
    message: str,
) -> None:
    initialise(engine, START)
    document = _ant()
    break_it(document)
    before = dump(engine)
    result = _invoke("validate", _write(tmp_path, document), "--database", database_url)
    assert result.exit_code == 2, result.output
    assert f"{where}: " in _words(result.output)
    assert message in _words(result.output)
    uploaded = _invoke("upload", _write(tmp_path, document), "--database", database_url)
    assert uploaded.exit_code == 2, uploaded.output
    assert dump(engine) == before


def test_validate_refuses_what_is_not_a_policy_file(tmp_path: Path) -> None:
    not_json = tmp_path / "broken.json"
    not_json.write_text('{"format": ', encoding="utf-8")
    result = _invoke("validate", str(not_json))
    assert result.exit_code == 2
    assert "not JSON" in result.output
    missing = _invoke("validate", str(tmp_path / "absent.json"))
    assert missing.exit_code == 2
    assert "file:" in missing.output


def test_show_prints_every_row_of_the_offer_table() -> None:
    result = _invoke("show", str(SHIPPED / "ant.json"))
    assert result.exit_code == 0, result.output
    document = _ant()
    assert "application › Offer (first, result under 'offer')" in result.output
    nodes = document["decisions"]["application"]["nodes"]
    content = next(n for n in nodes if n["id"] == "offer")["content"]
    lines = result.output.splitlines()
    for rule in content["rules"]:
        row = next(line for line in lines if line.startswith(f"│ {rule['_id']} "))
        tests = [rule[c["id"]] or "-" for c in content["inputs"]]
        outputs = [rule[c["id"]] for c in content["outputs"]]
        expected = [rule["_id"], *tests, *outputs, rule["_description"]]
        assert [cell.strip() for cell in row.split("│")[1:-1]] == expected
    for text in (*document["reasons"].values(), *document["documents"].values()):
        assert text in result.output
    assert "│ jiebei  │ D    │ 0.0006 │" in result.output


def test_show_needs_a_file_or_a_group_and_knows_the_groups() -> None:
    assert _invoke("show").exit_code == 2
    unknown = _invoke("show", "--group", "nobody")
    assert unknown.exit_code == 2
    assert "group: group 'nobody' has no policy" in unknown.output
    shipped = _invoke("show", "--group", "lexin")
    assert shipped.exit_code == 0, shipped.output
    assert "the shipped default policy of lexin" in shipped.output
    assert "lexin lexin-default-1" in shipped.output


def test_upload_then_activate_stores_the_roles(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    initialise(engine, START)
    challenger = _ant()
    challenger["version"] = "ant-2026.03"
    _offer_rule(challenger, "a")["offer_in_score"] = ">= 700"
    for path in (str(SHIPPED / "ant.json"), _write(tmp_path, challenger)):
        uploaded = _invoke("upload", path, "--database", database_url)
        assert uploaded.exit_code == 0, uploaded.output
        assert json.loads(uploaded.output)["role"] == "draft"
    champion = _invoke("activate", "ant", "ant-default-1", "--database", database_url)
    assert json.loads(champion.output) == {
        "group": "ant",
        "version": "ant-default-1",
        "role": "champion",
        "share": None,
    }
    activated = _invoke(
        "activate", "ant", "ant-2026.03", "--challenger-share", "20", "--database", database_url
    )
    assert activated.exit_code == 0, activated.output
    assert json.loads(activated.output)["role"] == "challenger"
    p = policies.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(p.version, p.role, p.challenger_share, p.uploaded_on, p.activated_on)
        ).all()
    assert sorted(tuple(r) for r in rows) == [
        ("ant-2026.03", "challenger", 20, START, START),
        ("ant-default-1", "champion", None, START, START),
    ]
    again = _invoke("upload", str(SHIPPED / "ant.json"), "--database", database_url)
    assert json.loads(again.output)["role"] == "champion"
    shown = _invoke("show", "--group", "ant", "--database", database_url)
    assert shown.exit_code == 0, shown.output
    assert "ant ant-default-1" in shown.output
    assert "challenger ant-2026.03 decides for 20% of borrowers" in shown.output


def test_a_changed_file_under_a_stored_version_is_refused(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    initialise(engine, START)
    assert _invoke("upload", str(SHIPPED / "ant.json"), "--database", database_url).exit_code == 0
    changed = _ant()
    changed["description"] = "the same version, quietly changed"
    before = dump(engine)
    result = _invoke("upload", _write(tmp_path, changed), "--database", database_url)
    assert result.exit_code == 1, result.output
    assert "version_exists" in result.output
    assert dump(engine) == before


def test_activate_refuses_an_unknown_version_and_a_bad_share(
    engine: sa.Engine, database_url: str
) -> None:
    initialise(engine, START)
    unknown = _invoke("activate", "ant", "ant-9", "--database", database_url)
    assert unknown.exit_code == 1
    assert "unknown_policy" in unknown.output
    share = _invoke(
        "activate", "ant", "ant-9", "--challenger-share", "100", "--database", database_url
    )
    assert share.exit_code == 2


def test_upload_needs_an_initialised_database(engine: sa.Engine, database_url: str) -> None:
    result = _invoke("upload", str(SHIPPED / "ant.json"), "--database", database_url)
    assert result.exit_code == 2
    assert "database: the database has not been initialised" in _words(result.output)
