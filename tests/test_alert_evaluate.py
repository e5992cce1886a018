"""The evaluator on hand-made facts: holiday and office-hour muting, stalled feeds, dead-letter surges, drops."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.alerts.calendar import (
    OfficeHours,
    holiday_name,
    is_office_day,
    is_office_hour,
    office_minutes_between,
)
from pipeline.alerts.evaluate import Evaluator
from pipeline.alerts.history import History
from pipeline.alerts.rules import parse_rules
from pipeline.alerts.state import Transition
from pipeline.reference import load_reference
from pipeline.windows import HOUR_MS, parse_time, rfc3339

REFERENCE = load_reference()
DISTRICT = "H70.22"
COMMUNE = "H70.22.01"  # received here, rolls up to the district


def run(rules_yaml: str, history: History, start: str, end: str) -> list[Transition]:
    evaluator = Evaluator(parse_rules(rules_yaml), REFERENCE)
    states: dict = {}
    out = []
    for at in range(parse_time(start), parse_time(end) + 1, HOUR_MS):
        changed, moved = evaluator.evaluate(history.facts(evaluator.needs(at)), states, at)
        states.update({(s.rule, s.unit_code): s for s in changed})
        out.extend(moved)
    return out


def office_hours_rows(
    first: str, days: int, rate_of_day: dict[str, float], per_hour: int = 20
) -> list:
    """online_payment rows at COMMUNE for every hour 07:00-17:00 of ``days`` days from ``first``."""
    rows = []
    start = parse_time(first)
    for day in range(days):
        for hour in range(7, 17):
            bucket = start + day * 24 * HOUR_MS + hour * HOUR_MS
            rate = rate_of_day.get(rfc3339(bucket)[:10], 0.7)
            rows.append((COMMUNE, "online_payment", bucket, round(rate * per_hour), per_hour))
    return rows


BELOW = """
rules:
  - name: pay-low
    kind: below
    indicator: online_payment
    scope: {units: [H70.22]}
    window: 2h
    lateness: 0h
    min_denominator: 20
    below: 0.3
    recover_above: 0.5
"""


def test_calendar_table() -> None:
    assert holiday_name(date(2025, 1, 29)) == "Tết Nguyên đán"
    assert not is_office_day(date(2024, 4, 29)) and is_office_day(
        date(2024, 5, 4)
    )  # bridge, make-up
    assert not is_office_day(date(2024, 6, 8))  # a Saturday
    office = OfficeHours()
    assert is_office_hour(parse_time("2024-06-03T07:00:00+07:00"), office)  # 07:30 falls inside
    assert not is_office_hour(parse_time("2024-06-03T17:00:00+07:00"), office)
    # Friday 16:00 to Monday 08:00: 60 + 30 office minutes.
    friday = parse_time("2024-06-07T16:00:00+07:00")
    assert office_minutes_between(friday, parse_time("2024-06-10T08:00:00+07:00"), office) == 90


def test_holidays_are_muted() -> None:
    # The rate collapses on 29 April (a bridge holiday), 30 April, 1 May (holidays) and 2 May.
    low = {"2024-04-29": 0.1, "2024-04-30": 0.1, "2024-05-01": 0.1, "2024-05-02": 0.1}
    history = History(
        parse_time("2024-04-20"), parse_time("2024-05-04"), office_hours_rows("2024-04-26", 8, low)
    )
    fired = [t for t in run(BELOW, history, "2024-04-26", "2024-05-03") if t.state == "firing"]
    assert [rfc3339(t.at_ms)[:10] for t in fired] == ["2024-05-02"]
    # The same rule without muting fires on the first low day.
    unmuted = run(BELOW + "    mute: []\n", history, "2024-04-26", "2024-05-03")
    assert rfc3339(unmuted[0].at_ms).startswith("2024-04-29")


def test_outside_office_hours_nothing_fires_or_resolves() -> None:
    # Low on Monday 3 June, good again on Tuesday: it fires Monday and resolves Tuesday morning,
    # not during the night (no volume and muted).
    history = History(
        parse_time("2024-05-30"),
        parse_time("2024-06-06"),
        office_hours_rows("2024-06-03", 2, {"2024-06-03": 0.1}),
    )
    moves = [(t.state, rfc3339(t.at_ms)) for t in run(BELOW, history, "2024-06-03", "2024-06-05")]
    assert moves == [
        ("firing", "2024-06-03T08:00:00+07:00"),
        ("resolved", "2024-06-04T08:00:00+07:00"),
    ]


def test_drop_compares_with_the_median_of_the_same_hours_of_past_weeks() -> None:
    rules = """
