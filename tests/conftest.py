"""Session fixtures: the real local stack (started if needed) and a fresh namespace per test.

Integration tests talk to the real Kafka broker and ClickHouse server that `chiso766 stack up`
runs. A service that cannot start fails the test run; nothing is ever skipped for it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import broker
from pipeline.settings import Settings
from sinks import schema
from sinks.store import Store, open_store
from tests import namespaces

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """Settings from the environment, with one embedded-store directory for the whole session."""
    chdb_dir = os.environ.get("CHISO766_CHDB_PATH") or tempfile.mkdtemp(prefix="chiso766-chdb-")
    return Settings.resolve({"chdb_path": chdb_dir})


@pytest.fixture(scope="session")
def local_stack(base_settings: Settings) -> Iterator[Settings]:
    """Make sure the local Kafka and ClickHouse answer, starting them if needed (idempotent).

    At the end of the session, the topics and server databases of the namespaces it made
    (``tests/namespaces.py``) are dropped: left behind, thousands of partitions make the next
    broker start take minutes.
    """
    from pipeline.stack.clickhouse import LocalClickHouse
    from pipeline.stack.kafka import LocalKafka

    if not base_settings.kafka_bootstrap:
        LocalKafka(base_settings).up()
    LocalClickHouse(base_settings).up()
    yield base_settings
    broker.delete_topics(base_settings, namespaces.made_here)
    _drop_databases(base_settings, _databases_made_here(base_settings))


def _databases_made_here(settings: Settings) -> set[str]:
    server = open_store(settings.replace(store="server"))
    try:
        return {name for (name,) in server.query("SHOW DATABASES") if namespaces.made_here(name)}
    finally:
        server.close()


def _drop_databases(settings: Settings, databases: set[str]) -> None:
    server = open_store(settings.replace(store="server"))
    try:
        for database in sorted(databases):
            server.execute(f"DROP DATABASE IF EXISTS `{database}`")
    finally:
        server.close()


@pytest.fixture
def namespace() -> str:
    return namespaces.new_namespace()


@pytest.fixture
def settings(base_settings: Settings, namespace: str) -> Settings:
    """Per-test settings: a unique namespace for topics, groups and the database."""
    return base_settings.replace(namespace=namespace)


@pytest.fixture
def kafka_settings(local_stack: Settings, namespace: str) -> Iterator[Settings]:
    """Settings for a test that uses Kafka; its namespace's topics are deleted afterwards."""
    settings = local_stack.replace(namespace=namespace)
    yield settings
    broker.delete_namespace_topics(settings)


@pytest.fixture(params=["server", "embedded"])
def store_settings(
    request: pytest.FixtureRequest, local_stack: Settings, namespace: str
) -> Settings:
    """Run the test once on the ClickHouse server and once on embedded chdb."""
    return local_stack.replace(namespace=namespace, store=request.param)


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    """An open store with the namespace's schema migrated; the database is dropped afterwards."""
    opened = open_store(store_settings)
    schema.migrate(opened, store_settings.database)
    try:
        yield opened
    finally:
        schema.drop(opened, store_settings.database)
        opened.close()
