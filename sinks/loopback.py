"""Share an embedded store's reads with other local processes over HTTP on 127.0.0.1.

chdb admits one process per data directory, and a worker holds its directory for as long as it
runs. So the process that holds it (``serve_reads``) also answers read-only queries on a
loopback port, and writes the address and a random token to ``{directory}/READS_FILE`` (mode
0600, removed when it stops). ``find_reads`` is what ``open_store`` uses when another process
holds the directory: a ``LoopbackStore`` that sends each SELECT there and gets the rows back
exactly as the holder's store returned them. Only statements that read (SELECT, WITH, SHOW,
DESCRIBE, EXISTS) are served; anything else is refused with 403.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from pipeline.errors import SinkError
from sinks.store import Row, Store

READS_FILE = "chiso766-reads.json"
TOKEN_HEADER = "X-Chiso766-Token"
READ_STATEMENTS = ("select", "with", "show", "describe", "desc", "exists")
TIMEOUT_S = 120.0


def is_read(sql: str) -> bool:
    """Whether ``sql`` is one statement that only reads (by its first keyword)."""
    words = sql.strip().rstrip(";").split(None, 1)
    return (
        bool(words) and words[0].lower() in READ_STATEMENTS and ";" not in sql.strip().rstrip(";")
    )


class ReadServer:
    """Serves ``store.query`` to local processes until ``close``; see the module docstring."""

    def __init__(self, store: Store, directory: Path) -> None:
        self.token = secrets.token_hex(16)
        self.file = Path(directory) / READS_FILE
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(store, self.token))
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="chiso766-reads", daemon=True
        )
        self._thread.start()
        fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"url": self.url, "token": self.token, "pid": os.getpid()}, out)
        atexit.register(self.close)

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if json.loads(self.file.read_text()).get("token") == self.token:
                self.file.unlink()
        self._http.shutdown()
        self._http.server_close()


def serve_reads(store: Store, directory: Path) -> ReadServer:
    """Start answering read-only queries of ``store`` (the holder of ``directory``) on loopback."""
    return ReadServer(store, directory)


def _handler(store: Store, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            if not secrets.compare_digest(self.headers.get(TOKEN_HEADER, ""), token):
                return self._reply(403, {"error": "bad or missing token"})
            length = int(self.headers.get("Content-Length", "0"))
            sql = self.rfile.read(length).decode("utf-8", "replace")
            if not is_read(sql):
                return self._reply(403, {"error": "only single read statements are served"})
            try:
                rows = store.query(sql)
            except SinkError as error:
                return self._reply(400, {"error": str(error)})
            self._reply(200, {"rows": rows})

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = orjson.dumps(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Quiet: the worker's log is for the worker."""

    return Handler


class LoopbackStore:
    """The read side of the Store contract, answered by the process that holds the directory."""

    backend = "embedded"

    def __init__(self, url: str, token: str, pid: int, path: Path) -> None:
        self.url, self.token, self.pid, self.path = url, token, pid, path

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        request = urllib.request.Request(
            f"{self.url}/query", data=sql.encode(), headers={TOKEN_HEADER: self.token}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                body = orjson.loads(response.read())
        except urllib.error.HTTPError as error:
            reason = orjson.loads(error.read() or b"{}").get("error", error.reason)
            raise SinkError(
                f"embedded ClickHouse at {self.path} (via pid {self.pid}): {reason}"
            ) from error
        except (urllib.error.URLError, OSError) as error:
            raise SinkError(
                f"embedded ClickHouse at {self.path}: the process {self.pid} holding it does not answer "
                f"at {self.url} ({error})"
            ) from error
        return [tuple(row) for row in body["rows"]]

    def execute(self, sql: str) -> None:
        self._read_only()

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        self._read_only()

    def server_version(self) -> str:
        return str(self.query("SELECT version()")[0][0])

    def close(self) -> None:
        """Nothing to release: every query is its own request."""

    def _read_only(self) -> None:
        raise SinkError(
            f"embedded ClickHouse at {self.path} is held by process {self.pid}, which serves reads "
            "only: stop it to write, or use --store server"
        )


def find_reads(directory: Path) -> LoopbackStore | None:
    """The reads served for ``directory`` by a live process, or None when nobody serves them."""
    try:
        served = json.loads((Path(directory) / READS_FILE).read_text())
        pid, url, token = int(served["pid"]), str(served["url"]), str(served["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # left behind by a process that was killed
    except PermissionError:
        pass  # alive, another user's
    return LoopbackStore(url, token, pid, Path(directory))
