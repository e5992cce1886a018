"""The Store contract every backend meets, and the factory that picks one from settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pipeline.settings import Settings

Row = Sequence[Any]

DATA_ERROR_CODES = frozenset({6, 25, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349})
"""ClickHouse error codes that blame the inserted values, not the statement or the server:
CANNOT_PARSE_TEXT, _ESCAPE_SEQUENCE, _QUOTED_STRING, _INPUT_ASSERTION_FAILED, _DATE, _DATETIME,
TYPE_MISMATCH, ARGUMENT_OUT_OF_BOUND, CANNOT_CONVERT_TYPE, CANNOT_PARSE_NUMBER, INCORRECT_DATA,
TOO_LARGE_STRING_SIZE, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE, CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN.
An insert failing with one of them is a ``RejectedRowsError``."""


class Store(Protocol):
    """Run SQL on one ClickHouse engine. Values go in through ``insert``, never into SQL text."""

    backend: str

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL, INSERT ... SELECT, OPTIMIZE)."""

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a SELECT and return its rows as tuples."""

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Insert rows (tuples in ``columns`` order) into ``table`` (``db.table``)."""

    def server_version(self) -> str: ...

    def close(self) -> None: ...


def open_store(settings: Settings) -> Store:
    """The backend named by ``settings.store``: ``embedded`` (chdb) or ``server``.

    When another process (a running worker or demo) holds the embedded directory, the store
    returned reads through that process (``sinks/loopback.py``) and refuses writes.
    """
    if settings.store == "server":
        from sinks.server import ServerStore

        return ServerStore(
            host=settings.clickhouse_host,
            port=settings.clickhouse_port,
            user=settings.clickhouse_user,
            password=settings.clickhouse_password,
        )
    from sinks.embedded import open_embedded

    return open_embedded(settings.chdb_dir)
