"""The as-of counts read from the dossier state equal the oracle's independent recomputation.

Events go through the worker's decision core into the store (``sinks/load.py``), on the
ClickHouse server and on chdb, and the counts ``sinks/asof.py`` evaluates at several moments
are compared with ``tests/oracle.as_of_counts`` over the same lines. The moments straddle a
period edge: a dossier due on the last evening of June is on time until its due time passes
and overdue at the month's end, with no event in between.
"""

from __future__ import annotations

import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.generator import Noise, generate_lines
from pipeline.reference import load_reference
from pipeline.scoring.state_inputs import state_counts
from pipeline.settings import Settings
from pipeline.windows import period_bounds
from sinks.asof import dossier_rows, feedback_rows
from sinks.load import load_lines
from sinks.store import Store
from tests import oracle
from tests.events_factory import event, line, received

pytestmark = pytest.mark.integration

REFERENCE = load_reference()
NOW_MS = int(datetime.fromisoformat("2024-09-01T00:00:00+07:00").timestamp() * 1000)
JUNE = period_bounds("2024-06")


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _edge_lines() -> list[bytes]:
    """Hand-made dossiers around the end of June (unit H70.07, a document procedure)."""
    due_evening = "2024-06-30T20:00:00+07:00"
    events: list[dict[str, Any]] = [
        # p: pending, due on the last evening of June; completed late on 1 July.
        received("p/0", "p", "2024-06-10T09:00:00+07:00", due_at=due_evening),
        event("dossier.completed", "p/1", "p", "2024-07-01T08:00:00+07:00", outcome="approved"),
        # q: received on the last afternoon, due in July: on time at the month's end.
        received("q/0", "q", "2024-06-30T15:00:00+07:00", due_at="2024-07-02T17:00:00+07:00"),
        # r: one supplement request before its due time, completed well after it: on time.
        received("r/0", "r", "2024-06-03T09:00:00+07:00", due_at="2024-06-05T17:00:00+07:00"),
        event(
            "dossier.supplement_requested",
            "r/1",
            "r",
            "2024-06-04T10:00:00+07:00",
            reason="Thiếu chữ ký",
        ),  # fmt: skip
        event("dossier.completed", "r/2", "r", "2024-06-14T10:00:00+07:00", outcome="approved"),
        # s: two supplement requests: overdue once the second is known.
        received("s/0", "s", "2024-06-03T09:00:00+07:00", due_at="2024-06-28T17:00:00+07:00"),
        event("dossier.supplement_requested", "s/1", "s", "2024-06-04T10:00:00+07:00", reason="a"),
        event("dossier.supplement_requested", "s/2", "s", "2024-06-20T10:00:00+07:00", reason="b"),
        # the same request re-sent under a new id: one request, not two
        event(
            "dossier.supplement_requested",
            "r/9",
            "r",
            "2024-06-04T10:00:00+07:00",
            reason="Thiếu chữ ký",
        ),  # fmt: skip
        # u: a complaint due on the last evening, never answered; an unhappy rating on 25 June.
        received("u/0", "u", "2024-05-20T09:00:00+07:00", due_at="2024-05-22T17:00:00+07:00"),
        event(
            "feedback.received",
            "u/1",
            "u",
            "2024-06-10T09:00:00+07:00",
            feedback_id="u/f",
            due_at=due_evening,
        ),  # fmt: skip
        event("dossier.rated", "u/2", "u", "2024-06-25T09:00:00+07:00", satisfied=False),
    ]
    return [line(e) for e in events]


def _lines() -> list[bytes]:
    generated = generate_lines(REFERENCE, start=date(2024, 5, 20), days=48, profile="tiny",
                               noise=Noise(duplicates=0.05, disorder=0.1))  # fmt: skip
    lines = [raw.encode() for raw in generated] + _edge_lines()
    random.Random(11).shuffle(lines)
    return lines


LINES = _lines()
MOMENTS = (
    ms("2024-06-15T12:00:00+07:00"),
    ms("2024-06-30T19:59:59+07:00"),
    ms("2024-06-30T20:00:00+07:00"),
    ms("2024-06-30T20:00:00.001+07:00"),
    JUNE[1],
    ms("2024-07-20T00:00:00+07:00"),
)


@pytest.fixture
def loaded(store: Store, store_settings: Settings) -> Settings:
    # Twice, the second time reversed: snapshots of every order and duplicate merge.
    load_lines(store, store_settings.database, LINES, REFERENCE, record_ms=NOW_MS)
    load_lines(store, store_settings.database, LINES[::-1], REFERENCE, record_ms=NOW_MS)
    return store_settings


