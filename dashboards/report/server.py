"""Serve the report on loopback: the page at ``/``, its data version at ``/version.json``.

A thin HTTP adapter over a ``snapshot`` callable that reads the store and returns the page with
its version; the live page polls ``version.json`` and swaps itself when the version changes.
The caller makes the version a digest of the page's data (``digest_of``), so it changes
exactly when what the page shows changes (new rows, late events), whatever the store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

Snapshot = Callable[[], tuple[str, str]]
"""Read the store now; return (version, the page's HTML)."""


class ReportServer:
    """Bind ``127.0.0.1:port`` (0: any free port); ``serve_forever`` or ``start`` a thread."""

    def __init__(self, snapshot: Snapshot, port: int, host: str = "127.0.0.1") -> None:
        self._snapshot = snapshot
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._httpd.daemon_threads = True
        self._serving = False

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def serve_forever(self) -> None:
        self._serving = True
        self._httpd.serve_forever(poll_interval=0.5)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="report-server", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        if self._serving:  # shutdown() waits for serve_forever, forever if it never ran
            self._httpd.shutdown()
        self._httpd.server_close()

    def _page(self) -> bytes:
        with self._lock:  # one store read at a time: chdb serialises them anyway
            return self._snapshot()[1].encode()

    def _version(self) -> bytes:
        with self._lock:
            return json.dumps({"version": self._snapshot()[0]}).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?", 1)[0]
                try:
                    if path in ("/", "/index.html"):
                        self._send(200, "text/html; charset=utf-8", server._page())
                    elif path == "/version.json":
                        self._send(200, "application/json", server._version())
                    else:
                        self._send(404, "text/plain; charset=utf-8", b"not found\n")
                except Exception as error:  # a failed read shows as 503; the server goes on
                    log.warning("report: %s failed: %s", path, error)
                    self._send(503, "text/plain; charset=utf-8", f"{error}\n".encode())

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug("report: " + format, *args)

        return Handler


def digest_of(*parts: object) -> str:
    """A short stable digest of ``repr`` of the parts (the page's data)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
