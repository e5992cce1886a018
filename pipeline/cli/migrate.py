"""`chiso766 migrate`: create or upgrade the namespace's ClickHouse schema on either backend."""

from __future__ import annotations

import json

import click

from pipeline.cli.options import json_flag, with_settings
from pipeline.reference import load_reference
from pipeline.settings import Settings
from sinks.reference_tables import store_reference
from sinks.schema import LATEST_VERSION, current_version
from sinks.schema import migrate as apply_migrations
from sinks.store import open_store


@click.command()
@json_flag
@with_settings
def migrate(settings: Settings, as_json: bool) -> None:
    """Create or upgrade the schema in the namespace's database (safe to run again), and copy
    the reference data into its `units` and `procedures` tables.

    Works on the embedded store (chdb, the default) and on a ClickHouse server
    (--store server). Example: chiso766 migrate --store server --namespace prod
    """
    reference = load_reference(settings)
    store = open_store(settings)
    try:
        applied = apply_migrations(store, settings.database)
        store_reference(store, settings.database, reference)
        version = current_version(store, settings.database)
        engine = store.server_version()
    finally:
        store.close()
    summary = {
        "database": settings.database,
        "backend": settings.store,
        "engine_version": engine,
        "applied": applied,
        "schema_version": version,
        "latest": LATEST_VERSION,
    }
    if as_json:
        click.echo(json.dumps(summary))
    elif applied:
        click.echo(
            f"{settings.database} ({settings.store}, ClickHouse {engine}): applied {applied}, now at v{version}"
        )
    else:
        click.echo(
            f"{settings.database} ({settings.store}, ClickHouse {engine}): up to date at v{version}"
        )