def _expected(as_of_ms: int, judge_ms: int | None = None) -> oracle.AsOfCounts:
    events, _ = oracle.accepted_events(
        LINES, units=REFERENCE.unit_codes, known_procedures=REFERENCE.procedure_codes,
        record_ms=NOW_MS,
    )  # fmt: skip
    return oracle.as_of_counts(events, start_ms=JUNE[0], end_ms=JUNE[1], as_of_ms=as_of_ms,
                               result_is_document=REFERENCE.result_is_document,
                               judge_ms=judge_ms)  # fmt: skip


def _stored(store: Store, database: str, as_of_ms: int, judge_ms: int | None = None) -> Any:
    return state_counts(
        dossier_rows(store, database, *JUNE, as_of_ms, judge_ms),
        feedback_rows(store, database, *JUNE, as_of_ms, judge_ms),
    )


def _as_pairs(counts: Any) -> dict[str, dict[str, tuple[int, int]]]:
    return {
        unit: {key: (c.numerator, c.denominator) for key, c in per.items()}
        for unit, per in counts.leaf.items()
    }


@pytest.mark.parametrize("as_of_ms", MOMENTS)
def test_as_of_counts_equal_the_oracle(loaded: Settings, store: Store, as_of_ms: int) -> None:
    got = _stored(store, loaded.database, as_of_ms)
    want = _expected(as_of_ms)
    assert _as_pairs(got) == {
        unit: {key: (n, d) for key, (n, d) in per.items()} for unit, per in want.counts.items()
    }
    for unit, seen in got.activity.items():
        assert set(seen.online) == want.online.get(unit, set())
        assert set(seen.with_fee) == want.with_fee.get(unit, set())
        assert set(seen.paid_online) == want.paid_online.get(unit, set())
    assert set(want.online) <= set(got.activity)


def test_projection_judges_pending_dossiers_at_the_period_end(
    loaded: Settings, store: Store
) -> None:
    as_of_ms = MOMENTS[0]
    got = _stored(store, loaded.database, as_of_ms, judge_ms=JUNE[1])
    want = _expected(as_of_ms, judge_ms=JUNE[1])
    assert _as_pairs(got) == {
        unit: {key: (n, d) for key, (n, d) in per.items()} for unit, per in want.counts.items()
    }


def test_the_last_evening_of_the_month() -> None:
    """Hand-checked: the edge dossiers of unit H70.07 alone (p, q, r, s received in June)."""
    edge = _edge_lines()
    events, _ = oracle.accepted_events(edge, units=None, known_procedures=REFERENCE.procedure_codes,
                                       record_ms=NOW_MS)  # fmt: skip

    def verdicts(as_of_ms: int) -> dict[str, tuple[int, int]]:
        counts = oracle.as_of_counts(events, start_ms=JUNE[0], end_ms=JUNE[1], as_of_ms=as_of_ms,
                                     result_is_document=REFERENCE.result_is_document)  # fmt: skip
        per = counts.counts["H70.07"]
        return {key: (n, d) for key, (n, d) in per.items() if key.endswith("on_time")}

    # 19:59:59 on 30 June: p not yet due, q received, r ended at its request, s twice asked.
    assert verdicts(ms("2024-06-30T19:59:59+07:00")) == {
        "on_time": (3, 4),
        "feedback_on_time": (1, 1),
    }
    # 20:00:00: the due time itself has not passed yet.
    assert verdicts(ms("2024-06-30T20:00:00+07:00")) == {
        "on_time": (3, 4),
        "feedback_on_time": (1, 1),
    }
    # One millisecond later, and at the month's end: p and u's complaint are overdue.
    assert verdicts(ms("2024-06-30T20:00:00.001+07:00")) == {
        "on_time": (2, 4),
        "feedback_on_time": (0, 1),
    }
    assert verdicts(JUNE[1]) == {"on_time": (2, 4), "feedback_on_time": (0, 1)}
    # 15 June: s has one request so far (ended on time), q not received yet.
    assert verdicts(ms("2024-06-15T12:00:00+07:00")) == {
        "on_time": (3, 3),
        "feedback_on_time": (1, 1),
    }


