"""Local ClickHouse server (Debian's clickhouse-server package) with its own config and data dir."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping

from pipeline.directories import check_directory, ensure_directory
from pipeline.errors import MissingToolError, StackError
from pipeline.settings import Settings
from pipeline.stack import process
from pipeline.stack.service import ServiceStatus

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 40.0  # 18.16 can take 20-30 s to stop after SIGTERM
_SERVER_PATHS = ("clickhouse-server", "/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server")

_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>{home}/server.log</log>
    <errorlog>{home}/error.log</errorlog>
    <size>20M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{tcp_port}</tcp_port>
  <http_port>{http_port}</http_port>
  <path>{data}/</path>
  <tmp_path>{data}/tmp/</tmp_path>
  <user_files_path>{data}/user_files/</user_files_path>
  <format_schema_path>{data}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
</yandex>
"""

_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <load_balancing>random</load_balancing>
    </default>
    <chiso766_grafana>
      <readonly>2</readonly>
      <max_execution_time>60</max_execution_time>
      <max_memory_usage>2000000000</max_memory_usage>
    </chiso766_grafana>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
    <chiso766_migrate>
      <password_sha256_hex>{migrate_sha256}</password_sha256_hex>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </chiso766_migrate>
    <chiso766_worker>
      <password_sha256_hex>{worker_sha256}</password_sha256_hex>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
      <allow_databases><database>{database}</database></allow_databases>
    </chiso766_worker>
    <chiso766_grafana>
      <password_sha256_hex>{grafana_sha256}</password_sha256_hex>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>chiso766_grafana</profile>
      <quota>default</quota>
      <allow_databases><database>{database}</database></allow_databases>
    </chiso766_grafana>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
        <read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
"""

LOCAL_PASSWORDS = {
    "CLICKHOUSE_PASSWORD": "chiso766-local-migrate",
    "CLICKHOUSE_WORKER_PASSWORD": "chiso766-local-worker",
    "CLICKHOUSE_GRAFANA_PASSWORD": "chiso766-local-grafana",
}
"""Passwords of the local stack's users chiso766_migrate, _worker and _grafana when the
environment sets none (loopback only; docker compose requires real ones). The ``default`` user
stays passwordless on loopback for development and tests."""


def users_xml(database: str, env: Mapping[str, str]) -> str:
    """The local server's users: default (loopback, no password) and the three chiso766 users."""

    def sha256_of(variable: str) -> str:
        password = env.get(variable) or LOCAL_PASSWORDS[variable]
        return hashlib.sha256(password.encode()).hexdigest()

    return _USERS.format(
        database=database,
        migrate_sha256=sha256_of("CLICKHOUSE_PASSWORD"),
        worker_sha256=sha256_of("CLICKHOUSE_WORKER_PASSWORD"),
        grafana_sha256=sha256_of("CLICKHOUSE_GRAFANA_PASSWORD"),
    )


class LocalClickHouse:
    """One ClickHouse server whose config, data and logs live under ``{state_dir}/clickhouse``."""

    name = "clickhouse"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        check_directory(settings.state_path, "--state-dir")
        self.home = settings.state_path / "clickhouse"
        self.pid_path = self.home / "clickhouse.pid"
        self.log_path = self.home / "stdout.log"
        self.marker = str(self.home / "config.xml")

    @property
    def address(self) -> str:
        return (
            f"127.0.0.1:{self.settings.clickhouse_port} (http {self.settings.clickhouse_http_port})"
        )

    def up(self) -> ServiceStatus:
        pid = process.read_pid(self.pid_path)
        if pid and process.is_alive(pid, self.marker):
            self._wait_ready(lambda: process.is_alive(pid, self.marker))
            return self.status()
        server = self.ensure_installed()
        ensure_directory(self.home, "--state-dir")
        (self.home / "data").mkdir(exist_ok=True)
        (self.home / "config.xml").write_text(
            _CONFIG.format(
                home=self.home,
                data=self.home / "data",
                tcp_port=self.settings.clickhouse_port,
                http_port=self.settings.clickhouse_http_port,
            )
        )
        users = self.home / "users.xml"
        users.touch(mode=0o600)
        users.write_text(users_xml(self.settings.database, os.environ))
        started = process.start_detached(
            [server, f"--config-file={self.home / 'config.xml'}"],
            self.log_path,
            self.pid_path,
            cwd=self.home,
        )
        self._wait_ready(lambda: started.poll() is None)
        return self.status()

    def down(self) -> bool:
        pid = process.read_pid(self.pid_path)
        stopped = bool(pid) and process.stop(pid, self.marker, timeout_s=STOP_TIMEOUT_S)  # type: ignore[arg-type]
        self.pid_path.unlink(missing_ok=True)
        return stopped

    def status(self) -> ServiceStatus:
        pid = process.read_pid(self.pid_path)
        running = bool(pid) and process.is_alive(pid, self.marker)  # type: ignore[arg-type]
        version = self._query("SELECT version()") if running else None
        return ServiceStatus(
            name=self.name,
            address=self.address,
            running=running,
            healthy=version is not None,
            version=version or "unknown",
            pid=pid if running else None,
            rss_mb=process.rss_mb(pid) if running and pid else None,
            log=str(self.home / "error.log"),
        )

    def ensure_installed(self) -> str:
        """Path of clickhouse-server; install Debian's package with apt-get when it is missing."""
        found = _find_server()
        if found:
            return found
        if shutil.which("apt-get") is None:
            raise MissingToolError(
                "clickhouse-server is not installed and apt-get is not available "
                "(install ClickHouse, or run the production stack with `docker compose up`)"
            )
        if os.geteuid() != 0:
            raise MissingToolError(
                "clickhouse-server is not installed; run `sudo apt-get install clickhouse-server` "
                "(or use `docker compose up`)"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "clickhouse-server"],
        ):
            result = subprocess.run(argv, capture_output=True, text=True, env=env)
            if result.returncode != 0:
                raise StackError(f"{' '.join(argv)} failed: {result.stderr.strip()[-400:]}")
        found = _find_server()
        if not found:
            raise StackError("apt-get installed clickhouse-server but the binary is not on PATH")
        return found

    def _query(self, sql: str, timeout_s: float = 3.0) -> str | None:
        url = f"http://127.0.0.1:{self.settings.clickhouse_http_port}/?query=" + urllib.parse.quote(
            sql
        )
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                return response.read().decode().strip()
        except (urllib.error.URLError, OSError):
            return None

    def _wait_ready(self, alive: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not alive():
                raise StackError(
                    f"ClickHouse exited during start-up; see {self.home / 'error.log'}"
                )
            if self._query("SELECT 1") == "1":
                return
            time.sleep(0.3)
        raise StackError(
            f"ClickHouse did not answer on {self.address} within {START_TIMEOUT_S:.0f} s"
        )


def _find_server() -> str | None:
    for candidate in _SERVER_PATHS:
        found = shutil.which(candidate)
        if found:
            return found
    return None
