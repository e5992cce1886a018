"""`chiso766 dashboards push` against a real HTTP server on 127.0.0.1 that behaves like Grafana's
folder and dashboard API (the endpoints push uses), with a token, state and versions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from dashboards.build import BuildContext, all_dashboards
from dashboards.render import render_dashboard
from pipeline.cli.main import cli
from pipeline.reference import load_reference
from tests.stream_harness import REPO

TOKEN = "glsa_test-token"


@dataclass
class FakeGrafana:
    """Folders and dashboards by uid; every request is recorded as (method, path)."""

    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    state = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            state.requests.append((self.command, self.path))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"message": "Unauthorized"})
                return False
            return True

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if not self._authorised():
                return
            uid = self.path.removeprefix("/api/folders/")
            if self.path.startswith("/api/folders/") and uid in state.folders:
                self._reply(200, state.folders[uid])
            else:
                self._reply(404, {"message": "folder not found"})

        def do_POST(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/api/folders":
                if body["uid"] in state.folders:
                    self._reply(409, {"message": "folder exists"})
                    return
                state.folders[body["uid"]] = {
                    "uid": body["uid"],
                    "title": body["title"],
                    "id": len(state.folders) + 1,
                }
                self._reply(200, state.folders[body["uid"]])
            elif self.path == "/api/dashboards/db":
                dashboard = body["dashboard"]
                if body.get("folderUid") not in state.folders:
                    self._reply(400, {"message": "folder not found"})
                    return
                old = state.dashboards.get(dashboard["uid"])
                if old and not body.get("overwrite"):
                    self._reply(412, {"message": "version-mismatch"})
                    return
                version = (old["version"] + 1) if old else 1
                state.dashboards[dashboard["uid"]] = {**body, "version": version}
                self._reply(200, {"status": "success", "uid": dashboard["uid"], "version": version,
                                  "url": f"/d/{dashboard['uid']}/x"})  # fmt: skip
            else:
                self._reply(404, {"message": "not found"})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def push(url: str, token: str | None = TOKEN) -> Any:
    env = {"CHISO766_GRAFANA_TOKEN": token} if token is not None else {}
    return CliRunner(env=env).invoke(cli, ["dashboards", "push", "--grafana-url", url])


def test_push_creates_the_folder_once_and_saves_every_dashboard_by_uid(
    grafana: FakeGrafana,
) -> None:
    first = push(grafana.url)
    assert first.exit_code == 0, first.output
    assert 'created folder "Chỉ số 766"' in first.output
    expected = {
        d.uid: render_dashboard(d)
        for d in all_dashboards(BuildContext("chiso766", load_reference()))
    }
    assert grafana.folders == {"chiso766": {"uid": "chiso766", "title": "Chỉ số 766", "id": 1}}
    assert set(grafana.dashboards) == set(expected)
    for uid, saved in grafana.dashboards.items():
        assert saved["folderUid"] == "chiso766" and saved["overwrite"] is True
        assert saved["dashboard"] == {**expected[uid], "id": None}
        assert saved["version"] == 1

    second = push(grafana.url)
    assert second.exit_code == 0, second.output
    assert "created folder" not in second.output
    assert len(grafana.folders) == 1 and set(grafana.dashboards) == set(expected)
    assert {saved["version"] for saved in grafana.dashboards.values()} == {2}
    posts = [path for method, path in grafana.requests if method == "POST"]
    assert posts.count("/api/folders") == 1 and posts.count("/api/dashboards/db") == 2 * len(
        expected
    )


def _push_process(url: str, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CHISO766_GRAFANA_TOKEN"}
    if token is not None:
        env["CHISO766_GRAFANA_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "pipeline", "dashboards", "push", "--grafana-url", url],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_bad_token_missing_token_and_no_grafana_are_one_line_errors(grafana: FakeGrafana) -> None:
    refused = _push_process(grafana.url, "wrong")
    assert refused.returncode != 0 and "Unauthorized" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not grafana.dashboards
    missing = _push_process(grafana.url, None)
    assert missing.returncode != 0 and "CHISO766_GRAFANA_TOKEN" in missing.stderr
    assert "Traceback" not in missing.stderr
    closed = _push_process("http://127.0.0.1:9", TOKEN)
    assert closed.returncode != 0 and "Traceback" not in closed.stderr
    assert len(closed.stderr.strip().splitlines()) == 1, closed.stderr