def test_migration_4_upgrades_a_store_that_has_snapshots(store_settings: Settings) -> None:
    """Snapshots written before schema 4 read as "no clock facts yet" after the upgrade."""
    from sinks import schema
    from sinks.store import open_store

    opened = open_store(store_settings)
    db = store_settings.database
    try:
        opened.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
        opened.execute(
            f"CREATE TABLE {db}.schema_version (version UInt32, description String, "
            "applied_ms UInt64) ENGINE = MergeTree() ORDER BY version"
        )
        for version, description, statements in schema.MIGRATIONS:
            if version > 2:
                continue
            for statement in statements:
                assert isinstance(statement, str)
                opened.execute(statement.format(db=db, tz=schema.TZ))
            opened.insert(f"{db}.schema_version", ("version", "description", "applied_ms"),
                          [(version, description, 0)])  # fmt: skip
        old_columns = schema.DOSSIER_STATE_COLUMNS[:16]
        at = ms("2024-06-03T08:00:00+07:00")
        opened.insert(f"{db}.dossier_state", old_columns,
                      [("old", "H70.07", "1.000002", f"{at:013d}|r", at, "online", 0, 1,
                        "", 0, "", 0, 1, 0, 1, 0)])  # fmt: skip
        assert 4 in schema.migrate(opened, db)
        rows = opened.query(
            f"SELECT dossier_id, due_at_ms, supplement_times, feedback_at_ms, any_digitized "
            f"FROM {db}.dossier_timeline"
        )
        assert [tuple(r) for r in rows] == [("old", 0, [], 0, 1)]
        # A pending dossier without a due time is overdue as soon as it is judged.
        counts = state_counts(dossier_rows(opened, db, *JUNE, JUNE[1]), [])
        assert counts.leaf["H70.07"]["on_time"].numerator == 0
    finally:
        schema.drop(opened, db)
        opened.close()


def test_the_worker_keeps_the_clocks_from_all_three_topics(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """Through Kafka and the real worker: complaints arrive on the feedback topic, ratings and
    supplement requests on the dossier topic; the stored as-of counts equal the oracle's."""
    from pipeline import broker
    from sinks import schema
    from sinks.store import open_store
    from tests import stream_harness as harness

    settings = kafka_settings.replace(store="server", partitions=4)
    assert broker.topic_for_type("feedback.received") == broker.FEEDBACK_EVENTS
    assert broker.FEEDBACK_EVENTS in broker.INPUT_TOPICS
    worker = harness.start_worker(settings, tmp_path / "worker.log")
    try:
        harness.produce(settings, [(line, NOW_MS) for line in LINES], keying="dossier")
        harness.wait_until_consumed(settings, [worker])
    finally:
        harness.stop(worker)
    opened = open_store(settings)
    try:
        got = _stored(opened, settings.database, JUNE[1])
    finally:
        schema.drop(opened, settings.database)
        opened.close()
    want = _expected(JUNE[1])
    assert _as_pairs(got) == {
        unit: {key: (n, d) for key, (n, d) in per.items()} for unit, per in want.counts.items()
    }
    assert sum(d for per in want.counts.values() for k, (_, d) in per.items()
               if k == "feedback_on_time") >= 2  # fmt: skip


def test_folding_in_memory_stores_the_same_state(store: Store, store_settings: Settings) -> None:
    """``load_folded`` (calibration's fast path) gives the oracle's counts too."""
    from sinks.load import load_folded

    assert load_folded(store, store_settings.database, LINES, REFERENCE) == len(LINES)
    got = _stored(store, store_settings.database, JUNE[1])
    want = _expected(JUNE[1])
    assert _as_pairs(got) == {
        unit: {key: (n, d) for key, (n, d) in per.items()} for unit, per in want.counts.items()
    }


def test_migration_4_can_run_again(store: Store, store_settings: Settings) -> None:
    """A second worker that read the old schema version and migrates after the first: its
    ALTERs find the columns there and change nothing (18.16 has no ADD COLUMN IF NOT EXISTS)."""
    from sinks import schema

    (steps,) = [statements for version, _, statements in schema.MIGRATIONS if version == 4]
    for step in steps:
        if isinstance(step, schema.Unless):
            schema._apply_unless(store, step, store_settings.database)
        else:
            store.execute(step.format(db=store_settings.database, tz=schema.TZ))
    rows = store.query(
        f"SELECT count() FROM system.columns WHERE database = '{store_settings.database}' "
        "AND table = 'dossier_state' AND name = 'due_ms'"
    )
    assert int(rows[0][0]) == 1
