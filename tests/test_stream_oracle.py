"""The oracle: the stream's ClickHouse output equals an independent batch recomputation, exactly.

Generated events with duplicates, re-sent ids, disorder, late payments and bad lines go through
the real broker and the real worker process; the result is read back through the CLI and
compared with ``tests/oracle.py`` over the same records. Each record carries its Kafka record
timestamp (the generator's emission time, as `generate` stamps it), plus records whose time
makes them too late or far in the future, a year-old history load and tombstones: verdicts
depend only on the record, so the same records in another order, across a SIGKILL and
restart, or split over two workers give the same numbers and the same dead letters.
"""

from __future__ import annotations

import json
import random
import signal
from collections import Counter
from pathlib import Path

import pytest

from pipeline.generator.noise import Noise
from pipeline.reference import load_reference
from pipeline.settings import Settings
from pipeline.validation import meaning_problem
from pipeline.windows import parse_time
from sinks.reader import dead_letter_counts
from sinks.store import open_store
from tests import stream_harness as harness
from tests.oracle import OracleResult, Record, recompute, rejection_of

pytestmark = pytest.mark.integration

REFERENCE = load_reference()
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def noisy_records() -> list[tuple[bytes | None, int | None]]:
    """Five days of a small province, with every kind of mess, shuffled further; each line with
    its emission time as record timestamp, plus records judged by their time alone."""
    noise = Noise(duplicates=0.08, disorder=0.15, bad_fraction=0.03)
    records: list[tuple[bytes | None, int | None]] = list(
        harness.emitted_records(seed=766, days=5, profile="small", noise=noise)
    )
    received = [raw for raw, _ in records if raw and b'"dossier.received"' in raw][:40]
    for number, raw in enumerate(received):
        event = json.loads(raw)
        event["dossier_id"] += "-history"
        event["event_id"] += "-history"
        event["occurred_at"] = "2022-01-03T09:00:00+07:00"
        event["due_at"] = "2022-02-03T09:00:00+07:00"
        history = json.dumps(event).encode()
        loaded_ms = parse_time("2022-01-03T09:00:00+07:00")
        # A 2022 event loaded as history counts; sent live in June 2024 it is too late; stamped
        # two days before it happened it is far in the future.
        stamp = (loaded_ms, loaded_ms + 401 * DAY_MS, loaded_ms - 2 * DAY_MS)[number % 3]
        records.append((history, stamp))
    # The poison of issue #12: each used to make the worker exit at every start.
    epoch = json.loads(received[0])
    epoch.update(event_id="epoch", dossier_id="epoch", occurred_at="1969-12-31T20:00:00+07:00")
    records += [
        (None, None),
        (received[1][:-1] + b', "note": "\xff\xc0\xaf"}', None),
        (b"[" * 1000 + b"]" * 1000, None),
        (received[2][:-1] + b', "note": ' + b"[" * 1000 + b"]" * 1000 + b"}", None),
        (json.dumps(epoch).encode(), None),
    ]
    random.Random(1).shuffle(records)
    return records


def _oracle(records: list[tuple[bytes | None, int | None]]) -> OracleResult:
    return recompute(
        records,
        units=REFERENCE.unit_codes,
        result_is_document=REFERENCE.result_is_document,
        semantic_check=lambda event: meaning_problem(event, REFERENCE),
    )


def _expected(records: list[tuple[bytes | None, int | None]]) -> list[dict[str, object]]:
    result = _oracle(records)
    assert {"too_late", "far_future", "tombstone", "not_json", "too_deep"} <= set(result.rejected)
    return result.rows()


def _expected_dead_letters(
    records: list[tuple[bytes | None, int | None]],
) -> Counter[tuple[bytes, str]]:
    """(original bytes, kind) of every record the oracle rejects, one per record."""
    verdicts = Counter()
    for record in records:
        verdict = rejection_of(
            record, units=REFERENCE.unit_codes, known_procedures=REFERENCE.result_is_document.keys(),
            semantic_check=lambda event: meaning_problem(event, REFERENCE),
        )  # fmt: skip
        if isinstance(verdict, str):
            verdicts[(record[0] or b"", verdict)] += 1
    return verdicts


