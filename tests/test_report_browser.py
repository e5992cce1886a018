"""The leaders' report in Debian's headless Chromium: figures, charts, no errors, no network.

Five generated days of the demo province go through the worker's core into an embedded store
(``tests/report_data.py``, in a process of its own). ``chiso766 report`` writes the page; the
test serves it on loopback, lets Chromium render it, and checks the rendered DOM:

- every figure equals ``chiso766 rates --json`` for the same period (a second program) and
  the independent oracle (``tests/oracle.py``) over the same lines, rolled up here by hand;
- every trend chart draws one point per day that has dossiers (the oracle's count);
- Chromium logged no console message and fetched nothing but the page.

The live page (``--serve``) is checked on the ClickHouse server store, where the test can add
rows while the server runs: its version changes, and an open page swaps in the new figures.
Screenshots (desktop and phone width) go to ``out/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.cli.demo import day_messages
from pipeline.reference import load_reference
from pipeline.settings import Settings
from pipeline.validation import meaning_problem
from sinks import schema
from sinks.store import open_store
from tests import chromium
from tests.namespaces import new_namespace
from tests.oracle import recompute
from tests.report_data import generated_lines, load_lines
from tests.stream_harness import REPO, settings_flags

pytestmark = pytest.mark.integration

REFERENCE = load_reference()
START, DAYS = date(2024, 6, 3), 5
PERIOD, AS_OF = "2024-06", "2024-06-30T23:59:59+07:00"
DEMO_DAY = date(2024, 6, 3)
OUT = REPO / "out"
INDICATORS = ("online_filing", "online_payment", "e_result", "digitization", "data_reuse",
              "portal_sync")  # fmt: skip
Key = tuple[str, str]
"""(unit_code, indicator)"""


# --- independent expectations ------------------------------------------------------------------


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return generated_lines(REFERENCE, START, DAYS)


def _oracle_hourly(lines: Sequence[bytes]) -> dict[tuple[str, str, str], tuple[int, int]]:
    return recompute(
        lines,
        units=REFERENCE.unit_codes,
        result_is_document=REFERENCE.result_is_document,
        semantic_check=lambda event: meaning_problem(event, REFERENCE),
    ).hourly


def _oracle_period(lines: Sequence[bytes], prefix: str) -> dict[Key, tuple[int, int]]:
    """(unit, indicator) -> counts summed over the hours starting with ``prefix`` (a month or
    a day), each unit including all below it."""
    out: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for (unit, indicator, bucket), (numerator, denominator) in _oracle_hourly(lines).items():
        if not bucket.startswith(prefix):
            continue
        code: str | None = unit
        while code is not None:
            out[code, indicator][0] += numerator
            out[code, indicator][1] += denominator
            code = REFERENCE.unit(code).parent
    return {key: (n, d) for key, (n, d) in out.items()}


def _oracle_days(lines: list[bytes], month: str) -> dict[str, int]:
    """indicator -> number of days in the month on which the province has a denominator."""
    days: dict[str, set[str]] = defaultdict(set)
    for (_, indicator, bucket), (_, denominator) in _oracle_hourly(lines).items():
        if bucket.startswith(month) and denominator:
            days[indicator].add(bucket[:10])
    return {indicator: len(found) for indicator, found in days.items()}


def _rates_cli(settings: Settings, *args: str, mtd: bool = True) -> dict[Key, tuple[int, int]]:
    """What `chiso766 rates --json` prints per unit (by default month to date at the end of
    the month, i.e. the whole month)."""
    window = ["--window", "mtd", "--as-of", AS_OF] if mtd else []
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "rates", *settings_flags(settings), "--json",
         *window, *args],
        cwd=REPO, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    return {
        (unit["unit_code"], indicator): (c["numerator"], c["denominator"])
        for unit in json.loads(out.stdout)["units"]
        for indicator, c in unit["indicators"].items()
    }


def _all_rates(settings: Settings) -> dict[Key, tuple[int, int]]:
    found = _rates_cli(settings)
    for level in ("department", "district", "commune"):
        found.update(_rates_cli(settings, "--level", level))
    return found


def _pct_text(numerator: int, denominator: int) -> str:
    return "–" if not denominator else f"{100 * numerator / denominator:.1f}%".replace(".", ",")


# --- a loopback file server that records what was asked for ------------------------------------


class _Recorder:
    def __init__(self, routes: dict[str, bytes] | None = None, upstream: str | None = None) -> None:
        self.paths: list[str] = []
        self.routes = dict(routes or {})
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                recorder.paths.append(self.path)
                body = recorder.routes.pop(self.path, None)
                if body is None and upstream is not None:
                    with urllib.request.urlopen(upstream + self.path.lstrip("/"), timeout=30) as r:
                        body = r.read()
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                kind = "application/json" if self.path.endswith(".json") else "text/html"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- the static file ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(lines: list[bytes], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The lines stored in a fresh embedded store by a separate process (which then exits)."""
    folder = tmp_path_factory.mktemp("report")
    settings = Settings.resolve({"namespace": new_namespace(), "store": "embedded",
                                 "chdb_path": str(folder / "chdb")})  # fmt: skip
    events = folder / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    subprocess.run([sys.executable, "-m", "tests.report_data", str(events), *settings_flags(settings)],
                   cwd=REPO, check=True, timeout=300)  # fmt: skip
    return settings


