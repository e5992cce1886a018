"""The ``replays`` table tells the alert evaluator when to stay quiet, on both stores."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.settings import Settings
from sinks.replays import STALE_RUNNING_MS, ReplayRow, notifications_muted, record_replay
from sinks.store import Store

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
NOW_MS = 1_800_000_000_000


def _row(replay_id: str, **fields: int) -> ReplayRow:
    values = {"from_ms": 0, "to_ms": 0, "notify": 0, "created_namespace": 0,
              "started_ms": NOW_MS - HOUR_MS} | fields  # fmt: skip
    return ReplayRow(replay_id=replay_id, source="kafka", **values)


def test_a_running_replay_mutes_then_its_end_unmutes(
    store: Store, store_settings: Settings
) -> None:
    database = store_settings.database
    assert not notifications_muted(store, database, NOW_MS)
    running = record_replay(store, database, _row("a"))
    assert notifications_muted(store, database, NOW_MS)
    record_replay(store, database, replace(running, finished_ms=NOW_MS))
    assert not notifications_muted(store, database, NOW_MS)


def test_notify_never_mutes_and_a_created_namespace_stays_muted(
    store: Store, store_settings
) -> None:  # type: ignore[no-untyped-def]
    database = store_settings.database
    record_replay(store, database, _row("n", notify=1, created_namespace=1))
    assert not notifications_muted(store, database, NOW_MS)
    record_replay(store, database, _row("c", created_namespace=1, finished_ms=NOW_MS))
    assert notifications_muted(store, database, NOW_MS + 365 * 24 * HOUR_MS)


def test_a_crashed_replay_stops_muting_after_a_day(store: Store, store_settings: Settings) -> None:
    database = store_settings.database
    record_replay(store, database, _row("crashed", started_ms=NOW_MS - STALE_RUNNING_MS - 1))
    assert not notifications_muted(store, database, NOW_MS)
