"""The batch processor: bad input becomes dead letters, duplicates make no rows, and whether a
message counts depends only on its bytes and its record timestamp."""

from __future__ import annotations

import random

from pipeline.processing import (
    BatchProcessor,
    BatchResult,
    Incoming,
    processor_for,
)
from pipeline.reference import load_reference
from pipeline.windows import parse_time, to_local
from sinks.schema import DOSSIER_STATE_COLUMNS
from tests.events_factory import event, line, received

REFERENCE = load_reference()
NOW_MS = parse_time("2024-07-01T00:00:00+07:00")
DAY_MS = 86_400_000


def _processor(late_horizon_days: int = 400, **kw: int) -> BatchProcessor:
    return processor_for(REFERENCE, late_horizon_days, **kw)


def _batch(*payloads: bytes | None, record_ms: int | None = NOW_MS) -> list[Incoming]:
    return [Incoming(p, f"dossier-events[0]@{i}", record_ms) for i, p in enumerate(payloads)]


def test_bad_lines_become_dead_letters_with_their_bytes_source_and_reason() -> None:
    bad = [b"{not json", line(received("r1", "d1", "2024-06-03T08:00:00+07:00", unit_code="X99")),
           line({"type": "dossier.teleported", "event_id": "z"})]  # fmt: skip
    result = _processor().process(_batch(*bad))
    assert result.accepted == 0 and not result.snapshots and not result.archive
    assert [(d.raw, d.source, d.kind) for d in result.dead_letters] == [
        (bad[0], "dossier-events[0]@0", "not_json"),
        (bad[1], "dossier-events[0]@1", "unknown_unit"),
        (bad[2], "dossier-events[0]@2", "unknown_type"),
    ]
    assert "X99" in result.dead_letters[1].reason


def test_duplicates_are_absorbed_and_counted_not_dead_lettered() -> None:
    first = line(received("r1", "d1", "2024-06-03T08:00:00+07:00"))
    resent = line(received("r1-again", "d1", "2024-06-03T08:00:00+07:00"))  # same fact, later id
    processor = _processor()
    one = processor.process(_batch(first, first))
    two = processor.process(_batch(first, resent))
    assert (one.accepted, one.unchanged, len(one.snapshots)) == (2, 1, 1)
    assert (two.accepted, two.unchanged, len(two.snapshots)) == (2, 2, 0)
    assert not one.dead_letters and not two.dead_letters


def test_one_snapshot_per_changed_dossier_per_batch() -> None:
    payloads = [
        line(received("r1", "d1", "2024-06-03T08:00:00+07:00")),
        line(event("dossier.synced", "s1", "d1", "2024-06-03T08:05:00+07:00")),
        line(received("r2", "d2", "2024-06-03T08:10:00+07:00")),
    ]
    result = _processor().process(_batch(*payloads))
    assert sorted(row[0] for row in result.snapshots) == ["d1", "d2"]
    assert result.archive_sources == [f"dossier-events[0]@{i}" for i in range(3)]
    d1 = next(row for row in result.snapshots if row[0] == "d1")
    assert d1[14] == 1  # synced


def test_lateness_and_the_future_are_measured_against_the_record_timestamp() -> None:
    processor = _processor(late_horizon_days=30)
    record_ms = parse_time("2024-06-03T08:00:00+07:00")
    late = line(received("r2", "d2", "2024-05-04T07:59:59.999+07:00"))  # 30 days and 1 ms
    just_in = line(received("r3", "d3", "2024-05-04T08:00:00+07:00"))  # exactly 30 days
    ahead = line(received("r4", "d4", "2024-06-04T08:00:00.001+07:00"))  # a day and 1 ms
    one_day = line(received("r5", "d5", "2024-06-04T08:00:00+07:00"))
    result = processor.process(_batch(late, just_in, ahead, one_day, record_ms=record_ms))
    assert [d.kind for d in result.dead_letters] == ["too_late", "far_future"]
    assert result.accepted == 2
    # The same bytes loaded as history, stamped with their own time, count.
    assert (
        processor.process(_batch(late, record_ms=parse_time("2024-05-04T09:00:00+07:00"))).accepted
        == 1
    )


def test_the_1969_and_the_future_without_a_record_timestamp() -> None:
    """No record timestamp: no time bound but the contract's fixed range (2000..2100)."""
    far = line(
        received("r1", "d1", "2090-01-01T08:00:00+07:00", due_at="2091-01-01T00:00:00+07:00")
    )
    old = line(received("r2", "d2", "2001-01-01T08:00:00+07:00"))
    epoch = line(received("r3", "d3", "1969-12-31T23:00:00+00:00"))
    result = _processor().process(_batch(far, old, epoch, record_ms=None))
    assert result.accepted == 2
    assert [(d.kind, "occurred_at" in d.reason) for d in result.dead_letters] == [
        ("impossible_value", True)
    ]