@pytest.fixture(scope="module")
def page(loaded: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("page") / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "report", *settings_flags(loaded), "--period", PERIOD,
         "--out", str(path)],
        cwd=REPO, capture_output=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    OUT.mkdir(exist_ok=True)
    shutil.copy(path, OUT / "report.html")
    return path


@pytest.fixture(scope="module")
def rendered(page: Path) -> Iterator[tuple[chromium.Run, list[str]]]:
    server = _Recorder({"/report.html": page.read_bytes()})
    try:
        yield chromium.dump_dom(server.url + "report.html"), server.paths
    finally:
        server.close()


def test_figures_equal_rates_cli_and_the_oracle(
    loaded: Settings, lines: list[bytes], rendered: tuple[chromium.Run, list[str]]
) -> None:
    run, _ = rendered
    cli = _all_rates(loaded)
    oracle = _oracle_period(lines, PERIOD)
    figures = chromium.Elements(run.stdout).having("data-numerator")
    seen: set[Key] = set()
    for figure in figures:
        key = (figure.attrs["data-unit"], figure.attrs["data-indicator"])
        shown = (int(figure.attrs["data-numerator"]), int(figure.attrs["data-denominator"]))
        assert shown == cli[key], key
        assert shown == oracle.get(key, (0, 0)), key
        assert figure.text.strip() == _pct_text(*shown), key
        seen.add(key)
    root = REFERENCE.root.code
    assert {(root, i) for i in INDICATORS} <= seen, "every headline figure of the province"
    below = {(u.code, i) for u in REFERENCE.units if u.code != root for i in INDICATORS}
    assert below <= seen, "every unit of every level is ranked with all six rates"
    assert oracle[root, "online_filing"][1] > 1000, "the page shows a real volume of dossiers"
    print(f"checked {len(figures)} figures; province: "
          + ", ".join(f"{i} {oracle[root, i][0]}/{oracle[root, i][1]}" for i in INDICATORS))  # fmt: skip


