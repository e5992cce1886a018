"""The incremental ``hourly_counts`` equals the merge-at-read view after adversarial input, and
its roll-ups ``daily_counts`` and ``monthly_counts`` equal the oracle's counts per day and month.

Two workers (two processors with their own small caches, in two threads, each with its own
connection where the engine allows) take turns over shuffled, duplicated, unkeyed events, store
their batches and refresh the touched buckets exactly as the worker does. After every round the
tables read the way readers read them must equal ``indicator_hourly`` and an independent
recomputation of everything sent so far (``tests/oracle.py``, summed per Vietnam day and
month), on both stores, including dossiers that an earlier reception moves to another unit and
hour, day or month (the buckets they left must fall to zero) and dossiers whose later facts
arrive after the cache evicted them.
"""

from __future__ import annotations

import json
import random
import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline.generator.noise import Noise
from pipeline.generator.profile import profile_named
from pipeline.generator.stream import generate_batches
from pipeline.processing import BatchProcessor, Incoming, processor_for
from pipeline.reference import load_reference
from pipeline.settings import Settings
from pipeline.validation import meaning_problem
from pipeline.windows import parse_time
from sinks import hourly, reader, schema
from sinks.store import Row, Store, open_store
from sinks.writer import ResultWriter
from tests.events_factory import event, line, received
from tests.oracle import recompute

REFERENCE = load_reference()
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW_MS = parse_time("2024-07-01T00:00:00+07:00")
MOVED = "moved-1"
LATE_UNIT = "H70.01"
ACROSS = "moved-across-months"
"""Received after midnight on 1 July at one unit, then earlier, before 07:00 on 30 June (the
previous UTC day too) at another: it changes unit, day and month."""


def _view(store: Store, db: str) -> list[tuple[object, ...]]:
    return store.query(
        f"""SELECT unit_code, indicator, toUInt32(bucket_start), numerator, denominator
            FROM {db}.indicator_hourly ORDER BY unit_code, indicator, bucket_start"""
    )


def _table(store: Store, db: str) -> list[tuple[object, ...]]:
    return store.query(
        f"""SELECT unit_code, indicator, toUInt32(bucket_start), numerator, denominator
            FROM {db}.hourly_counts FINAL WHERE denominator > 0
            ORDER BY unit_code, indicator, bucket_start"""
    )


def _rollup(store: Store, db: str, table: str, column: str) -> list[tuple[object, ...]]:
    rows = store.query(
        f"""SELECT unit_code, indicator, toString({column}), numerator, denominator
            FROM {db}.{table} FINAL WHERE denominator > 0
            ORDER BY unit_code, indicator, {column}"""
    )
    return [(str(u), str(i), str(t), int(n), int(d)) for u, i, t, n, d in rows]


def _per_day_and_month(
    hourly: Iterable[tuple[str, str, str, int, int]],
) -> dict[str, list[tuple[object, ...]]]:
    """Hourly rows (unit, indicator, local hour as ``2024-06-10T08:00:00+07:00``, n, d) summed
    per Vietnam day and month, as ``_rollup`` reads the roll-up tables."""
    sums: dict[str, dict[tuple[str, str, str], list[int]]] = {
        "daily_counts": defaultdict(lambda: [0, 0]),
        "monthly_counts": defaultdict(lambda: [0, 0]),
    }
    for unit, indicator, local_hour, numerator, denominator in hourly:
        for table, start in (
            ("daily_counts", local_hour[:10]),
            ("monthly_counts", local_hour[:8] + "01"),
        ):
            total = sums[table][(unit, indicator, start)]
            total[0] += numerator
            total[1] += denominator
    return {
        table: [(*key, n, d) for key, (n, d) in sorted(totals.items())]
        for table, totals in sums.items()
    }


def _oracle_hourly(lines: list[bytes]) -> list[tuple[str, str, str, int, int]]:
    """The independent recomputation of everything sent (``tests/oracle.py``)."""
    result = recompute(
        [(raw, NOW_MS) for raw in lines],
        units=REFERENCE.unit_codes,
        result_is_document=REFERENCE.result_is_document,
        semantic_check=lambda e: meaning_problem(e, REFERENCE),
    )
    return [(u, i, b, n, d) for (u, i, b), (n, d) in sorted(result.hourly.items())]


