"""Schema and write/read round trips, run on both the ClickHouse server (18.16) and chdb."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import Settings
from sinks import schema
from sinks.store import Store

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
T0 = 1_717_376_400_000  # 2024-06-03T08:00:00+07:00


def _snapshot(dossier_id: str, **fields: object) -> tuple[object, ...]:
    row = dict.fromkeys(schema.DOSSIER_STATE_COLUMNS, 0)
    row.update(
        dossier_id=dossier_id,
        unit_code="",
        procedure_code="",
        received_key="",
        channel="",
        completed_key="",
        outcome="",
    )
    row.update(fields)
    return tuple(row[c] for c in schema.DOSSIER_STATE_COLUMNS)


def test_migrate_is_idempotent_and_records_the_version(
    store: Store, store_settings: Settings
) -> None:
    assert schema.migrate(store, store_settings.database) == []
    assert schema.current_version(store, store_settings.database) == schema.LATEST_VERSION
    tables = {row[0] for row in store.query(f"SHOW TABLES FROM {store_settings.database}")}
    assert {
        "dossier_state",
        "events_raw",
        "dead_letters",
        "dossier_merged",
        "indicator_hourly",
    } <= tables


def test_raw_events_round_trip(store: Store, store_settings: Settings) -> None:
    table = f"{store_settings.database}.events_raw"
    rows = [
        (f"e{i}", "dossier.synced", T0 + i, "H70.07", f"d{i}", "1.001", '{"x": "Hồ sơ"}')
        for i in range(50)
    ]
    store.insert(table, schema.EVENT_COLUMNS, rows)
    back = store.query(
        f"SELECT event_id, type, occurred_ms, unit_code, dossier_id, procedure_code, payload FROM {table} ORDER BY occurred_ms"
    )
    assert back == rows


def test_snapshots_merge_whatever_their_order_and_duplicates(
    store: Store, store_settings: Settings
) -> None:
    db = store_settings.database
    received = _snapshot(
        "d1",
        unit_code="H70.07",
        procedure_code="1.001",
        received_key=f"{T0 + 5}e1",
        received_ms=T0 + 5,
        channel="online",
        fee_amount=20000,
        result_is_document=1,
    )
    paid = _snapshot("d1", paid_online=1, synced=1)
    completed = _snapshot(
        "d1",
        completed_key=f"{T0 + 3 * HOUR_MS}e7",
        completed_ms=T0 + 3 * HOUR_MS,
        outcome="approved",
        e_result=1,
    )
    other = _snapshot(
        "d2",
        unit_code="H70.07",
        procedure_code="1.001",
        received_key=f"{T0 + 9}e2",
        received_ms=T0 + 9,
        channel="direct",
        fee_amount=0,
        result_is_document=1,
        digitized=1,
    )
    # Written out of order, twice, from "different workers": the merge must not care.
    store.insert(f"{db}.dossier_state", schema.DOSSIER_STATE_COLUMNS, [completed, paid, other])
    store.insert(f"{db}.dossier_state", schema.DOSSIER_STATE_COLUMNS, [received, paid, received])
    counts = {
        (indicator, bucket): (num, den)
        for indicator, bucket, num, den in store.query(
            f"SELECT indicator, toUInt32(bucket_start), numerator, denominator FROM {db}.indicator_hourly"
        )
    }
    hour = T0 // 1000
    assert counts == {
        ("online_filing", hour): (1, 2),
        ("online_payment", hour): (1, 1),
        ("digitization", hour): (1, 2),
        ("data_reuse", hour): (0, 2),
        ("portal_sync", hour): (1, 2),
        ("e_result", hour + 3 * 3600): (1, 1),
    }


def test_the_embedded_engine_starts_with_its_memory_settings(settings: Settings) -> None:
    """sinks/embedded_engine.py's startup parameters reach the engine (unknown ones would be ignored
    silently): the MergeTree defaults of sinks/chdb_engine.xml and the dirty-page purge."""
    from sinks.embedded import EmbeddedStore

    engine = EmbeddedStore(settings.chdb_dir)
    assert engine.query(
        "SELECT value FROM system.merge_tree_settings WHERE name = 'max_compress_block_size'"
    ) == [("131072",)]
    settings_now = dict(
        engine.query(
            "SELECT name, value FROM system.server_settings WHERE name IN "
            "('memory_worker_purge_dirty_pages_threshold_ratio', 'max_server_memory_usage')"
        )
    )
    # The engine purges freed pages above this share of its own memory limit: about 64 MiB.
    purge_above = float(settings_now["memory_worker_purge_dirty_pages_threshold_ratio"]) * float(
        settings_now["max_server_memory_usage"]
    )
    assert purge_above == pytest.approx(64 * 2**20, rel=0.01)


_ENGINE_WITH_CONFIG_AT = """
import shutil, sys, tempfile
from pathlib import Path
from sinks import embedded_engine
from sinks.embedded import EmbeddedStore

folder = Path(sys.argv[1])
folder.mkdir(parents=True)
embedded_engine.ENGINE_CONFIG = folder / "chdb_engine.xml"
shutil.copy(Path(embedded_engine.__file__).with_name("chdb_engine.xml"), folder)
engine = EmbeddedStore(Path(tempfile.mkdtemp(dir=folder.parent)))
print(engine.query(
    "SELECT value FROM system.merge_tree_settings WHERE name = 'max_compress_block_size'"
)[0][0])
"""


@pytest.mark.parametrize(
    ("folder", "block_size"),
    [("a b%c#d+e=f?g", "131072"), ("with&ampersand", "0")],
    ids=["encoded", "ampersand"],
)
def test_the_engine_config_is_found_wherever_chiso766_is_installed(
    tmp_path: Path, folder: str, block_size: str
) -> None:
    """The config file's path is percent-encoded in the connection string; a path with '&'
    (which the engine splits at even when encoded) is left out with a warning, and the engine
    keeps its defaults ("0": the built-in compression buffer size)."""
    done = subprocess.run(
        [sys.executable, "-c", _ENGINE_WITH_CONFIG_AT, str(tmp_path / folder)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [block_size]
    assert ("is not used: its path holds '&'" in done.stderr) == ("&" in folder)


def test_a_store_directory_with_a_question_mark_is_refused(tmp_path: Path) -> None:
    from sinks.embedded import EmbeddedStore

    with pytest.raises(ConfigError, match="'\\?' is not allowed"):
        EmbeddedStore(tmp_path / "store?mode=ro")
    assert not (tmp_path / "store").exists()
