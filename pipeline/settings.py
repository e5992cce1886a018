"""Connection and behaviour settings, resolved once in the entry point: flags, then CHISO766_* env, then defaults."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

ENV_PREFIX = "CHISO766_"
STORE_BACKENDS = ("embedded", "server")
_NAMESPACE_RE = re.compile(r"[a-z][a-z0-9_-]{0,47}")
_HOST_RE = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")


def _default_state_dir() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "chiso766"


@dataclass(frozen=True)
class Settings:
    """Every knob the CLI, the worker and the tests share.

    Each field can be set by a flag of the same name (``--kafka-port``) or by the environment
    variable ``CHISO766_<FIELD>`` (``CHISO766_KAFKA_PORT``); flags win over the environment,
    the environment over the defaults below.
    """

    namespace: str = "chiso766"
    """Prefix of every topic (``{namespace}.{topic}``), consumer group and ClickHouse database."""
    kafka_bootstrap: str = ""
    """host:port list of an existing Kafka; empty means the local stack at kafka_port."""
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    store: str = "embedded"
    """Where results go: ``embedded`` (chdb in-process) or ``server`` (ClickHouse via native protocol)."""
    clickhouse_host: str = "127.0.0.1"
    clickhouse_port: int = 9000
    clickhouse_http_port: int = 8123
    clickhouse_user: str = "default"
    clickhouse_password: str = field(default="", repr=False)
    chdb_path: str = ""
    """Data directory of the embedded store; empty means ``{state_dir}/chdb``."""
    state_dir: str = ""
    """Where the local stack keeps data, logs and pids; empty means ~/.local/state/chiso766."""
    partitions: int = 8
    """Partitions of the topics the worker creates."""
    late_horizon_days: int = 400
    """Events older than stream time minus this many days are dead-lettered."""
    reference_dir: str = ""
    """Folder with units.csv and procedures.csv of another province; empty means the demo province."""
    alert_webhook: str = ""
    """URL that alert notifications are POSTed to (JSON); empty means no webhook."""
    grafana_url: str = "http://127.0.0.1:3000"
    """Base URL of Grafana, for the dashboard links in alert notifications."""

    def __post_init__(self) -> None:
        if not _NAMESPACE_RE.fullmatch(self.namespace):
            raise ConfigError(
                f"namespace {self.namespace!r}: use 1-48 of a-z, 0-9, '_' or '-', starting with a letter"
            )
        if self.store not in STORE_BACKENDS:
            raise ConfigError(f"store {self.store!r}: expected one of {', '.join(STORE_BACKENDS)}")
        for name in (
            "kafka_port",
            "kafka_controller_port",
            "clickhouse_port",
            "clickhouse_http_port",
        ):
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise ConfigError(f"{name} {port}: not a TCP port")
        if self.kafka_bootstrap:
            for address in self.kafka_bootstrap.split(","):
                check_address(address.strip(), "kafka_bootstrap")
        if "?" in str(self.chdb_dir):
            raise ConfigError(
                f"embedded store directory {str(self.chdb_dir)!r} (chdb_path, or state_dir "
                "when it is empty): '?' is not allowed (the embedded engine would read what "
                "follows as connection parameters)"
            )
        if self.partitions < 1:
            raise ConfigError(f"partitions {self.partitions}: must be at least 1")
        if self.late_horizon_days < 1:
            raise ConfigError(f"late_horizon_days {self.late_horizon_days}: must be at least 1")

    # --- derived values -------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir) if self.state_dir else _default_state_dir()

    @property
    def chdb_dir(self) -> Path:
        return Path(self.chdb_path) if self.chdb_path else self.state_path / "chdb"

    @property
    def database(self) -> str:
        """The namespace as a ClickHouse identifier (no '-')."""
        return self.namespace.replace("-", "_")

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def group(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    # --- resolution -----------------------------------------------------------------------
    @classmethod
    def resolve(
        cls, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from flags (None means "not given"), then env, then defaults.

        Raises ConfigError naming the variable when a value has the wrong type.
        """
        flags = flags or {}
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            flag_value = flags.get(f.name)
            if flag_value is not None:
                values[f.name] = flag_value
                continue
            env_name = ENV_PREFIX + f.name.upper()
            if env_name in env:
                values[f.name] = _coerce(env_name, env[env_name], f.type)
        return cls(**values)

    @classmethod
    def env_names(cls) -> list[str]:
        return [ENV_PREFIX + f.name.upper() for f in fields(cls)]


def check_address(address: str, name: str) -> None:
    """Raise ConfigError unless ``address`` is ``host:port`` (an IPv6 host in brackets)."""
    host, colon, port = address.rpartition(":")
    if not (colon and _HOST_RE.fullmatch(host) and port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(
            f"{name} {address!r}: expected host:port (IPv6 as [::1]:9092), comma-separated"
        )


def _coerce(name: str, raw: str, type_name: Any) -> Any:
    if type_name in (int, "int"):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
    return raw
