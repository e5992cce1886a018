"""Pure parts of replay: reading an event's time cheaply, the window, file records, redrive plans."""

from __future__ import annotations

import pytest

from pipeline.redrive import plan_redrive
from pipeline.replay.records import Window, file_records, occurred_ms_of
from pipeline.windows import parse_time
from tests.events_factory import event, line, received
from tests.replay_helpers import REFERENCE

AT = "2024-06-03T08:15:00+07:00"
AT_MS = parse_time(AT)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (line(received("e1", "d1", AT)), AT_MS),
        (b'{"type": "dossier.synced", "occurred_at": "2024-06-03T01:15:00Z"}', AT_MS),
        (b'{"occurred_at":"2024-06-03T08:15:00.999+07:00"}', AT_MS + 999),
        (b'{"occurred_at":"2024-06-03T08:15:00"}', None),  # no offset: a bad event
        (b'{"occurred_at":"yesterday"}', None),
        (b'{"occurred_at": 17}', None),
        (b"not json at all", None),
        (b"\xff\xfe", None),
    ],
)
def test_occurred_ms_of(raw: bytes, expected: int | None) -> None:
    assert occurred_ms_of(raw) == expected


def test_the_window_reads_the_margin_around_the_range() -> None:
    window = Window(from_ms=1_000, to_ms=2_000, margin_ms=100)
    assert (window.read_from_ms, window.read_to_ms) == (900, 2_100)
    assert [window.contains(t) for t in (899, 900, 2_099, 2_100, None)] == [
        False,
        True,
        True,
        False,
        True,
    ]
    assert Window().is_everything and Window().contains(0)
    assert Window(from_ms=1_000, margin_ms=0).contains(10**15)


def test_file_records_name_lines_skip_blanks_and_cap_the_record_time() -> None:
    future = line(event("dossier.synced", "f", "d9", "2090-01-01T00:00:00+07:00"))
    lines = [line(received("e1", "d1", AT)) + b"\n", b"\n", b"broken\r\n", future]
    now_ms = AT_MS + 5_000
    batches = list(file_records(lines, "x.jsonl", now_ms, Window(), batch_size=2))
    assert [(len(records), skipped) for records, skipped in batches] == [(2, 0), (1, 0)]
    records = [r for records, _ in batches for r in records]
    assert [(source, ts) for _, source, ts in records] == [
        ("x.jsonl:1", AT_MS),  # the event's own time
        ("x.jsonl:3", now_ms),  # unreadable time: the replay's start
        ("x.jsonl:4", now_ms),  # later than the start: capped, so the far-future check applies
    ]
    assert records[1][0] == b"broken"
    inside = Window(from_ms=AT_MS, to_ms=AT_MS + 1, margin_ms=0)
    got = list(file_records(lines, "x.jsonl", now_ms, inside, batch_size=10))
    assert [(len(r), skipped) for r, skipped in got] == [(2, 1)]  # the 2090 line is outside


def test_a_redrive_plan_resends_what_passes_now_and_keeps_what_fails() -> None:
    good = line(received("e1", "d1", AT, channel="online"))
    payment = line(event("payment.succeeded", "p1", "d1", AT, amount=5, method="cash"))
    unknown = line(received("e2", "d2", AT, unit_code="H00.99"))
    plan = plan_redrive(
        [("a", good), ("b", unknown), ("c", payment)],
        REFERENCE,
        now_ms=AT_MS,
        late_horizon_days=400,
    )
    assert [(r.letter, r.topic, r.key, r.value, r.record_ms) for r in plan.resend] == [
        ("a", "dossier-events", b"d1", good, AT_MS),
        ("c", "payment-events", b"d1", payment, AT_MS),
    ]
    assert [(letter, problem.kind) for letter, problem in plan.still_failing] == [
        ("b", "unknown_unit")
    ]
