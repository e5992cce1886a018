"""`chiso766 worker`: run the Faust worker until stopped."""

from __future__ import annotations

import click

from pipeline.cli.options import with_settings
from pipeline.settings import Settings


@click.command()
@click.option("--loglevel", default="warning", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="Worker log level.")  # fmt: skip
@with_settings
def worker(settings: Settings, loglevel: str) -> None:
    """Consume the namespace's input topics and keep the indicator tables current.

    Reads {namespace}.dossier-events, payment-events and feedback-events (created with
    CHISO766_PARTITIONS partitions when missing), validates every message against contract
    v1 and the reference data, folds accepted events into per-dossier state, and stores
    snapshots and the raw archive in ClickHouse before committing offsets. Bad messages go to
    {namespace}.dead-letters with the reason in headers. Start more workers with the same
    settings to share the partitions; stop with Ctrl-C or SIGTERM.

    Example: chiso766 worker --store server --namespace prod
    """
    from streams.entry import assemble
    from streams.logs import early_logging
    from streams.worker import run

    with early_logging():
        assembled = assemble(settings)
    click.echo(
        f"worker for {settings.namespace}: Kafka {settings.bootstrap_servers}, "
        f"{settings.store} store, database {settings.database}",
        err=True,
    )
    run(assembled.app, loglevel=loglevel)
