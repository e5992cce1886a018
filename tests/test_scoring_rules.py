"""Point rules, rounding and group assembly of the 766 engine: table-driven edge cases.

Expected values are worked by hand from the rule (``min(max, max * rate / full_at)``, rounded
half up on the exact double) or read from the portal captures in shared/data/portal-766
(cited per row)."""

from __future__ import annotations

import pytest

from pipeline.scoring.groups import (
    DIGITIZATION,
    GROUPS,
    PAYMENT,
    PROGRESS,
    SATISFACTION,
    TOTAL_MAX_POINTS,
    TRANSPARENCY,
    group_by_id,
    indicator_by_id,
    indicator_by_portal_code,
)
from pipeline.scoring.rules import (
    Counts,
    EmptyDenominator,
    PointRule,
    Rate,
    points,
    raw_points,
    round_half_up,
    sum_points,
)
from pipeline.scoring.score import NotAvailable, score_card, score_group, score_indicator

FULL = EmptyDenominator.FULL
ZERO = EmptyDenominator.ZERO


@pytest.mark.parametrize(
    ("rule", "numerator", "denominator", "expected"),
    [
        # proportional
        (PointRule(6), 0, 10, 0.0),
        (PointRule(6), 5, 10, 3.0),
        (PointRule(6), 10, 10, 6.0),
        (PointRule(20), 1, 3, 6.67),
        # cap: a numerator above the denominator never earns more than the maximum
        (PointRule(6), 15, 10, 6.0),
        # full at a threshold: linear up to it, flat after it
        (PointRule(2, full_at_pct=80), 40, 100, 1.0),
        (PointRule(2, full_at_pct=80), 79, 100, 1.98),
        (PointRule(2, full_at_pct=80), 80, 100, 2.0),
        (PointRule(2, full_at_pct=80), 95, 100, 2.0),
        (PointRule(6, full_at_pct=90), 89, 100, 5.93),
        (PointRule(6, full_at_pct=90), 90, 100, 6.0),
        (PointRule(6, full_at_pct=50), 1, 2, 6.0),
        # empty denominators: the indicator's policy decides, never a division
        (PointRule(6), 0, 0, 0.0),
        (PointRule(6, if_empty=ZERO, full_at_pct=90), 0, 0, 0.0),
        (PointRule(6, if_empty=FULL), 0, 0, 6.0),
        (PointRule(2, full_at_pct=80, if_empty=FULL), 0, 0, 2.0),
        # FULL applies to empty only: a unit with complaints, none on time, scores 0
        (PointRule(6, if_empty=FULL), 0, 5, 0.0),
        # a monitoring weight of 0 stays 0
        (PointRule(0), 3, 4, 0.0),
    ],
)
def test_point_rule(rule: PointRule, numerator: int, denominator: int, expected: float) -> None:
    assert points(rule, Counts(numerator, denominator)) == expected


@pytest.mark.parametrize(
    ("indicator_id", "numerator", "denominator", "expected", "seen_in"),
    [
        ("5.3", 486, 588, 5.51, "handling-satisfaction/month-all.json H44.03 (full at 90%)"),
        ("5.3", 0, 0, 0.0, "handling-satisfaction/month-all.json H44.01 (empty -> 0)"),
        ("5.1", 0, 0, 6.0, "handling-satisfaction/month-all.json H44.01 (no PAKN -> 6)"),
        ("5.1", 182, 247, 4.42, "handling-satisfaction/month-all.json province"),
        ("5.2", 137, 247, 3.33, "handling-satisfaction/month-all.json province"),
        ("3.3", 3600, 153410, 0.06, "dossier-digitized/month-all.json province (full at 80%)"),
        ("3.2", 19782, 153410, 0.52, "dossier-digitized/month-all.json province (to 100%)"),
        ("3.1", 90222, 153410, 3.53, "dossier-digitized/month-all.json province"),
        ("3.6", 279, 1300, 0.43, "dossier-digitized/month-all.json province"),
        ("1.3", 87, 89, 1.96, "transparency/month-all.json"),
        ("1.4", 0, 0, 0.0, "transparency/month-all.json H44.01 (score null -> 0)"),
        ("2.1", 144625, 184513, 15.68, "dvc-progress-tree/month-all.json province"),
        ("2.1", 0, 0, 0.0, "dvc-progress-tree/month-all.json H44.01"),
        # the payment rate is rounded to 0.01% first: 78.2493% -> 78.25% -> 4.695 -> 4.70
        ("4.6", 295, 377, 4.7, "formality-online-payment-tree/month-all.json H44.144"),
        ("4.6", 0, 0, 0.0, "formality-online-payment-tree/month-all.json H44.19"),
        ("4.5", 1, 1, 2.0, "cap: 100% > 80%"),
    ],
)
def test_indicator_rule_reproduces_portal(
    indicator_id: str, numerator: int, denominator: int, expected: float, seen_in: str
) -> None:
    rule = indicator_by_id(indicator_id).rule
    assert rule is not None
    assert points(rule, Counts(numerator, denominator)) == expected, seen_in


def test_payment_rate_rounding_changes_the_published_points() -> None:
    """Without the 0.01% rate rounding, H44.144's 4.6 would be 4.69, not the portal's 4.70."""
    rule = indicator_by_id("4.6").rule
    assert rule is not None
    unrounded = PointRule(rule.max_points, rule.full_at_pct, rule.if_empty, None)
    assert points(unrounded, Counts(295, 377)) == 4.69
    assert points(rule, Counts(295, 377)) == 4.70


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5.925, 5.92),  # the double is 5.92499999...: the portal publishes 5.92 (H44.156)
        (3.945, 3.94),  # 3.94499999... (formality-online-payment-tree H44.197)
        (0.125, 0.13),  # an exact binary tie rounds up
        (0.375, 0.38),
        (2.675, 2.67),
        (0.8252, 0.83),
        (0.004999, 0.0),
        (6.0, 6.0),
    ],
)
def test_round_half_up_on_the_exact_double(value: float, expected: float) -> None:
    assert round_half_up(value, 2) == expected


