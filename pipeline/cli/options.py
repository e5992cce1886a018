"""Shared CLI flags: each command gets the settings flags and receives one resolved Settings."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from pipeline.directories import check_directory
from pipeline.reference import Reference
from pipeline.settings import Settings
from pipeline.windows import parse_time

_SETTINGS_FLAGS: list[tuple[str, type | click.ParamType, str]] = [
    ("namespace", str, "Prefix of topics, consumer groups and the ClickHouse database."),
    ("kafka_bootstrap", str, "host:port of an existing Kafka (default: the local stack)."),
    ("kafka_port", int, "Port of the local Kafka broker."),
    ("kafka_controller_port", int, "Port of the local Kafka's KRaft controller."),
    (
        "store",
        click.Choice(["embedded", "server"]),
        "Result store: embedded chdb or ClickHouse server.",
    ),
    ("clickhouse_host", str, "ClickHouse server host."),
    ("clickhouse_port", int, "ClickHouse native-protocol port."),
    ("clickhouse_http_port", int, "ClickHouse HTTP port (local stack)."),
    ("clickhouse_user", str, "ClickHouse user."),
    ("chdb_path", str, "Data directory of the embedded store."),
    ("state_dir", str, "Where the local stack keeps data, logs and pids."),
]


def with_settings(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the settings flags to a click command and pass ``settings=Settings`` instead."""

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name) for name, _, _ in _SETTINGS_FLAGS}
        settings = Settings.resolve(flags)
        # Fail before doing anything when a directory the command may need is unusable.
        check_directory(settings.state_path, "--state-dir")
        check_directory(settings.chdb_dir, "--chdb-path")
        return command(settings=settings, **kwargs)

    for name, kind, help_text in reversed(_SETTINGS_FLAGS):
        env = "CHISO766_" + name.upper()
        wrapper = click.option(
            "--" + name.replace("_", "-"),
            name,
            type=kind,
            default=None,
            help=f"{help_text} [env {env}]",
        )(wrapper)
    return wrapper


def json_flag(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(command)


def chosen_units(
    reference: Reference, unit_code: str | None, level: str | None
) -> list[str] | None:
    """The units named by --unit or --level (checked against the reference), or None for neither."""
    if unit_code:
        if not reference.has_unit(unit_code):
            raise click.BadParameter(f"unknown unit {unit_code!r}", param_hint="--unit")
        return [unit_code]
    if level:
        if level not in reference.levels:
            raise click.BadParameter(
                f"{level!r}: levels are {', '.join(reference.levels)}", param_hint="--level"
            )
        return [u.code for u in reference.units_at(level)]
    return None


def parse_time_option(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> int | None:
    """A click callback: an optional time flag (an RFC 3339 time with offset, or a date for
    midnight Vietnam time) as epoch ms, or a usage error that says which forms are accepted."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
