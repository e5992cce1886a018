"""ClickHouse server backend through clickhouse-driver (native protocol)."""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver import errors as driver_errors

from pipeline.errors import RejectedRowsError, RetryableSinkError, SinkError
from sinks.store import DATA_ERROR_CODES, Row

# Transport failures may pass; server errors about our SQL or schema will not.
_RETRYABLE = (driver_errors.NetworkError, driver_errors.SocketTimeoutError, EOFError, OSError)


class ServerStore:
    backend = "server"

    def __init__(
        self,
        host: str,
        port: int,
        user: str = "default",
        password: str = "",
        settings: dict[str, Any] | None = None,
    ) -> None:
        """``settings``: ClickHouse settings for every query of this connection (benchmarks
        turn on ``log_queries`` to read each query's CPU time from ``system.query_log``)."""
        self.address = f"{host}:{port}"
        # The driver logs every failed connection with its traceback before raising; we
        # classify and report the failure ourselves (``_run``), in one line.
        logging.getLogger("clickhouse_driver.connection").setLevel(logging.CRITICAL)
        self._connect = lambda: Client(
            host=host,
            port=port,
            user=user,
            password=password,
            connect_timeout=5,
            send_receive_timeout=120,
            settings={"use_numpy": False, **(settings or {})},
        )
        self._local = threading.local()
        self._clients: list[Client] = []

    @property
    def _client(self) -> Client:
        """This thread's connection: a native-protocol connection runs one query at a time, and
        the worker stores from one thread while it refreshes the aggregates from another."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._connect()
            self._clients.append(client)
        return client

    def execute(self, sql: str) -> None:
        self._run(sql)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._run(sql)]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Insert rows; raises RejectedRowsError when a row's values cannot be stored."""
        if not rows:
            return
        width = len(columns)
        columnar = set(map(len, rows)) == {width}
        # Column lists spare the driver its own row-to-column transposition (a Python loop);
        # rows of the wrong width go as rows, for the driver to refuse.
        data = [list(map(itemgetter(i), rows)) for i in range(width)] if columnar else list(rows)
        try:
            self._run(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", data, columnar)
        except SinkError as exc:
            if getattr(exc.__cause__, "code", None) in DATA_ERROR_CODES:
                raise RejectedRowsError(str(exc)) from exc.__cause__
            raise
        # The driver encodes values itself and raises plain errors for ones it cannot encode.
        except (TypeError, ValueError, AttributeError, OverflowError, struct.error) as exc:
            self._client.disconnect()
            raise RejectedRowsError(
                f"ClickHouse at {self.address}: a value cannot be encoded: {exc!r}"
            ) from exc

    def server_version(self) -> str:
        return str(self.query("SELECT version()")[0][0])

    def close(self) -> None:
        for client in self._clients:
            client.disconnect()

    def _run(self, sql: str, data: list[Any] | None = None, columnar: bool = False) -> Any:
        try:
            if data is None:
                return self._client.execute(sql)
            return self._client.execute(sql, data, columnar=columnar)
        except _RETRYABLE as exc:
            self._client.disconnect()
            raise RetryableSinkError(f"ClickHouse at {self.address} unreachable: {exc}") from exc
        except driver_errors.Error as exc:
            self._client.disconnect()
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise SinkError(f"ClickHouse at {self.address}: {first_line}") from exc
