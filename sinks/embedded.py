"""Embedded ClickHouse through chdb (current engine, in-process) with its data directory on disk."""

from __future__ import annotations

import atexit
import fcntl
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from pipeline.errors import SinkError
from sinks.store import Row, Store

# chdb keeps one engine per process: share one connection per data directory, serialise calls.
_connections: dict[Path, Any] = {}
_lock = threading.Lock()


def _connect(path: Path) -> Any:
    import chdb

    with _lock:
        if path not in _connections:
            path.mkdir(parents=True, exist_ok=True)
            try:
                _connections[path] = chdb.connect(f"file:{path}")
                if len(_connections) == 1:
                    # Shut the engine down while the interpreter is whole: left to __del__
                    # during interpreter teardown, chdb can crash the process on exit.
                    atexit.register(_close_all)
            except Exception as exc:  # chdb raises plain RuntimeError for a locked or bad path
                if _locked_by_another_process(path):
                    raise SinkError(
                        f"embedded ClickHouse at {path} is in use by another process that does "
                        "not serve reads: stop it, or use --store server"
                    ) from exc
                raise SinkError(
                    f"embedded ClickHouse at {path}: {str(exc).splitlines()[0]}"
                ) from exc
        return _connections[path]


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

    def execute(self, sql: str) -> None:
        self._query(sql, "CSV")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        text = self._query(sql, "JSONCompactEachRow")
        return [tuple(orjson.loads(line)) for line in text.splitlines() if line]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        body = b"\n".join(orjson.dumps(list(row)) for row in rows).decode()
        self._query(
            f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONCompactEachRow\n{body}", "CSV"
        )

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
