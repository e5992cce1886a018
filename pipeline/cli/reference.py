"""``chiso766 reference``: show (and so check) a province's units and procedures."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from pipeline.cli.options import json_flag, with_settings
from pipeline.reference import ONLINE_LEVELS, Reference, load_reference
from pipeline.settings import Settings


def reference_dir_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--reference-dir DIR``: another province's units.csv and procedures.csv."""
    return click.option(
        "--reference-dir",
        "reference_dir",
        type=click.Path(file_okay=False, exists=True),
        default=None,
        metavar="DIR",
        help="Folder with units.csv and procedures.csv of another province "
        "(default: the demo province) [env CHISO766_REFERENCE_DIR]",
    )(command)


def reference_for(settings: Settings, reference_dir: str | None) -> Reference:
    """The reference data the flag, else CHISO766_REFERENCE_DIR, else the demo province names."""
    return load_reference(
        settings.replace(reference_dir=reference_dir) if reference_dir else settings
    )


@click.command("reference")
@reference_dir_option
@json_flag
@with_settings
def reference(settings: Settings, reference_dir: str | None, as_json: bool) -> None:
    """Show the province's units and procedures, after checking the files.

    The demo province (Bình Phước: 122 units, 1,831 procedures) ships with chiso766; another
    province's two CSV files can be given with --reference-dir or CHISO766_REFERENCE_DIR
    (columns are described in pipeline/reference.py). Any problem in the files is reported
    with its file and line, and the command exits with status 2.

    --json prints {"province", "source", "units": [{code, name, level, parent}, ...],
    "procedures": [{code, name, field, level, agency, online_level, fee_bearing,
    result_is_document, full_process_eligible, due_days, fee_vnd}, ...]}.

    \b
    Examples:
      chiso766 reference
      chiso766 reference --json | jq '.units | length'
      chiso766 reference --reference-dir ./provinces/dong-nai
    """
    data = reference_for(settings, reference_dir)
    if as_json:
        click.echo(
            json.dumps(
                {"province": data.province, "source": data.source, **data.to_json()},
                ensure_ascii=False,
            )
        )
        return
    _print_summary(data)


def _print_summary(data: Reference) -> None:
    console = Console()
    console.print(f"[bold]{data.province}[/bold]  ({data.source})")
    units = Table(title=f"{len(data.units)} units", title_justify="left")
    units.add_column("level")
    units.add_column("units", justify="right")
    units.add_column("example")
    for level in data.levels:
        members = data.units_at(level)
        units.add_row(level, str(len(members)), f"{members[0].code} {members[0].name}")
    console.print(units)
    procedures = Table(title=f"{len(data.procedures)} procedures", title_justify="left")
    procedures.add_column("online level")
    procedures.add_column("procedures", justify="right")
    procedures.add_column("fee-bearing", justify="right")
    procedures.add_column("result is a document", justify="right")
    for online_level in ONLINE_LEVELS:
        offered = [p for p in data.procedures if p.online_level == online_level]
        procedures.add_row(
            online_level,
            str(len(offered)),
            str(sum(p.fee_bearing for p in offered)),
            str(sum(p.result_is_document for p in offered)),
        )
    console.print(procedures)
