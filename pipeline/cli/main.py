"""The ``chiso766`` command: one group, each command in its own module, registered explicitly."""

from __future__ import annotations

import os
import sys

import click

from pipeline.cli import (
    alerts,
    dashboards,
    dead_letters,
    demo,
    diff,
    generate,
    ingest,
    migrate,
    rates,
    reconcile,
    reference,
    replay,
    report,
    score,
    stack,
    worker,
)
from pipeline.errors import Chiso766Error
from pipeline.outage import first_line

DEBUG_ENV = "CHISO766_DEBUG"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="chiso766")
def cli() -> None:
    """Live Decision 766 service-delivery indicators for a Vietnamese province.

    Events from the one-stop system go through Kafka, Faust workers keep per-dossier state,
    ClickHouse stores the hourly counts, and dashboards read them. Every command reads its
    connection settings from flags or CHISO766_* environment variables.
    """


cli.add_command(demo.demo)
cli.add_command(stack.stack)
cli.add_command(migrate.migrate)
cli.add_command(reconcile.reconcile)
cli.add_command(worker.worker)
cli.add_command(rates.rates)
cli.add_command(score.score)
cli.add_command(report.report)
cli.add_command(generate.generate)
cli.add_command(ingest.ingest)
cli.add_command(reference.reference)
cli.add_command(alerts.alerts)
cli.add_command(dashboards.dashboards)
cli.add_command(replay.replay)
cli.add_command(diff.diff)
cli.add_command(dead_letters.dead_letters)


def main() -> None:
    try:
        code = cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # one line, not click's usage block
        command = exc.ctx.command_path if exc.ctx else "chiso766"
        click.echo(f"Error: {exc.format_message()} (see: {command} --help)", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Chiso766Error as exc:
        click.echo(f"chiso766: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug or an unclassified failure: still one line, unless debugging
        if os.environ.get(DEBUG_ENV):
            raise
        click.echo(
            f"chiso766: unexpected {type(exc).__name__}: {first_line(str(exc)) or '(no message)'} "
            f"(set {DEBUG_ENV}=1 to see the traceback)",
            err=True,
        )
        sys.exit(1)
    if isinstance(code, int):
        sys.exit(code)
