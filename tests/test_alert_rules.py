"""Rules files: the shipped defaults load; every mistake is one line naming the rule and the field."""

from __future__ import annotations

import pytest

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
