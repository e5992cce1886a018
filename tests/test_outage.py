"""A worker rides out ClickHouse outages: it waits at start-up, keeps its consumer group membership
through 90 s without the server, logs one line per state change, and the numbers are exact after.

The test starts its own ClickHouse server on spare ports with its own state directory (through
the project's stack code) and stops and restarts that one; the shared server is never touched.
"""

from __future__ import annotations

import random
import re
import subprocess
import time
from pathlib import Path

import pytest

from pipeline import broker
from pipeline.settings import Settings
from pipeline.stack.clickhouse import LocalClickHouse
from tests import stream_harness as harness

pytestmark = pytest.mark.integration

OUTAGE_S = 90.0


def _clean_records() -> list[tuple[bytes, int]]:
    """Three clean days, shuffled."""
    records = harness.emitted_records(seed=912, days=3, profile="small")
    random.Random(3).shuffle(records)
    return records


def _group_members(settings: Settings) -> set[str]:
    group = broker.describe_group(settings, settings.group("worker"))
    return {member["member_id"] for member in group["members"]}


def _log_lines(log: Path, needle: str) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if needle in line]


def _wait_for_line(log: Path, needle: str, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not _log_lines(log, needle):
        assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)


def test_worker_waits_out_clickhouse_down_at_start_and_for_90_s_midstream(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = kafka_settings.replace(
        store="server",
        state_dir=str(tmp_path / "own-stack"),
        clickhouse_port=harness.spare_port(),
        clickhouse_http_port=harness.spare_port(),
        partitions=4,
    )
    clickhouse = LocalClickHouse(settings)
    records = _clean_records()
    half = len(records) // 2
    log = tmp_path / "worker.log"
    harness.produce(settings, records[:half])
    # Started while its ClickHouse is down: it waits instead of failing.
    worker = harness.start_worker(settings, log)
    try:
        _wait_for_line(log, "down since", worker)
        time.sleep(3)
        assert worker.poll() is None, log.read_text()
        assert len(_log_lines(log, "down since")) == 1, log.read_text()
        clickhouse.up()
        harness.wait_until_consumed(settings, [worker])
        members = _group_members(settings)
        assert len(members) == 1
        committed = harness.input_offsets(settings)[1]

        # 90 s without ClickHouse while the second half arrives.
        assert clickhouse.down()
        stopped_at = time.monotonic()  # the server is gone from here on
        harness.produce(settings, records[half:])
        while time.monotonic() - stopped_at < OUTAGE_S:
            assert worker.poll() is None, log.read_text()
            time.sleep(5)
        end, done = harness.input_offsets(settings)
        assert done == committed < end, "nothing is committed while rows cannot be stored"
        assert _group_members(settings) == members, "the worker stayed in its consumer group"
        clickhouse.up()
        harness.wait_until_consumed(settings, [worker])
        outage_s = time.monotonic() - stopped_at
    finally:
        harness.stop(worker)
        clickhouse.down()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text
    assert len(_log_lines(log, "down since")) == 2, text
    back = _log_lines(log, "back after")
    assert len(back) == 2, text
    print(f"outage of {outage_s:.0f} s; worker said: {back[-1]}")
    said_s = int(re.search(r"back after (\d+) s", back[-1]).group(1))  # type: ignore[union-attr]
    assert said_s >= OUTAGE_S, "the worker waited through the whole outage"
    # Exact numbers: read back from the restarted server.
    clickhouse.up()
    try:
        assert harness.hourly_from_cli(settings) == harness.clean_expected(records)
    finally:
        clickhouse.down()
