"""Migration 3: dead letters keyed by source, raw bytes and recorded time, on both engines.
Letters of a recreated topic (offsets from 0 again) never merge with older ones, a redelivered
letter is still counted once, and rows written before the migration are kept."""

from __future__ import annotations

import base64
import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.processing import BatchResult, DeadLetter
from pipeline.settings import Settings
from sinks import schema
from sinks.reader import dead_letter_counts
from sinks.store import Store, open_store
from sinks.writer import ResultWriter

pytestmark = pytest.mark.integration


def _letters(*letters: DeadLetter) -> BatchResult:
    return BatchResult(dead_letters=list(letters))


def test_recreated_topics_never_merge_letters_and_each_message_counts_once(
    store: Store, store_settings: Settings
) -> None:
    db = store_settings.database
    writer = ResultWriter(store, db)
    first = DeadLetter(b"{first", "t.dossier-events[0]@0", "not_json", "r")
    again = DeadLetter(b"{second", "t.dossier-events[0]@0", "not_json", "r")  # topic recreated
    binary = DeadLetter(b"\xff\xfe{", "t.dossier-events[0]@1", "not_json", "r")
    writer.write(_letters(first, binary), 1_000)
    writer.write(_letters(first), 2_000)  # redelivered after a restart
    writer.write(_letters(again), 3_000)
    store.execute(f"OPTIMIZE TABLE {db}.dead_letters FINAL")

    rows = store.query(
        f"SELECT source, raw, raw_base64, recorded_ms FROM {db}.dead_letters FINAL "
        "ORDER BY recorded_ms, raw"
    )
    assert [(r[1], r[3]) for r in rows] == [
        ("{first", 1000), ("\ufffd\ufffd{", 1000), ("{first", 2000), ("{second", 3000)
    ]  # fmt: skip
    assert base64.b64decode(rows[1][2]) == b"\xff\xfe{"  # the exact bytes survive
    assert dead_letter_counts(store, db) == {"not_json": 3}


@pytest.mark.parametrize("workers", [1, 3])
def test_migration_3_keeps_the_letters_stored_before_it(
    store_settings: Settings, workers: int
) -> None:
    """Also when several workers start at once and migrate the same database together."""
    store = open_store(store_settings)
    db = store_settings.database
    store.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    store.execute(f"CREATE TABLE {db}.schema_version (version UInt32, description String, "
                  "applied_ms UInt64) ENGINE = MergeTree() ORDER BY version")  # fmt: skip
    try:
        schema.migrate(store, db, up_to=2)
        store.insert(f"{db}.dead_letters", ("source", "kind", "reason", "raw", "recorded_ms"),
                     [("t[0]@5", "unknown_unit", "why", "{old}", 7)])  # fmt: skip
        stores = [store] + [open_store(store_settings) for _ in range(workers - 1)]
        with ThreadPoolExecutor(workers) as pool:
            applied = list(pool.map(lambda s: schema.migrate(s, db, up_to=3), stores))
        for other in stores[1:]:
            other.close()
        assert [3] in applied
        store.execute(f"OPTIMIZE TABLE {db}.dead_letters FINAL")
        assert store.query(
            f"SELECT source, kind, reason, raw, raw_sha256, raw_base64, recorded_ms "
            f"FROM {db}.dead_letters"
        ) == [("t[0]@5", "unknown_unit", "why", "{old}",
               hashlib.sha256(b"{old}").hexdigest(), "", 7)]  # fmt: skip
        assert schema.migrate(store, db, up_to=3) == []
    finally:
        schema.drop(store, db)
        store.close()
