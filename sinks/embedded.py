"""Embedded ClickHouse through chdb (current engine, in-process) with its data directory on disk."""

from __future__ import annotations

import atexit
import fcntl
import re
import threading
from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from pipeline.allocator import return_freed_python_memory
from pipeline.directories import ensure_directory
from pipeline.errors import RejectedRowsError, SinkError
from sinks.embedded_engine import connection_string
from sinks.store import DATA_ERROR_CODES, Row, Store

# chdb keeps one engine per process: share one connection per data directory, serialise calls.
_connections: dict[Path, Any] = {}
_lock = threading.Lock()


def _connect(path: Path) -> Any:
    import chdb

    with _lock:
        if path not in _connections:
            target = connection_string(path)
            ensure_directory(path, "--chdb-path")
            if _locked_by_another_process(path):  # ask first: chdb prints its own error to fd 2
                raise _in_use(path)
            try:
                _connections[path] = chdb.connect(target)
                if len(_connections) == 1:
                    return_freed_python_memory()
                    # Shut the engine down while the interpreter is whole: left to __del__
                    # during interpreter teardown, chdb can crash the process on exit.
                    atexit.register(_close_all)
            except Exception as exc:  # chdb raises plain RuntimeError for a locked or bad path
                if _locked_by_another_process(path):
                    raise _in_use(path) from exc
                raise SinkError(
                    f"embedded ClickHouse at {path}: {str(exc).splitlines()[0]}"
                ) from exc
        return _connections[path]


def _in_use(path: Path) -> SinkError:
    return SinkError(
        f"embedded ClickHouse at {path} is in use by another process (a running "
        "worker or demo?): read through that process, stop it, or use --store server"
    )


def _close_all() -> None:
    with _lock:
        for connection in _connections.values():
            connection.close()
        _connections.clear()


def _locked_by_another_process(path: Path) -> bool:
    """chdb locks ``{path}/status`` while a process has the directory open."""
    try:
        with open(path / "status", "a") as status:
            fcntl.flock(status, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(status, fcntl.LOCK_UN)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def open_embedded(path: Path) -> Store:
    """This process's engine on ``path``, or, when another process holds ``path`` and serves
    its reads (``sinks/loopback.py``), a read-only store that queries through that process."""
    path = Path(path).resolve()
    if path not in _connections and _locked_by_another_process(path):
        from sinks.loopback import find_reads

        served = find_reads(path)
        if served is not None:
            return served
    return EmbeddedStore(path)


class EmbeddedStore:
    backend = "embedded"

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()
        self._conn = _connect(self.path)
        self._types: dict[str, dict[str, str]] = {}
        """Column name -> type of each table inserted into (the schema only grows columns)."""

    def execute(self, sql: str) -> None:
        self._query(sql, "CSV")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        text = self._query(sql, "JSONCompactEachRow")
        return [tuple(orjson.loads(line)) for line in text.splitlines() if line]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Insert rows; raises RejectedRowsError when a row's values cannot be stored.

        Rows whose values all fit their columns go in column by column (chdb reads the Python
        lists directly: a few times cheaper than JSON text); anything else, and any batch the
        columnar path fails on, takes the JSON path, which says which values are refused.
        """
        if not rows:
            return
        values = self._columns_if_fitting(table, columns, rows)
        if values is not None:
            try:
                self._insert_columns(table, values)
                return
            except SinkError:
                pass  # the JSON path below stores the rows or tells what is wrong with them
        try:
            body = b"\n".join(orjson.dumps(list(row)) for row in rows).decode()
        except (TypeError, ValueError) as exc:  # an integer beyond 64 bits, a lone surrogate...
            raise RejectedRowsError(f"embedded ClickHouse at {self.path}: {exc}") from exc
        try:
            self._query(
                f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONCompactEachRow\n{body}",
                "CSV",
            )
        except SinkError as exc:
            if _code_of(str(exc)) in DATA_ERROR_CODES:
                raise RejectedRowsError(str(exc)) from exc.__cause__
            raise

    def _columns_if_fitting(
        self, table: str, columns: Sequence[str], rows: Sequence[Row]
    ) -> dict[str, list[Any]] | None:
        """The rows as column lists when every value is a str for a String column or an int
        within an unsigned column's range (casting would wrap a negative silently; a DateTime
        is a UInt32 of epoch seconds); else None."""
        try:
            types = self._column_types(table)
            width = len(columns)
            if set(map(len, rows)) != {width}:
                return None
            # One column at a time: several times cheaper than ``zip(*rows)`` on long batches.
            values = {name: list(map(itemgetter(i), rows)) for i, name in enumerate(columns)}
        except SinkError:
            return None
        for name, column in values.items():
            kind = types.get(name)
            if kind is not None and (kind == "DateTime" or kind.startswith("DateTime(")):
                kind = "UInt32"  # epoch seconds: the engine converts them, as in the JSON path
            if kind == "String":
                if set(map(type, column)) != {str}:
                    return None
            elif kind in _UNSIGNED_BITS:
                if set(map(type, column)) != {int} or min(column) < 0:
                    return None
                if max(column) >= 1 << _UNSIGNED_BITS[kind]:
                    return None
            else:
                return None
        return values

    def _column_types(self, table: str) -> dict[str, str]:
        types = self._types.get(table)
        if types is None:
            database, _, name = table.rpartition(".")
            rows = self.query(
                "SELECT name, type FROM system.columns "
                f"WHERE database = '{database}' AND table = '{name}'"
            )
            if not rows:
                raise SinkError(f"embedded ClickHouse at {self.path}: no table {table}")
            types = self._types[table] = {str(n): str(t) for n, t in rows}
        return types

    def _insert_columns(self, table: str, values: dict[str, list[Any]]) -> None:
        names = ", ".join(values)
        # chdb's Python() table function finds the variable by its name in the calling frame.
        chiso766_columns = values  # noqa: F841
        sql = (
            f"INSERT INTO {table} ({names}) SELECT {names} FROM Python(chiso766_columns) "
            "SETTINGS max_threads = 1"
        )
        with _lock:
            try:
                self._conn.query(sql, "CSV")
            except Exception as exc:
                raise SinkError(f"embedded ClickHouse at {self.path}: {exc}") from exc

    def server_version(self) -> str:
        return str(self.query("SELECT version()")[0][0])

    def close(self) -> None:
        """The engine stays open for the process (chdb allows one per process); nothing to do."""

    def _query(self, sql: str, fmt: str) -> str:
        with _lock:
            try:
                result = self._conn.query(sql, fmt)
            except Exception as exc:  # chdb reports SQL errors as RuntimeError
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise SinkError(f"embedded ClickHouse at {self.path}: {first_line}") from exc
        return result.bytes().decode() if hasattr(result, "bytes") else str(result)


_UNSIGNED_BITS = {"UInt8": 8, "UInt16": 16, "UInt32": 32, "UInt64": 64}


def _code_of(message: str) -> int | None:
    """The ClickHouse error code in an engine message (``Code: 72. DB::Exception: ...``)."""
    found = re.search(r"\bCode: (\d+)\.", message)
    return int(found.group(1)) if found else None
