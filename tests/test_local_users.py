"""The local stack's ClickHouse users: migrate runs DDL, the worker writes only its database,
Grafana only reads its database (and may still set query settings). On a server of our own."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.errors import SinkError
from pipeline.settings import Settings
from pipeline.stack.clickhouse import LOCAL_PASSWORDS, LocalClickHouse, users_xml
from sinks.server import ServerStore
from tests import stream_harness as harness

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = Settings(namespace="users-test", state_dir=str(tmp_path_factory.mktemp("users")),
                        clickhouse_port=harness.spare_port(), clickhouse_http_port=harness.spare_port())  # fmt: skip
    clickhouse = LocalClickHouse(settings)
    clickhouse.up()
    try:
        yield settings
    finally:
        clickhouse.down()


def _as(settings: Settings, user: str, variable: str) -> ServerStore:
    return ServerStore("127.0.0.1", settings.clickhouse_port, user, LOCAL_PASSWORDS[variable])


def test_each_user_can_do_its_job_and_no_more(server: Settings) -> None:
    db = server.database
    migrate = _as(server, "chiso766_migrate", "CLICKHOUSE_PASSWORD")
    migrate.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    migrate.execute("CREATE DATABASE IF NOT EXISTS other_db")
    for name in (db, "other_db"):
        migrate.execute(f"CREATE TABLE IF NOT EXISTS {name}.t (x UInt8) ENGINE = Memory")

    worker = _as(server, "chiso766_worker", "CLICKHOUSE_WORKER_PASSWORD")
    worker.insert(f"{db}.t", ["x"], [(1,), (2,)])
    assert worker.query(f"SELECT sum(x) FROM {db}.t") == [(3,)]
    with pytest.raises(SinkError):
        worker.query("SELECT count() FROM other_db.t")

    grafana = _as(server, "chiso766_grafana", "CLICKHOUSE_GRAFANA_PASSWORD")
    assert grafana.query(f"SELECT sum(x) FROM {db}.t SETTINGS max_threads = 1") == [(3,)]
    with pytest.raises(SinkError):
        grafana.insert(f"{db}.t", ["x"], [(3,)])
    with pytest.raises(SinkError):
        grafana.execute(f"DROP TABLE {db}.t")
    with pytest.raises(SinkError):
        grafana.query("SELECT count() FROM other_db.t")


def test_wrong_password_is_refused(server: Settings) -> None:
    wrong = ServerStore("127.0.0.1", server.clickhouse_port, "chiso766_worker", "guess")
    with pytest.raises(SinkError):
        wrong.query("SELECT 1")


def test_passwords_come_from_the_environment_and_are_stored_hashed() -> None:
    text = users_xml("ns", {"CLICKHOUSE_WORKER_PASSWORD": "s3cret-from-env"})
    assert "s3cret-from-env" not in text and LOCAL_PASSWORDS["CLICKHOUSE_PASSWORD"] not in text
    assert hashlib.sha256(b"s3cret-from-env").hexdigest() in text
    assert text.count("<database>ns</database>") == 2


def test_users_file_is_private(server: Settings) -> None:
    users = Path(server.state_path) / "clickhouse" / "users.xml"
    assert users.stat().st_mode & 0o077 == 0