rules:
  - name: pay-drop
    kind: drop
    indicator: online_payment
    scope: {units: [H70.22]}
    window: 2h
    lateness: 0h
    min_denominator: 20
    drop: 30pp
    recover_within: 10pp
"""
    # Four Mondays at 0.7, 0.8, 0.6 and 0.1 (an outage, outvoted by the median), then 0.3.
    days = {
        "2024-05-06": 0.7,
        "2024-05-13": 0.8,
        "2024-05-20": 0.6,
        "2024-05-27": 0.1,
        "2024-06-03": 0.3,
    }
    rows = [r for d in days for r in office_hours_rows(d, 1, days)]
    history = History(parse_time("2024-05-01"), parse_time("2024-06-05"), rows)
    moves = run(rules, history, "2024-06-03", "2024-06-03T12:00:00+07:00")
    assert moves[0].state == "firing"
    assert moves[0].baseline == pytest.approx(0.65) and moves[0].value == pytest.approx(
        0.3
    )  # median of 0.6, 0.7, 0.8, 0.1
    # Without past weeks there is no baseline, hence no judgement.
    alone = History(
        parse_time("2024-05-01"), parse_time("2024-06-05"), office_hours_rows("2024-06-03", 1, days)
    )
    assert run(rules, alone, "2024-06-03", "2024-06-03T12:00:00+07:00") == []


STALLED = """
rules:
  - name: payments-stalled
    kind: stalled
    topic: payment-events
    minutes: 90
    lateness: 0h
"""


def test_stalled_counts_office_minutes_since_the_last_event() -> None:
    # Payments every hour until Monday 10:xx, then nothing until Tuesday 09:xx.
    hours = []
    for day, last_hour, first_hour in (("2024-06-03", 10, 7), ("2024-06-04", 16, 9)):
        for hour in range(first_hour, last_hour + 1):
            bucket = parse_time(day) + hour * HOUR_MS
            hours.append(("payment-events", bucket, 5, bucket + 1_800_000))
    history = History(parse_time("2024-05-27"), parse_time("2024-06-05"), [], hours)
    moves = [
        (t.state, rfc3339(t.at_ms), t.value)
        for t in run(STALLED, history, "2024-06-03T08:00:00+07:00", "2024-06-04T12:00:00+07:00")
    ]
    # Last event 10:30; 90 office minutes later is 12:00 => judged at the 12:00 instant.
    assert moves == [
        ("firing", "2024-06-03T12:00:00+07:00", 90.0),
        ("resolved", "2024-06-04T10:00:00+07:00", 30.0),
    ]


def test_dead_letter_surge() -> None:
    rules = """
rules:
  - name: surge
    kind: dead_letter_surge
    window: 1h
    lateness: 0h
    min_messages: 100
    above: 0.05
    recover_below: 0.02
"""
    monday = parse_time("2024-06-03")
    topic_hours = [
        ("dossier-events", monday + h * HOUR_MS, 1000, monday + h * HOUR_MS) for h in range(8, 12)
    ]
    dead = [(monday + 9 * HOUR_MS, 80), (monday + 10 * HOUR_MS, 30), (monday + 11 * HOUR_MS, 10)]
    history = History(monday - 7 * 24 * HOUR_MS, monday + 24 * HOUR_MS, [], topic_hours, dead)
    moves = [
        (t.state, rfc3339(t.at_ms))
        for t in run(rules, history, "2024-06-03T09:00:00+07:00", "2024-06-03T12:00:00+07:00")
    ]
    # 80/1080 at 10:00 fires, 30/1030 (2.9%) holds (hysteresis), 10/1010 resolves.
    assert moves == [
        ("firing", "2024-06-03T10:00:00+07:00"),
        ("resolved", "2024-06-03T12:00:00+07:00"),
    ]