def _worker_settings(settings: Settings, store: str, tmp_path: Path) -> Settings:
    # The worker runs in its own process: give it its own chdb directory (one per process).
    return settings.replace(store=store, chdb_path=str(tmp_path / "worker-chdb"), partitions=4)


def _assert_same_dead_letters(
    settings: Settings, records: list[tuple[bytes | None, int | None]], exactly_once: bool
) -> None:
    """The dead-letter topic holds each rejected record with the oracle's kind; the store counts
    each once. After a SIGKILL a batch's letters may be published twice (at least once)."""
    letters = Counter((raw or b"", kind) for raw, kind, _ in harness.dead_letters(settings))
    expected = _expected_dead_letters(records)
    if exactly_once:
        assert letters == expected
    else:
        assert set(letters) == set(expected)
        assert all(letters[letter] >= count for letter, count in expected.items())
    if settings.store == "server":  # this process may not open a second embedded engine
        store = open_store(settings)
        try:
            assert dead_letter_counts(store, settings.database) == _oracle(records).rejected
        finally:
            store.close()


@pytest.mark.parametrize(("store", "order"), [("server", "shuffled"), ("embedded", "newest first")])
def test_stream_equals_batch_recomputation(
    kafka_settings: Settings, noisy_records: list[Record], store: str, order: str, tmp_path: Path
) -> None:
    records = list(noisy_records)
    if order == "newest first":  # the 2024 events before the 2022 ones
        records.sort(key=lambda r: -(r[1] or 0))  # type: ignore[index]
    settings = _worker_settings(kafka_settings, store, tmp_path)
    worker = harness.start_worker(settings, tmp_path / "worker.log")
    try:
        harness.produce(settings, records, keying="dossier")
        harness.wait_until_consumed(settings, [worker])
    finally:
        harness.stop(worker)  # the embedded store is readable once the worker has let go of it
    assert harness.hourly_from_cli(settings) == _expected(records)
    _assert_same_dead_letters(settings, records, exactly_once=True)


def test_a_worker_killed_mid_stream_and_restarted_loses_and_doubles_nothing(
    kafka_settings: Settings, noisy_records: list[Record], tmp_path: Path
) -> None:
    """Kill -9 right after a batch's rows are stored and before its offsets are committed."""
    settings = _worker_settings(kafka_settings, "server", tmp_path)
    records = noisy_records
    half = len(records) // 2
    harness.produce(settings, records[:half], keying="none")  # unkeyed: any partition
    first = harness.start_worker(settings, tmp_path / "worker-1.log")
    try:
        harness.wait_until_consumed(settings, [first])
        committed_before = harness.input_offsets(settings)[1]
        archived_before = harness.archived_events(settings)
        harness.produce(settings, records[half:], keying="none")
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
    assert harness.hourly_from_cli(settings) == _expected(records)
    _assert_same_dead_letters(settings, records, exactly_once=False)


def test_two_workers_give_the_same_numbers_as_one(
    kafka_settings: Settings, noisy_records: list[Record], tmp_path: Path
) -> None:
    settings = _worker_settings(kafka_settings, "server", tmp_path)
    workers = [harness.start_worker(settings, tmp_path / f"worker-{i}.log") for i in (1, 2)]
    records = sorted(noisy_records, key=lambda r: r[1] or 0)  # type: ignore[index]  # oldest first
    try:
        harness.produce(settings, records, keying="random")
        harness.wait_until_consumed(settings, workers)
    finally:
        for worker in workers:
            harness.stop(worker)
    assert harness.hourly_from_cli(settings) == _expected(records)
    _assert_same_dead_letters(settings, records, exactly_once=False)  # a rebalance may redeliver
