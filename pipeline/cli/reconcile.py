"""``chiso766 reconcile``: recompute a national-portal evaluation response and compare, per unit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline.cli.options import json_flag
from pipeline.errors import PortalDataError
from pipeline.scoring.portal import PortalEvaluation, parse_evaluation
from pipeline.scoring.reconcile import Reconciliation
from pipeline.scoring.reconcile import reconcile as reconcile_evaluation

EXIT_MISMATCH = 1


@click.command("reconcile")
@click.option(
    "--portal",
    "portal_path",
    required=True,
    type=click.Path(path_type=Path),
    metavar="FILE.json",
    help="A saved response of the portal's evaluation API (see above).",
)
@json_flag
def reconcile(portal_path: Path, as_json: bool) -> None:
    """Check our 766 scores against the national portal's, unit by unit.

    FILE.json is one response of the National Public Service Portal's evaluation API,
    https://dichvucong.gov.vn/api/v1/reporting/evaluation/<group>, saved as it came: any of
    the six groups (transparency, dvc-progress-tree, dossier-digitized, provide-online-tree,
    formality-online-payment-tree, handling-satisfaction), any period, all procedures or one.
    To get one, open the 766 index page (Chỉ số phục vụ) on dichvucong.gov.vn, choose the
    province, period and group, and save that request's response from the browser's
    developer tools (Network tab). Examples: tests/fixtures/portal-766/ in the repository.

    For every unit in the file (the province first) the command recomputes the group score
    from the counts the portal published, with our scoring engine, and prints the portal's
    score, ours and the difference. Units whose record carries no counts (the
    provide-online-tree children, for example) are listed as not checkable, never as
    matching.

    --json prints {"group", "checked", "mismatched", "not_checkable", "rows": [...]}.

    Exit status: 0 when every checked unit is within 0.01 points of the portal; 1 when any
    differs by more; 2 when the file is missing, is not JSON or is not an evaluation response.
    """
    result = reconcile_evaluation(_read_evaluation(portal_path))
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_table(result, portal_path)
    if result.mismatched:
        # sys.exit rather than ctx.exit: the status must survive standalone_mode=False.
        sys.exit(EXIT_MISMATCH)


def _read_evaluation(path: Path) -> PortalEvaluation:
    """Read and parse ``path``; every failure is one :class:`PortalDataError` naming the file."""
    document = _load(path)
    try:
        return parse_evaluation(document)
    except PortalDataError as exc:
        raise PortalDataError(f"{path}: {exc}") from exc


def _load(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PortalDataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PortalDataError(f"{path}: is a directory, expected a JSON file") from None
    except UnicodeDecodeError as exc:
        raise PortalDataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise PortalDataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PortalDataError(
            f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError:
        raise PortalDataError(f"{path}: JSON nested too deeply to be a portal response") from None


def _print_table(result: Reconciliation, path: Path) -> None:
    console = Console(highlight=False)
    table = Table(
        title=escape(f"{result.group_name_vi} ({result.group_id}) — {path.name}"),
        title_justify="left",
    )
    table.add_column("Đơn vị / unit", overflow="fold")
    table.add_column("code", no_wrap=True)
    table.add_column("portal", justify="right")
    table.add_column("ours", justify="right")
    table.add_column("diff", justify="right")
    table.add_column("status")
    for row in result.rows:
        unit = row.unit
        style = {"match": "", "mismatch": "bold red", "not_checkable": "dim"}[row.status]
        status = {"match": "ok", "mismatch": "MISMATCH", "not_checkable": "not checkable"}[
            row.status
        ]
        if row.status == "mismatch" and row.note:
            status = f"{status}: {row.note}"
        table.add_row(  # names and notes come from the file: never read them as rich markup
            escape(unit.name),
            escape(unit.unit_code or ""),
            f"{unit.portal_points:.2f}",
            "" if row.our_points is None else f"{row.our_points:.2f}",
            "" if row.diff is None else f"{row.diff:+.2f}",
            escape(status),
            style=style,
        )
    console.print(table)
    if result.not_checkable:
        console.print("not checkable: the portal publishes no counts for these units.")
    rated = sorted(
        {c.indicator_id for r in result.rows for c in r.indicators if c.from_published_rate}
    )
    if rated:
        console.print(
            f"{', '.join(rated)}: scored from the rate the portal publishes (it gives no counts)."
        )
    verdict = "[bold red]MISMATCH[/]" if result.mismatched else "[green]all checked units match[/]"
    console.print(
        f"{result.group_id}: {result.checked} checked, {result.mismatched} mismatched, "
        f"{result.not_checkable} not checkable (tolerance {result.tolerance:.2f} points) — "
        f"{verdict}"
    )