def test_one_district_over_one_day(loaded: Settings, tmp_path: Path) -> None:
    """--unit and --from/--to: the district's figures and its communes' equal `rates` over the
    same 24 hours, and the trends are hourly."""
    path = tmp_path / "district.html"
    subprocess.run(
        [sys.executable, "-m", "pipeline", "report", *settings_flags(loaded), "--unit", "H70.21",
         "--from", "2024-06-05", "--to", "2024-06-06", "--out", str(path)],
        cwd=REPO, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    server = _Recorder({"/district.html": path.read_bytes()})
    try:
        run = chromium.dump_dom(server.url + "district.html")
    finally:
        server.close()
    assert run.console_messages == []
    window = ["--window", "24h", "--as-of", "2024-06-05T23:59:00+07:00"]
    expected = _rates_cli(loaded, "--unit", "H70.21", *window, mtd=False)
    expected.update(_rates_cli(loaded, "--level", "commune", *window, mtd=False))
    figures = chromium.Elements(run.stdout).having("data-numerator")
    units = {f.attrs["data-unit"] for f in figures}
    assert units == {"H70.21", *REFERENCE.descendants("H70.21")}
    for figure in figures:
        key = (figure.attrs["data-unit"], figure.attrs["data-indicator"])
        shown = (int(figure.attrs["data-numerator"]), int(figure.attrs["data-denominator"]))
        assert shown == expected[key], key
    assert expected["H70.21", "online_filing"][1] > 0
    charts = chromium.Elements(run.stdout).with_class("svg", "rate-chart")
    assert len(charts) == 6 and run.stdout.count("giờ / hour") == 6


def test_score_and_points_at_stake_equal_the_score_command(
    loaded: Settings, rendered: tuple[chromium.Run, list[str]]
) -> None:
    def score(*args: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "pipeline", "score", *settings_flags(loaded), "--period",
             PERIOD, "--json", *args],
            cwd=REPO, capture_output=True, check=True, timeout=120,
        )  # fmt: skip
        return dict(json.loads(out.stdout))

    elements = chromium.Elements(rendered[0].stdout)
    (points,) = [e for e in elements.having("data-points") if "score-points" in e.attrs["class"]]
    province = score("--unit", REFERENCE.root.code)["units"][0]
    assert points.attrs["data-points"] == f"{province['available_points']:.2f}"
    assert points.text.strip() == f"{province['available_points']:.2f}".replace(".", ",")
    stakes = [
        (e.attrs["data-unit"], float(e.attrs["data-gain"])) for e in elements.having("data-gain")
    ]
    ranked = [(u["unit_code"], u["gain_points"]) for u in score("--at-stake")["units"]]
    assert stakes and len(stakes) <= 8
    assert [code for code, _ in stakes] == [code for code, _ in ranked[: len(stakes)]]
    for (_, shown), (_, expected) in zip(stakes, ranked, strict=False):
        assert shown == pytest.approx(expected, abs=1e-4)


def test_every_chart_is_drawn(lines: list[bytes], rendered: tuple[chromium.Run, list[str]]) -> None:
    elements = chromium.Elements(rendered[0].stdout)
    charts = elements.with_class("svg", "rate-chart")
    assert sorted(c.attrs["data-indicator"] for c in charts) == sorted(INDICATORS)
    days = _oracle_days(lines, PERIOD)
    for chart in charts:
        assert int(chart.attrs["data-points"]) == days[chart.attrs["data-indicator"]] == DAYS
    vertices = [len(re.findall(r"[ML]", p.attrs["d"])) for p in elements.with_class("path", "line")]
    assert sum(vertices) == DAYS * len(INDICATORS)
    # The score groups: one chart for wide screens and paper, one for phones, 6 groups each.
    groups = elements.with_class("svg", "group-chart")
    assert [g.attrs["data-points"] for g in groups] == ["6", "6"]
    bars = elements.with_class("rect", "bar-points")
    assert len(bars) == 12 and len({b.attrs["data-group"] for b in bars}) == 6
    assert any(float(b.attrs["width"]) > 0 for b in bars)