def test_a_2022_event_after_a_2024_one_gets_the_same_verdict_in_any_processor() -> None:
    """The issue's reproduction: a running worker used to reject what a restarted one accepted."""
    new = Incoming(line(received("r1", "d1", "2024-06-03T08:00:00+07:00")), "a", NOW_MS)
    old_live = Incoming(line(received("r2", "d2", "2022-01-03T08:00:00+07:00")), "b", NOW_MS)
    old_loaded = Incoming(
        line(received("r3", "d3", "2022-01-03T08:00:00+07:00")),
        "c",
        parse_time("2022-01-03T08:00:00+07:00"),
    )
    running = _processor()
    running.process([new])
    after = running.process([old_live, old_loaded])
    restarted = _processor().process([old_live, old_loaded])
    assert [d.source for d in after.dead_letters] == [d.source for d in restarted.dead_letters]
    assert [d.kind for d in after.dead_letters] == ["too_late"]
    assert after.accepted == restarted.accepted == 1


def _verdicts(results: list[BatchResult]) -> tuple[list[str], list[tuple[str, str]]]:
    accepted = sorted(source for r in results for source in r.archive_sources)
    dead = sorted((d.source, d.kind) for r in results for d in r.dead_letters)
    return accepted, dead


def test_verdicts_do_not_depend_on_order_batching_restarts_or_workers() -> None:
    rng = random.Random(10)
    records = []
    for i in range(400):
        day = rng.randrange(0, 900)
        occurred_ms = parse_time("2022-01-01T08:00:00+07:00") + day * DAY_MS
        record_ms = rng.choice([occurred_ms, occurred_ms + rng.randrange(0, 600) * DAY_MS,
                                occurred_ms - rng.randrange(0, 3) * DAY_MS, None])  # fmt: skip
        payload = received(f"r{i}", f"d{i % 150}", "2022-01-01T08:00:00+07:00")
        payload["occurred_at"] = _rfc3339(occurred_ms)
        payload["due_at"] = _rfc3339(occurred_ms + 10 * DAY_MS)
        records.append(Incoming(line(payload), f"m{i}", record_ms))
    records += [Incoming(None, "tomb", NOW_MS), Incoming(b"\xff{", "bytes", NOW_MS)]

    def run(
        order: list[Incoming], batch_size: int, workers: int = 1, restart_every: int = 0
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Feed ``order`` in batches, each batch split over ``workers`` processors, replacing
        every processor (a restart: empty caches) every ``restart_every`` batches."""
        processors = [_processor() for _ in range(workers)]
        results = []
        for number, start in enumerate(range(0, len(order), batch_size)):
            if restart_every and number % restart_every == 0:
                processors = [_processor() for _ in range(workers)]
            batch = order[start : start + batch_size]
            for w, processor in enumerate(processors):
                results.append(processor.process(batch[w::workers]))
        return _verdicts(results)

    baseline = run(records, len(records))
    assert baseline[1], "the set must hold rejections"
    shuffled = records[:]
    rng.shuffle(shuffled)
    by_time = sorted(records, key=lambda m: m.timestamp_ms or 0)
    assert run(shuffled, 37) == baseline
    assert run(by_time[::-1], 50, restart_every=2) == baseline
    assert run(shuffled, 64, workers=2) == baseline


def _rfc3339(ts_ms: int) -> str:
    return to_local(ts_ms).isoformat(timespec="milliseconds")


def test_a_dossier_evicted_within_a_batch_keeps_the_facts_of_both_states() -> None:
    """The cache holds X and Y; in one batch X is digitised, a new dossier evicts X, and X's
    reception arrives: both of X's states must reach the store (which merges them)."""
    processor = _processor(max_cached_dossiers=2)
    at = "2024-06-10T08:00:00+07:00"
    processor.process(
        _batch(
            line(event("dossier.synced", "x0", "X", at)),
            line(event("dossier.synced", "y0", "Y", at)),
        )
    )
    digitized = event("dossier.digitized", "x1", "X", "2024-06-10T09:00:00+07:00",
                      components=1, reused_components=0, from_data_store=False)  # fmt: skip
    result = processor.process(
        _batch(
            line(digitized),
            line(event("dossier.synced", "z0", "Z", "2024-06-10T09:00:00+07:00")),
            line(received("x2", "X", "2024-06-10T08:30:00+07:00")),
        )
    )
    rows_of_x = [dict(zip(DOSSIER_STATE_COLUMNS, row, strict=True))
                 for row in result.snapshots if row[0] == "X"]  # fmt: skip
    assert any(row["digitized"] == 1 for row in rows_of_x)
    assert any(row["received_key"] for row in rows_of_x)


def test_an_evicted_dossier_restarts_from_a_partial_state() -> None:
    processor = _processor(max_cached_dossiers=10)
    processor.process(
        _batch(*(line(received(f"r{i}", f"d{i}", "2024-06-03T08:00:00+07:00")) for i in range(30)))
    )
    assert processor.cached_dossiers <= 10
    late_sync = processor.process(
        _batch(line(event("dossier.synced", "s0", "d0", "2024-06-04T08:00:00+07:00")))
    )
    (row,) = late_sync.snapshots
    assert (
        row[0] == "d0" and row[3] == "" and row[14] == 1
    )  # no reception known here: the store merges
