"""The ``chiso766`` command: one group, each command in its own module, registered explicitly."""

from __future__ import annotations

import sys

import click

from pipeline.cli import (
    alerts,
    demo,
    generate,
    ingest,
    migrate,
    rates,
    reconcile,
    reference,
    score,
    stack,
    worker,
)
from pipeline.errors import Chiso766Error


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
cli.add_command(generate.generate)
cli.add_command(ingest.ingest)
cli.add_command(reference.reference)
cli.add_command(alerts.alerts)


def main() -> None:
    try:
        code = cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Chiso766Error as exc:
        click.echo(f"chiso766: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(code, int):
        sys.exit(code)
