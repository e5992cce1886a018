"""The writer stores what the store accepts and dead-letters only the messages whose rows it
refuses (found by splitting the batch), on both ClickHouse engines."""

from __future__ import annotations

import pytest

from pipeline.errors import SinkError
from pipeline.processing import BatchResult, DeadLetter, Incoming, processor_for
from pipeline.reference import load_reference
from pipeline.settings import Settings
from sinks.store import Store
from sinks.writer import ResultWriter
from tests.events_factory import event, line, received

pytestmark = pytest.mark.integration

REFERENCE = load_reference()
RECORDED_MS = 1_780_000_000_000


def _processed(count: int) -> BatchResult:
    payloads = []
    for i in range(count):
        payloads.append(line(received(f"r{i}", f"d{i}", "2024-06-03T08:00:00+07:00")))
        payloads.append(
            line(event("dossier.synced", f"s{i}", f"d{i}", "2024-06-03T09:00:00+07:00"))
        )
    batch = [Incoming(p, f"dossier-events[0]@{n}", None) for n, p in enumerate(payloads)]
    result = processor_for(REFERENCE, 400).process(batch)
    assert result.accepted == 2 * count and len(result.snapshots) == count
    return result


def _count(store: Store, sql: str) -> int:
    return int(store.query(sql)[0][0])


def test_refused_archive_rows_become_dead_letters_and_the_rest_is_stored(
    store: Store, store_settings: Settings
) -> None:
    db = store_settings.database
    result = _processed(50)
    poisoned = {7, 8, 61}
    for index in poisoned:  # values the contract would never let through
        row = list(result.archive[index])
        row[2] = -5 if index != 61 else 2**64 + 5
        result.archive[index] = tuple(row)
    ResultWriter(store, db).write(result, RECORDED_MS)

    assert result.accepted == 100 - len(poisoned)
    rejected = [d for d in result.dead_letters if d.kind == "store_rejected"]
    assert sorted(d.source for d in rejected) == sorted(result.archive_sources[i] for i in poisoned)
    assert all(d.raw.startswith(b"{") and "events_raw" in d.reason for d in rejected)
    assert _count(store, f"SELECT count() FROM {db}.events_raw") == 100 - len(poisoned)
    assert _count(store, f"SELECT count() FROM {db}.dossier_state") == 50
    assert _count(
        store, f"SELECT count() FROM {db}.dead_letters WHERE kind = 'store_rejected'"
    ) == len(poisoned)


def test_a_refused_state_row_dead_letters_that_dossiers_messages_only(
    store: Store, store_settings: Settings
) -> None:
    db = store_settings.database
    result = _processed(20)
    row = list(result.snapshots[3])
    row[4] = -1  # received_ms
    result.snapshots[3] = tuple(row)
    ResultWriter(store, db).write(result, RECORDED_MS)

    dossier = str(row[0])
    assert sorted(d.raw for d in result.dead_letters) == sorted(
        r[6].encode() for r in result.archive if r[4] == dossier
    )
    assert result.accepted == 40 - 2
    assert _count(store, f"SELECT count() FROM {db}.dossier_state") == 19
    assert _count(store, f"SELECT count() FROM {db}.events_raw WHERE dossier_id = '{dossier}'") == 0
    assert _count(store, f"SELECT count() FROM {db}.events_raw") == 38


def test_an_error_that_is_not_about_the_values_still_stops_the_batch(
    store: Store, store_settings: Settings
) -> None:
    result = _processed(3)
    with pytest.raises(SinkError) as caught:
        ResultWriter(store, store_settings.database + "_missing").write(result, RECORDED_MS)
    assert type(caught.value) is SinkError
    assert result.accepted == 6 and not result.dead_letters


def test_dead_letters_are_written_with_the_batch(store: Store, store_settings: Settings) -> None:
    result = _processed(1)
    result.dead_letters.append(DeadLetter(b"\xff{", "x[0]@1", "not_json", "not UTF-8"))
    ResultWriter(store, store_settings.database).write(result, RECORDED_MS)
    assert store.query(f"SELECT raw, kind FROM {store_settings.database}.dead_letters") == [
        ("\ufffd{", "not_json")
    ]
