"""Rules files: the shipped defaults load; every mistake is one line naming the rule and the field."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboards.alert_rules import HOLIDAYS, OUTSIDE_OFFICE, render_alert_rules
from pipeline.alerts.calendar import holiday_name, is_office_day
from pipeline.alerts.rules import Change, load_rules, parse_rules
from pipeline.errors import ConfigError
from pipeline.reference import load_reference

GOOD = """
office_hours: "08:00-16:30"
rules:
  - name: pay-drop
    kind: drop
    indicator: online_payment
    scope: {level: district}
    drop: 30%
    recover_within: 10%
    for: 2h
    keep_firing_for: 120m
  - name: low
    kind: below
    indicator: digitization
    scope: {units: [H70.22]}
    below: 0.3
    recover_above: 0.4
    mute: []
"""


def test_shipped_defaults_load_against_the_demo_province() -> None:
    reference = load_reference()
    ruleset = load_rules(None, reference.unit_codes, reference.levels)
    kinds = {rule.kind for rule in ruleset.rules}
    assert kinds == {"below", "drop", "stalled", "dead_letter_surge"}


def test_fields_are_read() -> None:
    ruleset = parse_rules(GOOD)
    assert ruleset.office.start_min == 480 and ruleset.office.end_min == 990
    drop = ruleset.rule("pay-drop")
    assert drop.drop == Change(30, "%") and drop.for_hours == 2 and drop.keep_firing_for_hours == 2
    assert drop.drop.floor(0.5) == pytest.approx(0.35)
    low = ruleset.rule("low")
    assert low.scope.units == ("H70.22",)
    assert not low.mute_outside_office_hours and not low.mute_on_holidays


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("kind: drop", "rule 'pay-drop': field 'kind': expected one of"),
        ("indicator: online_payment", "field 'indicator': expected one of"),
        ("drop: 30%", "field 'drop': expected percentage points"),
        ("for: 2h", "field 'for': '90m' is not whole hours"),
        ("scope: {level: district}", "field 'scope': unknown level 'region'"),
        ("recover_within: 10%", "field 'recover_within': use the same unit"),
        ("keep_firing_for: 120m", "field 'keep_firing_for': expected a duration"),
    ],
)
def test_one_line_errors_name_rule_and_field(change: str, message: str) -> None:
    bad = {
        "kind: drop": "kind: dip",
        "indicator: online_payment": "indicator: happiness",
        "drop: 30%": "drop: lots",
        "for: 2h": "for: 90m",
        "scope: {level: district}": "scope: {level: region}",
        "recover_within: 10%": "recover_within: 10pp",
        "keep_firing_for: 120m": "keep_firing_for: soon",
    }[change]
    reference = load_reference()
    with pytest.raises(ConfigError) as error:
        parse_rules(
            GOOD.replace(change, bad, 1), "mine.yaml", reference.unit_codes, reference.levels
        )
    text = str(error.value)
    assert "\n" not in text and text.startswith("rules file mine.yaml: ")
    assert message in text


def test_unknown_field_unknown_unit_and_duplicates() -> None:
    reference = load_reference()
    with pytest.raises(ConfigError, match="rule 'low': field 'treshold': not a field"):
        parse_rules(GOOD + "    treshold: 3\n")
    with pytest.raises(ConfigError, match="unknown unit 'H99'"):
        parse_rules(GOOD.replace("[H70.22]", "[H99]"), "x", reference.unit_codes, reference.levels)
    with pytest.raises(ConfigError, match="duplicate name"):
        parse_rules(GOOD.replace("name: low", "name: pay-drop"))
    with pytest.raises(ConfigError, match="line 3"):
        parse_rules("rules:\n  - name: [\n  x: y: z\n")


# --- Grafana's mute timings say what the chiso766 evaluator says -------------------------------

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _in_ranges(value: int, ranges: list[str], names: list[str] | None = None) -> bool:
    """Grafana's list of inclusive ranges ("1:3", "5", "monday:friday") holds ``value``."""
    for text in ranges:
        low, _, high = text.partition(":")
        bounds = [names.index(b) if names else int(b) for b in (low, high or low)]
        if bounds[0] <= value <= bounds[1]:
            return True
    return False


def _matches(interval: dict[str, object], moment: datetime) -> bool:
    """Does one Grafana time interval hold ``moment`` (every field it has must hold)?"""
    local = moment.astimezone(ZoneInfo(str(interval["location"])))
    minute = local.hour * 60 + local.minute
    for field, value in interval.items():
        if field == "times":
            spans = [
                (_minutes(span["start_time"]), _minutes(span["end_time"]))
                for span in value  # type: ignore[attr-defined]
            ]
            if not any(start <= minute < end for start, end in spans):
                return False
        elif (
            field == "weekdays"
            and not _in_ranges(local.weekday(), value, _WEEKDAYS)
            or field == "days_of_month"
            and not _in_ranges(local.day, value)
            or field == "months"
            and not _in_ranges(local.month, value)
            or field == "years"
            and not _in_ranges(local.year, value)
        ):  # type: ignore[arg-type]
            return False
    return True


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def test_grafana_mutes_exactly_when_the_evaluator_does_not_judge() -> None:
    """For every day 2024-2030 at the edges of office hours: the two mute timings of the
    provisioning hold a moment exactly when the evaluator's calendar says it is outside office
    time (make-up Saturdays included) or a public day off (the law's estimate after 2027)."""
    reference = load_reference()
    ruleset = load_rules(None, reference.unit_codes, reference.levels)
    document = render_alert_rules(ruleset, reference, "db")
    mutes = {mute["name"]: mute["time_intervals"] for mute in document["muteTimes"]}  # type: ignore[index, union-attr]
    office = ruleset.office
    vietnam = ZoneInfo("Asia/Ho_Chi_Minh")
    day = date(2024, 1, 1)
    while day.year <= 2030:
        for minute in (
            0,
            office.start_min - 1,
            office.start_min,
            720,
            office.end_min - 1,
            office.end_min,
        ):
            moment = datetime(day.year, day.month, day.day, tzinfo=vietnam) + timedelta(
                minutes=minute
            )
            working = (
                is_office_day(day, holidays_closed=False)
                and office.start_min <= minute < office.end_min
            )
            outside = any(_matches(i, moment) for i in mutes[OUTSIDE_OFFICE])
            holiday = any(_matches(i, moment) for i in mutes[HOLIDAYS])
            assert outside is not working, (moment, outside)
            assert holiday is (holiday_name(day) is not None), (moment, holiday)
        day += timedelta(days=1)
