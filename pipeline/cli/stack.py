"""`chiso766 stack up|down|status`: the local Kafka and ClickHouse, without Docker."""

from __future__ import annotations

import json
import time

import click
from rich.console import Console
from rich.table import Table

from pipeline.cli.options import json_flag, with_settings
from pipeline.settings import Settings
from pipeline.stack.clickhouse import LocalClickHouse
from pipeline.stack.kafka import LocalKafka
from pipeline.stack.service import ServiceStatus

SERVICES = ("kafka", "clickhouse")
_only = click.option(
    "--only", type=click.Choice(SERVICES), default=None, help="Act on one service instead of both."
)


def services(settings: Settings, only: str | None = None) -> list[LocalKafka | LocalClickHouse]:
    chosen: list[LocalKafka | LocalClickHouse] = [LocalKafka(settings), LocalClickHouse(settings)]
    return [s for s in chosen if only in (None, s.name)]


@click.group()
def stack() -> None:
    """Run a local Kafka (KRaft) and ClickHouse on 127.0.0.1, without Docker.

    Kafka's jars come from Maven Central through the pinned pom.xml (needs java and mvn);
    ClickHouse is Debian's clickhouse-server package, installed with apt-get when missing.
    Both keep their data under --state-dir and outlive this command; `down` stops only what
    `up` started. In production use `docker compose up` instead.
    """


@stack.command()
@_only
@json_flag
@with_settings
def up(settings: Settings, only: str | None, as_json: bool) -> None:
    """Start the services (idempotent) and wait until each answers.

    Example: chiso766 stack up --kafka-port 19092 --clickhouse-port 19000
    """
    started = time.monotonic()
    statuses = [service.up() for service in services(settings, only)]
    _show(statuses, as_json, footer=f"ready in {time.monotonic() - started:.1f} s")


@stack.command()
@_only
@json_flag
@with_settings
def down(settings: Settings, only: str | None, as_json: bool) -> None:
    """Stop the services that `up` started (by pid); leave anything else alone."""
    stopped = {service.name: service.down() for service in services(settings, only)}
    if as_json:
        click.echo(json.dumps({"stopped": stopped}))
        return
    for name, was_running in stopped.items():
        click.echo(f"{name}: {'stopped' if was_running else 'was not running'}")


@stack.command()
@_only
@json_flag
@with_settings
def status(settings: Settings, only: str | None, as_json: bool) -> None:
    """Show each service's health, version, address, pid and memory. Exit 1 if any is down."""
    statuses = [service.status() for service in services(settings, only)]
    _show(statuses, as_json)
    if not all(s.healthy for s in statuses):
        raise SystemExit(1)


def _show(statuses: list[ServiceStatus], as_json: bool, footer: str = "") -> None:
    if as_json:
        click.echo(json.dumps({"services": [s.to_dict() for s in statuses]}))
        return
    table = Table(title="chiso766 local stack", caption=footer or None)
    for column in ("service", "health", "version", "address", "pid", "memory"):
        table.add_column(column)
    for s in statuses:
        health = (
            "[green]healthy[/]"
            if s.healthy
            else ("[yellow]starting[/]" if s.running else "[red]down[/]")
        )
        memory = f"{s.rss_mb:.0f} MiB" if s.rss_mb is not None else "-"
        table.add_row(s.name, health, s.version, s.address, str(s.pid or "-"), memory)
    Console().print(table)
