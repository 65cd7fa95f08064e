"""Credit policies: validate, show, upload, activate and backtest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from crossline.cli.common import (
    CheckDatabaseOption,
    DatabaseOption,
    catalog_in_force,
    fail,
    parse_date,
    policy_app,
    transaction,
)
from crossline.decisions.backtest import backtest
from crossline.decisions.policies import (
    activate_policy,
    check_policy,
    default_policy_text,
    policies_in_force,
    policy_role,
    upload_policy,
)
from crossline.policy.bundle import Bundle
from crossline.policy.errors import PolicyError
from crossline.policy.render import render_policy, table_sizes
from crossline.servicing.errors import InputError, RefusedError
from crossline.store import platform


def _read_policy(file: Path) -> str:
    """The file's text, or exit 2: a missing or non-UTF-8 file is bad input, not a crash."""
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(escape(f"file: {exc}")) from exc


def _checked(conn: sa.Connection, text: str) -> Bundle:
    """The policy checked, or exit 2 naming the decision, node, row and column at fault."""
    try:
        return check_policy(conn, text)
    except PolicyError as exc:
        raise fail(escape(str(exc))) from exc


@policy_app.command("validate")
def policy_validate(
    file: Annotated[Path, typer.Argument(help="A crossline-policy/1 JSON file.")],
    database: CheckDatabaseOption = None,
) -> None:
    """Check a policy file against the decision contracts and the catalog; list its tables."""
    text = _read_policy(file)
    with catalog_in_force(database) as conn:
        bundle = _checked(conn, text)
    typer.echo(f"ok {bundle.group} {bundle.version}")
    for title, rows in table_sizes(bundle):
        typer.echo(f"  {title}: {rows} rows")


@policy_app.command("show")
def policy_show(
    file: Annotated[Path | None, typer.Argument(help="A crossline-policy/1 JSON file.")] = None,
    group: Annotated[
        str | None,
        typer.Option(
            help="Show a lender group's champion instead: the one in force in --database, "
            "or without --database the shipped default."
        ),
    ] = None,
    database: CheckDatabaseOption = None,
) -> None:
    """Print a policy's decision tables row by row, its reason and document texts and its
    price tiers."""
    notes = []
    if file is not None and group is None:
        text = _read_policy(file)
        with catalog_in_force(database) as conn:
            bundle = _checked(conn, text)
    elif group is not None and file is None and database is None:
        try:
            text = default_policy_text(group)
        except RefusedError as exc:
            raise fail(escape(f"group: {exc.message}")) from exc
        with catalog_in_force(None) as conn:
            bundle = _checked(conn, text)
        notes.append(f"the shipped default policy of {group}")
    elif group is not None and file is None:
        with transaction(database) as conn:
            try:
                arms = policies_in_force(conn, group, platform.catalog_json(conn))
            except RefusedError as exc:
                raise fail(escape(f"group: {exc.message}")) from exc
            except PolicyError as exc:
                raise fail(escape(f"stored policy of {group}: {exc}")) from exc
        bundle = arms.champion
        notes.append(f"the champion of {group} in force")
        if arms.challenger is not None:
            notes.append(
                f"challenger {arms.challenger.version} decides for {arms.share}% of borrowers"
            )
    else:
        raise fail("file: give either a policy FILE or --group GROUP")
    console = Console()
    for note in notes:
        console.print(Text(note, style="italic"))
    console.print(render_policy(bundle))


@policy_app.command("upload")
def policy_upload(
    file: Annotated[Path, typer.Argument(help="A crossline-policy/1 JSON file.")],
    database: DatabaseOption = None,
) -> None:
    """Check a policy file and store it as a draft of its group (JSON)."""
    text = _read_policy(file)
    with transaction(database) as conn:
        try:
            bundle = upload_policy(conn, text, platform.business_date(conn))
        except PolicyError as exc:
            raise fail(escape(str(exc))) from exc
        except RefusedError as exc:
            raise fail(escape(f"{exc.code}: {exc.message}"), 1) from exc
        # The same file uploaded again is the stored version, which may be active by now.
        role = policy_role(conn, bundle.group, bundle.version)
    typer.echo(
        json.dumps(
            {
                "group": bundle.group,
                "version": bundle.version,
                "digest": bundle.digest,
                "role": role,
            }
        )
    )


@policy_app.command("activate")
def policy_activate(
    group: Annotated[str, typer.Argument(help="Lender group, e.g. ant.")],
    version: Annotated[str, typer.Argument(help="An uploaded version of the group's policy.")],
    database: DatabaseOption = None,
    challenger_share: Annotated[
        int | None,
        typer.Option(
            "--challenger-share",
            min=1,
            max=99,
            help="Make it the challenger for this per cent of borrowers (default: champion).",
        ),
    ] = None,
) -> None:
    """Make an uploaded version the group's champion, or its challenger for a share (JSON)."""
    with transaction(database) as conn:
        try:
            activate_policy(conn, group, version, platform.business_date(conn), challenger_share)
        except RefusedError as exc:
            raise fail(escape(f"{exc.code}: {exc.message}"), 1) from exc
    role = "champion" if challenger_share is None else "challenger"
    typer.echo(
        json.dumps({"group": group, "version": version, "role": role, "share": challenger_share})
    )


@policy_app.command("backtest")
def policy_backtest(
    policy: Annotated[
        Path, typer.Option("--policy", help="The candidate: a crossline-policy/1 JSON file.")
    ],
    start: Annotated[
        str, typer.Option("--from", help="First business date of the decisions, e.g. 2026-03-01.")
    ],
    end: Annotated[str, typer.Option("--to", help="Last business date of the decisions.")],
    database: DatabaseOption = None,
) -> None:
    """Replay the candidate's group's stored applications through it; print, for each
    stored version and for the candidate, approval and referral rates, approved limits and
    the later bad rate of the approved, and how many decisions change outcome (JSON)."""
    first = parse_date(start, "from")
    last = parse_date(end, "to")
    try:
        text = policy.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(escape(f"policy: {exc}")) from exc
    with transaction(database) as conn:
        try:
            result = backtest(conn, text, first, last)
        except PolicyError as exc:
            raise fail(escape(f"policy: {exc}")) from exc
        except InputError as exc:
            raise fail(escape(exc.message)) from exc
        except RefusedError as exc:
            raise fail(escape(f"{exc.code}: {exc.message}"), 1) from exc
    typer.echo(json.dumps(result.as_dict()))