def test_rate_only_input_scores_like_counts() -> None:
    rule = indicator_by_id("3.7").rule
    assert rule is not None
    assert points(rule, Rate(100)) == 2.0
    assert points(rule, Rate(50)) == 1.0
    assert points(rule, Rate(150)) == 2.0


def test_raw_points_are_unrounded() -> None:
    assert raw_points(PointRule(20), Counts(1, 3)) == pytest.approx(20 / 3)


def test_group_sum_is_of_rounded_indicator_points() -> None:
    assert sum_points([1.96, 6.0, 0.0, 0.0]) == 7.96
    assert sum_points([0.1, 0.2]) == 0.3
    assert sum_points([]) == 0.0


@pytest.mark.parametrize(
    ("numerator", "denominator"), [(-1, 3), (1, -3), (True, 3), (1.5, 3), ("1", 3)]
)
def test_counts_reject_non_counts(numerator: object, denominator: object) -> None:
    with pytest.raises(ValueError):
        Counts(numerator, denominator)  # type: ignore[arg-type]


@pytest.mark.parametrize("pct", [-1.0, float("nan"), float("inf"), True])
def test_rate_rejects_non_percent(pct: object) -> None:
    with pytest.raises(ValueError):
        Rate(pct)  # type: ignore[arg-type]


@pytest.mark.parametrize("full_at", [0.0, -5.0, 120.0])
def test_point_rule_rejects_bad_threshold(full_at: float) -> None:
    with pytest.raises(ValueError):
        PointRule(2, full_at_pct=full_at)


def test_group_maxima_total_100() -> None:
    maxima = {g.id: g.max_points for g in GROUPS}
    assert maxima == {
        "transparency": 18,
        "dvc-progress-tree": 20,
        "dossier-digitized": 22,
        "provide-online-tree": 12,
        "formality-online-payment-tree": 10,
        "handling-satisfaction": 18,
    }
    assert sum(maxima.values()) == TOTAL_MAX_POINTS


def test_every_scored_rule_cites_its_source() -> None:
    sources = ("Decision 766", "portal formula document", "portal data")
    for group in GROUPS:
        for indicator in group.scored_indicators:
            assert indicator.rule is not None
            assert any(s in indicator.rule.source for s in sources), indicator.id


def test_lookups() -> None:
    assert group_by_id("handling-satisfaction") is SATISFACTION
    with pytest.raises(KeyError, match="known"):
        group_by_id("nope")
    assert indicator_by_portal_code("REUSED_DIGITIZED_DATA") == (
        DIGITIZATION,
        DIGITIZATION.indicator("3.3"),
    )
    assert indicator_by_portal_code("NOPE") is None
    with pytest.raises(KeyError):
        indicator_by_id("9.9")


def test_missing_input_is_not_available_never_zero() -> None:
    score = score_group(TRANSPARENCY, {"1.4": Counts(10, 10)})
    assert isinstance(score.points, NotAvailable)
    assert "1.1" in score.points.reason
    assert score.available_points == 6.0
    assert score.available_max == 6.0
    assert score.max_points == 18.0
    by_id = {s.id: s for s in score.indicators}
    assert isinstance(by_id["1.2"].points, NotAvailable)
    assert by_id["1.2"].rate_pct is None


def test_not_applicable_indicators_leave_the_maximum() -> None:
    """A single-procedure response has no 3.6: the portal's group maximum is then 20."""
    inputs_with_rate: dict[str, Counts | Rate] = {
        i: Counts(1, 2) for i in ("3.1", "3.2", "3.3", "3.4", "3.5")
    }
    inputs_with_rate["3.7"] = Rate(100)
    applicable = ("3.1", "3.2", "3.3", "3.4", "3.5", "3.7")
    score = score_group(DIGITIZATION, inputs_with_rate, applicable=applicable)
    assert score.max_points == 20.0
    # 3 + 2 + 1.25 + 2 + 1 + 2
    assert score.points == 11.25


def test_monitoring_indicators_carry_no_points() -> None:
    inputs = {
        "5.1": Counts(0, 0),
        "5.2": Counts(0, 0),
        "5.3": Counts(90, 100),
        "5.x.1": Counts(3, 4),
    }
    score = score_group(SATISFACTION, inputs, applicable=("5.1", "5.2", "5.3", "5.x.1"))
    assert score.points == 18.0
    assert score.max_points == 18.0
    monitoring = score_indicator(SATISFACTION.indicator("5.x.1"), Counts(3, 4))
    assert monitoring.points == 0.0 and monitoring.rate_pct == 75.0


def test_score_group_rejects_foreign_indicator() -> None:
    with pytest.raises(KeyError, match="2.1"):
        score_group(PAYMENT, {"2.1": Counts(1, 1)})


def test_score_card_total_only_when_every_group_is_complete() -> None:
    complete = {i.id: Counts(1, 1) for g in GROUPS for i in g.indicators if i.rule is not None}
    card = score_card(complete)
    assert card.total == 100.0
    assert card.available_max == 100.0
    partial = dict(complete)
    del partial["4.2"]
    card = score_card(partial)
    assert isinstance(card.total, NotAvailable)
    assert "provide-online-tree" in card.total.reason
    assert card.available_points == 96.0
    assert card.group(PROGRESS.id).points == 20.0
    with pytest.raises(KeyError):
        score_card({"0.0": Counts(1, 1)})