def test_no_console_message_and_no_network(
    page: Path, rendered: tuple[chromium.Run, list[str]]
) -> None:
    run, requested = rendered
    assert run.console_messages == []
    assert requested == ["/report.html"]
    html = page.read_text(encoding="utf-8")
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+[^\s\"'<>)]*", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert not re.search(r"""(?:src|href)=["'](?!data:|#)""", html)
    assert "<script" not in html, "the static page needs no script"


def test_a_page_with_an_error_is_caught(tmp_path: Path) -> None:
    """The console check can fail: a script error and a fetch elsewhere both show up."""
    bad = b'<html><body><img src="http://example.invalid/x.png"><script>nosuch()</script></body></html>'
    server = _Recorder({"/bad.html": bad})
    try:
        messages = chromium.dump_dom(server.url + "bad.html").console_messages
    finally:
        server.close()
    assert any("nosuch is not defined" in m for m in messages), messages


def test_screenshots(page: Path) -> None:
    server = _Recorder({"/d.html": page.read_bytes(), "/p.html": page.read_bytes()})
    try:
        chromium.screenshot(server.url + "d.html", OUT / "report-desktop.png", 1280, 4400)
        chromium.screenshot(server.url + "p.html", OUT / "report-phone.png", 390, 2600, scale=2)
    finally:
        server.close()
    for name in ("report-desktop.png", "report-phone.png"):
        assert (OUT / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the live page -----------------------------------------------------------------------------


def _split_by_day(lines: list[bytes], first_later: str) -> tuple[list[bytes], list[bytes]]:
    early, late = [], []
    for raw in lines:
        match = re.search(rb'"occurred_at":\s*"(\d{4}-\d{2}-\d{2})', raw)
        (late if match and match.group(1).decode() >= first_later else early).append(raw)
    return early, late


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return bytes(response.read())


def test_the_live_page_follows_new_rows(lines: list[bytes], local_stack: Settings) -> None:
    settings = local_stack.replace(namespace=new_namespace(), store="server")
    early, late = _split_by_day(lines, "2024-06-06")
    assert early and late
    load_lines(settings, REFERENCE, early)
    serve = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "report", *settings_flags(settings), "--serve",
         "--port", "0", "--period", PERIOD],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        url = serve.stdout.readline().decode().split(" on ", 1)[1].split()[0]
        first_version = json.loads(_get(url + "version.json"))["version"]
        stale = _get(url)
        assert f'data-version="{first_version}"'.encode() in stale
        fresh = chromium.dump_dom(url)
        assert fresh.console_messages == []
        _assert_figures(fresh.stdout, _rates_cli(settings))

        load_lines(settings, REFERENCE, late)
        second_version = json.loads(_get(url + "version.json"))["version"]
        assert second_version != first_version
        # The page as it was before the new rows, opened in the browser: its script polls,
        # sees the new version and swaps in the new figures, without a reload.
        proxy = _Recorder({"/": stale}, upstream=url)
        try:
            swapped = chromium.dump_dom(proxy.url, "--virtual-time-budget=15000")
        finally:
            proxy.close()
        assert swapped.console_messages == []
        assert "/version.json" in proxy.paths and proxy.paths.count("/") == 2
        assert f'data-version="{second_version}"' in swapped.stdout
        after = _rates_cli(settings)
        root = REFERENCE.root.code
        assert after[root, "online_filing"][1] > _assert_figures(stale.decode(), {})
        _assert_figures(swapped.stdout, after)
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        store = open_store(settings)
        schema.drop(store, settings.database)
        store.close()


def test_demo_serve_shows_the_streamed_day(kafka_settings: Settings, tmp_path: Path) -> None:
    """`chiso766 demo --serve`: the worker and the report share one process and one embedded
    store; once the day is streamed, the page shows the oracle's numbers for that day."""
    settings = kafka_settings.replace(store="embedded", chdb_path=str(tmp_path / "chdb"))
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "demo", *settings_flags(settings), "--serve",
         "--port", "0", "--rate", "0"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        url, output = None, []
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            line = demo.stdout.readline().decode(errors="replace")
            assert line, "the demo ended early:\n" + "".join(output[-30:])
            output.append(line)
            if found := re.search(r"report: (http://127\.0\.0\.1:\d+/)", line):
                url = found.group(1)
                assert chromium.dump_dom(url).console_messages == []  # while it streams
            if "Still serving" in line:
                break
        assert url is not None, "".join(output[-30:])
        page = chromium.dump_dom(url)
        assert page.console_messages == []
        now_ms = int(time.time() * 1000)
        lines = [
            value for _, _, value, _ in day_messages(settings, REFERENCE, DEMO_DAY, 766, now_ms)
        ]
        oracle = _oracle_period(lines, DEMO_DAY.isoformat())
        root = REFERENCE.root.code
        shown = _shown(page.stdout)
        for indicator in INDICATORS:
            assert shown[root, indicator] == oracle[root, indicator], indicator
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)


def _shown(html: str) -> dict[Key, tuple[int, int]]:
    return {
        (f.attrs["data-unit"], f.attrs["data-indicator"]): (
            int(f.attrs["data-numerator"]),
            int(f.attrs["data-denominator"]),
        )
        for f in chromium.Elements(html).having("data-numerator")
    }


def _assert_figures(html: str, expected: dict[Key, tuple[int, int]]) -> int:
    """Check the province's headline figures against ``expected`` (when given); return the
    province's online filing denominator as shown."""
    root = REFERENCE.root.code
    shown = _shown(html)
    for indicator in INDICATORS if expected else ():
        assert shown[root, indicator] == expected[root, indicator], indicator
    return shown[root, "online_filing"][1]
