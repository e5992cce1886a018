"""The oracle: the stream's ClickHouse output equals an independent batch recomputation, exactly.

Generated events with duplicates, re-sent ids, disorder, late payments and bad lines go through
the real broker and the real worker process; the result is read back through the CLI and
compared with ``tests/oracle.py`` over the same lines. Also with the worker SIGKILLed
mid-stream and restarted, with two workers sharing the partitions, and with unkeyed messages.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from pipeline.generator.noise import Noise
from pipeline.generator.profile import profile_named
from pipeline.generator.stream import generate_batches
from pipeline.reference import load_reference
from pipeline.settings import Settings
from pipeline.validation import problem_of
from tests import stream_harness as harness
from tests.oracle import OracleResult, recompute

pytestmark = pytest.mark.integration

REFERENCE = load_reference()


@pytest.fixture(scope="module")
def noisy_lines() -> list[bytes]:
    """Five days of a small province, with every kind of mess, shuffled further."""
    noise = Noise(duplicates=0.08, disorder=0.15, bad_fraction=0.03)
    batches = generate_batches(REFERENCE, seed=766, start=date(2024, 6, 3), days=5,
                               profile=profile_named("small"), noise=noise)  # fmt: skip
    lines = [line.encode() for batch in batches for line in batch.lines]
    random.Random(1).shuffle(lines)
    return lines


def _oracle(lines: list[bytes]) -> OracleResult:
    now_ms = int(time.time() * 1000)
    return recompute(
        lines,
        units=REFERENCE.unit_codes,
        result_is_document=REFERENCE.result_is_document,
        now_ms=now_ms,
        semantic_check=lambda event, now: problem_of(event, REFERENCE, now),
    )


def _expected(lines: list[bytes]) -> list[dict[str, object]]:
    result = _oracle(lines)
    assert result.rejected, "the generated set must contain bad lines"
    return result.rows()


def _worker_settings(settings: Settings, store: str, tmp_path: Path) -> Settings:
    # The worker runs in its own process: give it its own chdb directory (one per process).
    return settings.replace(store=store, chdb_path=str(tmp_path / "worker-chdb"), partitions=4)


@pytest.mark.parametrize("store", ["server", "embedded"])
def test_stream_equals_batch_recomputation(
    kafka_settings: Settings, noisy_lines: list[bytes], store: str, tmp_path: Path
) -> None:
    settings = _worker_settings(kafka_settings, store, tmp_path)
    worker = harness.start_worker(settings, tmp_path / "worker.log")
    try:
        harness.produce(settings, noisy_lines, keying="dossier")
        harness.wait_until_consumed(settings, [worker])
    finally:
        harness.stop(worker)  # the embedded store is readable once the worker has let go of it
    assert harness.hourly_from_cli(settings) == _expected(noisy_lines)
    # Every bad line is on the dead-letter topic, byte for byte, with its reason in the headers.
    letters = harness.dead_letters(settings)
    assert Counter(kind for _, kind, _ in letters) == _oracle(noisy_lines).rejected
    bad_lines = Counter(noisy_lines)
    assert all(bad_lines[raw] > 0 and reason for raw, _, reason in letters)


def test_a_worker_killed_mid_stream_and_restarted_loses_and_doubles_nothing(
    kafka_settings: Settings, noisy_lines: list[bytes], tmp_path: Path
) -> None:
    """Kill -9 right after a batch's rows are stored and before its offsets are committed."""
    settings = _worker_settings(kafka_settings, "server", tmp_path)
    half = len(noisy_lines) // 2
    harness.produce(settings, noisy_lines[:half], keying="none")  # unkeyed: any partition
    first = harness.start_worker(settings, tmp_path / "worker-1.log")
    try:
        harness.wait_until_consumed(settings, [first])
        committed_before = harness.input_offsets(settings)[1]
        archived_before = harness.archived_events(settings)
        harness.produce(settings, noisy_lines[half:], keying="none")
        harness.wait_for_archive(settings, more_than=archived_before)
    finally:
        harness.stop(first, signal.SIGKILL)
    end, done = harness.input_offsets(settings)
    assert committed_before <= done < end, "the kill must land between storing and committing"
    second = harness.start_worker(settings, tmp_path / "worker-2.log")
    try:
        harness.wait_until_consumed(settings, [second])
    finally:
        harness.stop(second)
    assert harness.hourly_from_cli(settings) == _expected(noisy_lines)


def test_two_workers_give_the_same_numbers_as_one(
    kafka_settings: Settings, noisy_lines: list[bytes], tmp_path: Path
) -> None:
    settings = _worker_settings(kafka_settings, "server", tmp_path)
    workers = [harness.start_worker(settings, tmp_path / f"worker-{i}.log") for i in (1, 2)]
    try:
        harness.produce(settings, noisy_lines, keying="random")
        harness.wait_until_consumed(settings, workers)
    finally:
        for worker in workers:
            harness.stop(worker)
    assert harness.hourly_from_cli(settings) == _expected(noisy_lines)
