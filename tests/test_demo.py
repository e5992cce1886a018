"""`chiso766 demo`, the main job, end to end: it finishes, and its numbers are the oracle's."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from pipeline.cli.demo import day_messages
from pipeline.reference import load_reference
from pipeline.settings import Settings
from pipeline.validation import meaning_problem
from tests import stream_harness as harness
from tests.oracle import recompute

pytestmark = pytest.mark.integration


def test_demo_streams_a_day_and_stores_exactly_the_oracle_numbers(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = kafka_settings.replace(chdb_path=str(tmp_path / "demo-chdb"), store="embedded")
    run = subprocess.run(
        [sys.executable, "-m", "pipeline", "demo", "--rate", "0", "--date", "2024-06-03",
         *harness.settings_flags(settings)],
        cwd=harness.REPO, capture_output=True, timeout=900,
    )  # fmt: skip
    output = run.stdout.decode()
    assert run.returncode == 0, output + run.stderr.decode()
    assert "five weakest units" in output and "dead-lettered" in output
    # Output to a pipe: no terminal codes (Faust's spinner), no ERROR line from a normal start.
    errors = run.stderr.decode()
    assert "\x1b" not in output + errors
    assert "ERROR" not in output + errors and "Traceback" not in errors, errors

    reference = load_reference()
    now_ms = int(time.time() * 1000)
    records = [
        (value, timestamp_ms)
        for _, _, value, timestamp_ms in day_messages(
            settings, reference, date(2024, 6, 3), seed=766, now_ms=now_ms
        )
    ]
    expected = recompute(
        records,
        units=reference.unit_codes,
        result_is_document=reference.result_is_document,
        semantic_check=lambda event: meaning_problem(event, reference),
    )
    assert harness.hourly_from_cli(settings) == expected.rows()