def _local_hours(rows: list[tuple[object, ...]]) -> list[tuple[str, str, str, int, int]]:
    """``_view``/``_table`` rows with their bucket as the oracle writes it (local time)."""
    return [
        (str(u), str(i), datetime.fromtimestamp(int(str(b)), VIETNAM).isoformat(), int(str(n)),
         int(str(d)))
        for u, i, b, n, d in rows
    ]  # fmt: skip


def _assert_rollups_equal(
    store: Store, db: str, hourly: list[tuple[str, str, str, int, int]], when: str
) -> None:
    expected = _per_day_and_month(hourly)
    assert expected["daily_counts"], "the generated events must produce counts"
    assert _rollup(store, db, "daily_counts", "day") == expected["daily_counts"], when
    assert _rollup(store, db, "monthly_counts", "month") == expected["monthly_counts"], when


def _rounds() -> list[list[bytes]]:
    """Three rounds of messy generated events, with a dossier moved by a late, earlier reception."""
    noise = Noise(duplicates=0.1, disorder=0.2, bad_fraction=0.01)
    batches = generate_batches(REFERENCE, seed=8, start=date(2024, 6, 3), days=2,
                               profile=profile_named("small"), noise=noise)  # fmt: skip
    lines = [raw.encode() for batch in batches for raw in batch.lines]
    rng = random.Random(8)
    rng.shuffle(lines)
    lines += rng.sample(lines, len(lines) // 5)  # re-sent across rounds
    rng.shuffle(lines)
    third = len(lines) // 3
    rounds = [lines[:third], lines[third : 2 * third], lines[2 * third :]]
    at = "2024-06-10T10:20:00+07:00"
    rounds[0] += [
        line(received("m-r1", MOVED, at, channel="online")),
        line(event("dossier.synced", "m-s", MOVED, "2024-06-10T10:30:00+07:00")),
        line(
            event(
                "dossier.completed", "m-c", MOVED, "2024-06-11T09:00:00+07:00", outcome="approved"
            )
        ),  # fmt: skip
    ]
    rounds[1] += [
        line(
            event(
                "dossier.result_issued",
                "m-e",
                MOVED,
                "2024-06-11T09:30:00+07:00",
                electronic=True,
                digitized=True,
            )
        ),  # fmt: skip
    ]
    rounds[2] += [
        line(
            received(
                "m-r0", MOVED, "2024-06-10T08:05:00+07:00", channel="direct", unit_code=LATE_UNIT
            )
        ),  # fmt: skip
    ]
    rounds[0].append(line(received("a-r1", ACROSS, "2024-07-01T02:10:00+07:00")))
    rounds[1].append(line(event("dossier.synced", "a-s", ACROSS, "2024-07-01T02:30:00+07:00")))
    rounds[2].append(
        line(received("a-r0", ACROSS, "2024-06-30T06:30:00+07:00", unit_code=LATE_UNIT))
    )
    return rounds


def _batches(lines: list[bytes], one_per_dossier: bool) -> list[list[bytes]]:
    """Random batches of 1..400 lines; with ``one_per_dossier``, a batch is also cut before a
    second event of one dossier."""
    rng = random.Random(len(lines))
    batches: list[list[bytes]] = []
    size, dossiers = 0, set()
    for raw in lines:
        dossier = _dossier_of(raw)
        if not batches or len(batches[-1]) >= size or (one_per_dossier and dossier in dossiers):
            batches.append([])
            size, dossiers = rng.randint(1, 400), set()
        batches[-1].append(raw)
        dossiers.add(dossier)
    return batches


def _dossier_of(raw: bytes) -> object:
    try:
        return json.loads(raw).get("dossier_id")
    except (ValueError, AttributeError):
        return None


def _worker_round(
    store: Store, db: str, processor: BatchProcessor, lines: list[bytes], one_per_dossier: bool
) -> None:
    writer = ResultWriter(store, db)
    first = 0
    for lines_of_batch in _batches(lines, one_per_dossier):
        batch = [Incoming(raw, f"t[0]@{first + i}", NOW_MS) for i, raw in enumerate(lines_of_batch)]
        result = processor.process(batch)
        writer.write(result, NOW_MS)
        hourly.refresh_dossiers(store, db, result.snapshots)
        first += len(lines_of_batch)


@pytest.mark.parametrize("one_per_dossier", [False, True], ids=["any-batches", "one-per-dossier"])
def test_incremental_counts_equal_the_view_and_the_oracle_after_adversarial_input(
    store: Store, store_settings: Settings, one_per_dossier: bool
) -> None:
    """The tables equal the view (hours) and its sums (days, months), and the independent
    oracle, whether a batch holds several events of one dossier (one evicted from the tiny cache
    in the middle of a batch, and seen again later in it) or at most one."""
    db = store_settings.database
    processors = [
        processor_for(REFERENCE, late_horizon_days=400, max_cached_dossiers=40)
        for _ in range(2)
    ]  # fmt: skip
    # clickhouse-driver connections are not thread-safe; chdb allows one engine per process.
    stores = [store, open_store(store_settings) if store.backend == "server" else store]
    rng = random.Random(3)
    sent: list[bytes] = []
    for number, lines in enumerate(_rounds()):
        sent += lines
        halves: list[list[bytes]] = [[], []]
        for raw in lines:
            halves[rng.randrange(2)].append(raw)
        threads = [
            threading.Thread(
                target=_worker_round,
                args=(stores[i], db, processors[i], halves[i], one_per_dossier),
            )
            for i in (0, 1)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        view = _view(store, db)
        assert view, "the generated events must produce counts"
        assert _table(store, db) == view, f"after round {number}"
        oracle = _oracle_hourly(sent)
        assert _local_hours(view) == oracle, f"after round {number}"
        _assert_rollups_equal(store, db, oracle, f"after round {number}")
    # The moved dossier left its first bucket: a zero row there, and the reader skips it.
    left_s = parse_time("2024-06-10T10:00:00+07:00") // 1000
    rows = store.query(
        f"""SELECT indicator, numerator, denominator FROM {db}.hourly_counts FINAL
            WHERE unit_code = 'H70.07'
              AND toUInt32(bucket_start) = {left_s}"""
    )
    assert rows and all(int(d) == 0 for _, _, d in rows)
    moved_s = parse_time("2024-06-10T08:00:00+07:00") // 1000
    read = reader.hourly_rows(store, db, moved_s * 1000, (moved_s + 3600) * 1000)
    assert ("H70.07", "online_filing", left_s * 1000, 1, 1) not in read
    assert (LATE_UNIT, "online_filing", moved_s * 1000, 0, 1) in read
    assert (LATE_UNIT, "portal_sync", moved_s * 1000, 1, 1) in read
    # The reader returns exactly the view's rows.
    everything = reader.hourly_rows(store, db, 0, 4_000_000_000_000)
    assert [(u, i, b // 1000, n, d) for u, i, b, n, d in everything] == [
        (str(u), str(i), int(b), int(n), int(d)) for u, i, b, n, d in _view(store, db)
    ]
    # The dossier moved across days and months left July (only it was there): July's rows, at
    # the unit it left among others, are zero rows now, and 30 June counts it at its new unit.
    july = store.query(
        f"SELECT unit_code, denominator FROM {db}.monthly_counts FINAL WHERE month = '2024-07-01'"
    )
    assert ("H70.07", 0) in {(str(u), int(d)) for u, d in july} and {d for _, d in july} == {0}
    days = _rollup(store, db, "daily_counts", "day")
    assert (LATE_UNIT, "portal_sync", "2024-06-30", 1, 1) in days
    # A full rebuild gives the same tables.
    hourly.refresh_all(store, db)
    assert _table(store, db) == _view(store, db)
    _assert_rollups_equal(store, db, _local_hours(_view(store, db)), "after refresh_all")
    if stores[1] is not store:
        stores[1].close()


def test_migrations_6_to_12_index_count_and_roll_up_snapshots_stored_before_them(
    store: Store, store_settings: Settings
) -> None:
    db = f"{store_settings.database}_pre6"
    store.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    try:
        schema.migrate(store, db, up_to=5)
        processor = processor_for(REFERENCE, late_horizon_days=400)
        lines = [raw for part in _rounds() for raw in part]
        result = processor.process([Incoming(raw, "t", NOW_MS) for raw in lines])
        ResultWriter(store, db).write(result, NOW_MS)
        assert _table(store, db) == []
        assert schema.migrate(store, db) == [6, 7, 8, 9, 10, 11, 12]
        assert _table(store, db) == _view(store, db) != []
        _assert_rollups_equal(store, db, _oracle_hourly(lines), "migrations 6 to 12")
        # and the worker's refresh goes on from there
        late_line = line(received("m-r-1", MOVED, "2024-06-09T07:00:00+07:00"))
        late = processor.process([Incoming(late_line, "t", NOW_MS)])
        ResultWriter(store, db).write(late, NOW_MS)
        hourly.refresh_dossiers(store, db, late.snapshots)
        assert _table(store, db) == _view(store, db)
        _assert_rollups_equal(store, db, _oracle_hourly([*lines, late_line]), "after a late batch")
    finally:
        schema.drop(store, db)


def test_versions_only_go_up_even_when_the_clock_steps_back() -> None:
    readings = iter([100, 100, 50, 300])
    clock = hourly.VersionClock(lambda: next(readings))
    assert [clock.next() for _ in range(4)] == [100, 101, 102, 300]


def test_a_full_refresh_between_worker_refreshes_keeps_every_bucket_exact(
    store: Store, store_settings: Settings
) -> None:
    """Loads around the worker (``refresh_all``) and the worker's refresh alternate. The moved
    dossier is counted in its first bucket by the worker, moved by a bulk load, and that bucket
    is recounted later for another dossier: what the moved one contributed there must have been
    withdrawn by the full refresh, or it would still count."""
    db = store_settings.database
    processor = processor_for(REFERENCE, late_horizon_days=400)
    writer = ResultWriter(store, db)
    rounds = _rounds()

    def stored(lines: list[bytes]) -> list[Row]:
        result = processor.process([Incoming(raw, "t", NOW_MS) for raw in lines])
        writer.write(result, NOW_MS)
        return list(result.snapshots)

    stored(rounds[0])
    hourly.refresh_all(store, db)
    assert _table(store, db) == _view(store, db) != []
    hourly.refresh_dossiers(store, db, stored(rounds[1]))
    assert _table(store, db) == _view(store, db)
    stored(rounds[2])  # moves the dossier to LATE_UNIT, with no incremental refresh
    hourly.refresh_all(store, db)
    assert _table(store, db) == _view(store, db)
    # Another dossier in the bucket the moved one left: the worker recounts that bucket.
    neighbour = line(received("n-r", "neighbour-1", "2024-06-10T10:40:00+07:00"))
    hourly.refresh_dossiers(store, db, stored([neighbour]))
    assert _table(store, db) == _view(store, db)


def test_a_batch_of_long_ids_is_looked_up_in_queries_within_the_size_limit(
    store: Store, store_settings: Settings
) -> None:
    """3,000 dossiers with the longest ids the contract allows (128 characters, not all ASCII)
    in one batch: one list of them would exceed ClickHouse's 256 KiB query limit."""
    db = store_settings.database
    lines = [
        line(received(f"r-{n}", f"{n:05d}-" + "Đ" * 122, f"2024-06-10T{8 + n % 9:02d}:15:00+07:00"))
        for n in range(3000)
    ]
    result = processor_for(REFERENCE, late_horizon_days=400).process(
        [Incoming(raw, "t", NOW_MS) for raw in lines]
    )
    ResultWriter(store, db).write(result, NOW_MS)
    assert len(result.snapshots) == 3000
    hourly.refresh_dossiers(store, db, result.snapshots)
    assert _table(store, db) == _view(store, db) != []
