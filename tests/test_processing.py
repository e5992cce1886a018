"""The batch processor: bad input becomes dead letters, duplicates make no rows, lateness by stream time."""

from __future__ import annotations

from pipeline.processing import BatchProcessor, Incoming
from pipeline.reference import load_reference
from pipeline.validation import validate_event
from pipeline.windows import parse_time
from tests.events_factory import event, line, received

REFERENCE = load_reference()
NOW_MS = parse_time("2024-07-01T00:00:00+07:00")


def _processor(**kw: int) -> BatchProcessor:
    return BatchProcessor(
        REFERENCE.result_is_document.__getitem__,
        lambda e, now: validate_event(e, REFERENCE, now),
        **kw,
    )


def _batch(*payloads: bytes) -> list[Incoming]:
    return [Incoming(p, f"dossier-events[0]@{i}") for i, p in enumerate(payloads)]


def test_bad_lines_become_dead_letters_with_their_bytes_source_and_reason() -> None:
    bad = [b"{not json", line(received("r1", "d1", "2024-06-03T08:00:00+07:00", unit_code="X99")),
           line({"type": "dossier.teleported", "event_id": "z"})]  # fmt: skip
    result = _processor().process(_batch(*bad), NOW_MS)
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
    one = processor.process(_batch(first, first), NOW_MS)
    two = processor.process(_batch(first, resent), NOW_MS)
    assert (one.accepted, one.unchanged, len(one.snapshots)) == (2, 1, 1)
    assert (two.accepted, two.unchanged, len(two.snapshots)) == (2, 2, 0)
    assert not one.dead_letters and not two.dead_letters


def test_one_snapshot_per_changed_dossier_per_batch() -> None:
    payloads = [
        line(received("r1", "d1", "2024-06-03T08:00:00+07:00")),
        line(event("dossier.synced", "s1", "d1", "2024-06-03T08:05:00+07:00")),
        line(received("r2", "d2", "2024-06-03T08:10:00+07:00")),
    ]
    result = _processor().process(_batch(*payloads), NOW_MS)
    assert sorted(row[0] for row in result.snapshots) == ["d1", "d2"]
    d1 = next(row for row in result.snapshots if row[0] == "d1")
    assert d1[14] == 1  # synced


def test_lateness_is_measured_against_stream_time_not_the_clock() -> None:
    processor = _processor(late_horizon_days=30)
    old = line(received("r0", "d0", "2023-01-01T08:00:00+07:00"))
    assert processor.process(_batch(old), NOW_MS).accepted == 1  # a replay of old data is fine
    processor.process(_batch(line(received("r1", "d1", "2024-06-03T08:00:00+07:00"))), NOW_MS)
    late = line(received("r2", "d2", "2024-05-03T07:00:00+07:00"))  # 31 days before stream time
    just_in = line(received("r3", "d3", "2024-05-05T08:00:00+07:00"))
    result = processor.process(_batch(late, just_in), NOW_MS)
    assert [d.kind for d in result.dead_letters] == ["too_late"]
    assert result.accepted == 1


def test_an_evicted_dossier_restarts_from_a_partial_state() -> None:
    processor = _processor(max_cached_dossiers=10)
    processor.process(
        _batch(*(line(received(f"r{i}", f"d{i}", "2024-06-03T08:00:00+07:00")) for i in range(30))),
        NOW_MS,
    )
    assert processor.cached_dossiers <= 10
    late_sync = processor.process(
        _batch(line(event("dossier.synced", "s0", "d0", "2024-06-04T08:00:00+07:00"))), NOW_MS
    )
    (row,) = late_sync.snapshots
    assert (
        row[0] == "d0" and row[3] == "" and row[14] == 1
    )  # no reception known here: the store merges
