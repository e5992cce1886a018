"""``sinks.reader.stepped_rows`` on both stores: hours, Vietnam days and months, summed in SQL.

Dossiers are placed around the midnight and month boundaries of Vietnam time, where a UTC
grouping would put them on the wrong day or month.
"""

from __future__ import annotations

import pytest

from pipeline.settings import Settings
from pipeline.windows import parse_time
from sinks import hourly, schema
from sinks.reader import hourly_rows, stepped_rows
from sinks.store import Store

pytestmark = pytest.mark.integration

COMMUNE = "H70.21.01"


def _received(dossier_id: str, at: str, channel: str) -> tuple[object, ...]:
    ts = parse_time(at)
    row = dict.fromkeys(schema.DOSSIER_STATE_COLUMNS, 0)
    row.update(dossier_id=dossier_id, unit_code=COMMUNE, procedure_code="1.000002",
               received_key=f"{ts:013d}|r-{dossier_id}", received_ms=ts, channel=channel,
               result_is_document=1, completed_key="", outcome="")  # fmt: skip
    return tuple(row[c] for c in schema.DOSSIER_STATE_COLUMNS)


@pytest.fixture
def loaded(store: Store, store_settings: Settings) -> str:
    rows = [
        _received("a", "2024-06-29T23:30:00+07:00", "online"),
        _received("b", "2024-06-30T00:10:00+07:00", "direct"),  # 2024-06-29 17:10 UTC
        _received("c", "2024-06-30T23:50:00+07:00", "online"),  # 16:50 UTC, still June 30
        _received("d", "2024-07-01T06:30:00+07:00", "online"),  # June 30 in UTC, July here
        _received("e", "2024-07-01T06:40:00+07:00", "direct"),
    ]
    store.insert(f"{store_settings.database}.dossier_state", schema.DOSSIER_STATE_COLUMNS, rows)
    hourly.refresh_dossiers(store, store_settings.database, rows)
    return store_settings.database


def _filing(rows: list[tuple[str, str, int, int, int]]) -> list[tuple[int, int, int]]:
    return [(ms, n, d) for unit, indicator, ms, n, d in rows if indicator == "online_filing"]


def test_days_and_months_are_vietnam_time(store: Store, loaded: str) -> None:
    start, end = parse_time("2024-06-01"), parse_time("2024-08-01")
    days = _filing(stepped_rows(store, loaded, start, end, "day"))
    assert days == [
        (parse_time("2024-06-29"), 1, 1),
        (parse_time("2024-06-30"), 1, 2),
        (parse_time("2024-07-01"), 1, 2),
    ]
    months = _filing(stepped_rows(store, loaded, start, end, "month"))
    assert months == [(parse_time("2024-06-01"), 2, 3), (parse_time("2024-07-01"), 1, 2)]


def test_hours_equal_the_hourly_rows(store: Store, loaded: str) -> None:
    start, end = parse_time("2024-06-01"), parse_time("2024-08-01")
    assert stepped_rows(store, loaded, start, end, "hour") == hourly_rows(store, loaded, start, end)
    july = _filing(stepped_rows(store, loaded, parse_time("2024-07-01"), end, "day"))
    assert july == [(parse_time("2024-07-01"), 1, 2)]
