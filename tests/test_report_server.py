"""The report's loopback server: page, version, unknown paths and failed reads."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from dashboards.report.server import ReportServer, digest_of


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_page_version_and_errors() -> None:
    state = {"version": "v1", "fail": False}

    def snapshot() -> tuple[str, str]:
        if state["fail"]:
            raise RuntimeError("store unreachable")
        return str(state["version"]), f"<html>{state['version']} – Bình Phước</html>"

    server = ReportServer(snapshot, 0)
    server.start()
    try:
        status, kind, body = _get(server.url)
        assert (status, kind) == (200, "text/html; charset=utf-8")
        assert body.decode() == "<html>v1 – Bình Phước</html>"
        assert json.loads(_get(server.url + "version.json")[2]) == {"version": "v1"}
        state["version"] = "v2"
        assert json.loads(_get(server.url + "version.json?t=1")[2]) == {"version": "v2"}
        assert _get(server.url + "elsewhere.js")[0] == 404
        state["fail"] = True
        status, _, body = _get(server.url)
        assert status == 503 and b"store unreachable" in body
    finally:
        server.close()


def test_the_digest_follows_the_data() -> None:
    assert digest_of(1, "a") == digest_of(1, "a") != digest_of(1, "b")


def test_closing_a_server_that_never_ran_returns() -> None:
    ReportServer(lambda: ("v", ""), 0).close()


@pytest.mark.parametrize("path", ["/", "/index.html"])
def test_the_page_paths(path: str) -> None:
    server = ReportServer(lambda: ("v", "page"), 0)
    server.start()
    try:
        assert _get(server.url.rstrip("/") + path)[2] == b"page"
    finally:
        server.close()
