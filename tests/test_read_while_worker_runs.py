"""Reading the embedded store while a worker holds it: a second process reads through the worker.

The worker (a real `chiso766 worker` process) holds the chdb directory; `chiso766 rates` in
another process must still answer, with the numbers of the independent recomputation. Writes
through the worker are refused, and so are requests without the token or that do not read.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipeline.errors import SinkError
from pipeline.settings import Settings
from sinks.loopback import READS_FILE, TOKEN_HEADER, find_reads, is_read
from tests import stream_harness as harness

pytestmark = pytest.mark.integration


def _post(url: str, sql: str, token: str) -> int:
    request = urllib.request.Request(
        f"{url}/query", data=sql.encode(), headers={TOKEN_HEADER: token}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_rates_in_a_second_process_read_through_the_running_worker(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = kafka_settings.replace(
        store="embedded", chdb_path=str(tmp_path / "chdb"), partitions=2
    )
    lines = harness.emitted_records(seed=5, days=1, profile="small")
    expected = harness.clean_expected(lines)
    worker = harness.start_worker(settings, tmp_path / "worker.log")
    try:
        harness.produce(settings, lines, keying="dossier")
        harness.wait_until_consumed(settings, [worker])
        assert harness.hourly_from_cli(settings) == expected  # while the worker holds the store

        served = find_reads(settings.chdb_dir)
        assert served is not None and served.pid == worker.pid
        with pytest.raises(SinkError, match="serves reads only"):
            served.insert(f"{settings.database}.units", ("code",), [("x",)])
        assert _post(served.url, "SELECT 1", served.token) == 200
        assert _post(served.url, "SELECT 1", "wrong") == 403
        assert _post(served.url, f"DROP DATABASE {settings.database}", served.token) == 403
        assert _post(served.url, "SELECT 1; SELECT 2", served.token) == 403
        report = json.loads((settings.chdb_dir / READS_FILE).read_text())
        assert report["pid"] == worker.pid and report["url"].startswith("http://127.0.0.1:")
    finally:
        harness.stop(worker)
    assert not (settings.chdb_dir / READS_FILE).exists(), "a stopped worker leaves no address"
    assert harness.hourly_from_cli(settings) == expected  # and directly once it let go


def test_only_single_read_statements_are_served() -> None:
    assert is_read("SELECT 1") and is_read("  with x AS (SELECT 1) SELECT * FROM x;")
    assert is_read("SHOW TABLES FROM db") and is_read("DESCRIBE TABLE db.t")
    for sql in ("INSERT INTO t VALUES (1)", "DROP TABLE t", "SELECT 1; DROP TABLE t", "", "  "):
        assert not is_read(sql), sql
