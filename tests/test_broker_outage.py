"""A worker on a fresh broker starts without an ERROR line, and a broker outage costs a few log
lines (one when it goes, one when it is back), not a flood; numbers are exact after.

The test starts its own Kafka on spare ports with its own state directory, and stops and
restarts that one; the shared broker is never touched.
"""

from __future__ import annotations

import random
import re
import subprocess
import time
from pathlib import Path

import pytest

from pipeline.settings import Settings
from pipeline.stack.kafka import LocalKafka
from tests import stream_harness as harness
from tests.namespaces import new_namespace

pytestmark = pytest.mark.integration

OUTAGE_S = 40.0
ESCAPE = re.compile(r"\x1b\[")


def _lines() -> list[tuple[bytes, int]]:
    """Two tiny days, shuffled."""
    lines = harness.emitted_records(seed=913, days=2, profile="tiny")
    random.Random(4).shuffle(lines)
    return lines


def _wait_for(log: Path, needle: str, worker: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while needle not in log.read_text(errors="replace"):
        assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)


def test_fresh_broker_start_is_clean_and_an_outage_is_a_few_lines(
    local_stack: Settings, tmp_path: Path
) -> None:
    settings = local_stack.replace(
        namespace=new_namespace("bo"),
        store="server",
        state_dir=str(tmp_path / "own-kafka"),
        kafka_port=harness.spare_port(),
        kafka_controller_port=harness.spare_port(),
        partitions=4,
    )
    kafka = LocalKafka(settings)
    kafka.up()
    lines = _lines()
    half = len(lines) // 2
    log = tmp_path / "worker.log"
    worker = harness.start_worker(settings, log)
    try:
        harness.produce(settings, lines[:half])
        harness.wait_until_consumed(settings, [worker])
        started = log.read_text(errors="replace")
        assert "ERROR" not in started and "Traceback" not in started, started
        assert not ESCAPE.search(started), "no terminal codes in a log file"

        kafka.down()
        went_down = time.monotonic()
        _wait_for(log, "down since", worker, timeout_s=30)
        while time.monotonic() - went_down < OUTAGE_S:
            assert worker.poll() is None, log.read_text()
            time.sleep(2)
        during = log.read_text(errors="replace").splitlines()
        kafka.up()
        _wait_for(log, "back after", worker, timeout_s=60)
        harness.produce(settings, lines[half:])
        harness.wait_until_consumed(settings, [worker], timeout_s=240)
    finally:
        harness.stop(worker)
        kafka.down()
    text = log.read_text(errors="replace")
    new_lines = text.splitlines()[len(started.splitlines()) :]
    print(f"{len(during) - len(started.splitlines())} log lines during a {OUTAGE_S:.0f} s outage, "
          f"{len(new_lines)} in all until the end")  # fmt: skip
    assert "Traceback" not in text, text
    assert len(new_lines) <= 30, "\n".join(new_lines)
    assert sum("down since" in line for line in new_lines) == 1, text
    assert sum("back after" in line for line in new_lines) == 1, text
    assert not ESCAPE.search(text)
    assert harness.hourly_from_cli(settings) == harness.clean_expected(lines)
