"""Scoring from the pipeline's own counts, and ``at_stake`` (where effort pays most)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.scoring.at_stake import at_stake
from pipeline.scoring.groups import GROUPS, indicator_by_id
from pipeline.scoring.pipeline_inputs import (
    ONLINE_DOSSIERS,
    PIPELINE_TO_766,
    online_rate,
    score_pipeline_unit,
    to_766_inputs,
)
from pipeline.scoring.rules import Counts, PointRule, Rate, raw_points
from pipeline.scoring.score import NotAvailable


def test_every_scored_766_indicator_has_exactly_one_pipeline_input() -> None:
    scored = {i.id for g in GROUPS for i in g.indicators if i.is_scored}
    inputs = [*PIPELINE_TO_766.values(), "4.3"]
    assert sorted(inputs) == sorted(scored)
    assert len(scored) == 21


def test_online_dossiers_are_weighted_by_the_sync_rate() -> None:
    # 60 of 100 online (with their e-results), 90 of 100 synced: 54% -> full at 50%: 6 points.
    inputs = to_766_inputs({ONLINE_DOSSIERS: (60, 100), "portal_sync": (90, 100)})
    assert inputs["4.3"] == Rate(60 / 100 * 90 / 100 * 100)
    # 40% online x 100% synced -> 6 * 40 / 50 = 4.8; nothing received -> 0 of 0.
    assert online_rate(Counts(40, 100), Counts(100, 100)) == Rate(40.0)
    assert online_rate(Counts(0, 0), Counts(0, 0)) == Counts(0, 0)
    card = score_pipeline_unit({ONLINE_DOSSIERS: (40, 100), "portal_sync": (100, 100)})
    by_id = {s.id: s.points for s in card.group("provide-online-tree").indicators}
    assert by_id["4.3"] == 4.8
    # Without the sync counts 4.3 is not available (it is a product of two rates).
    assert "4.3" not in to_766_inputs({ONLINE_DOSSIERS: (40, 100)})


def test_complete_groups_are_scored_and_the_rest_are_not_available() -> None:
    card = score_pipeline_unit(
        {
            "on_time": (90, 100),
            "feedback_on_time": (3, 4),
            "feedback_satisfied": (0, 0),
            "dossier_satisfied": (81, 100),
            "online_payment": Counts(50, 100),
            "portal_sync": (100, 100),
        }
    )
    assert card.group("dvc-progress-tree").points == 18.0
    # 6 * 0.75 + 6 (no feedback rated) + 6 * 81 / 90
    assert card.group("handling-satisfaction").points == 4.5 + 6.0 + 5.4
    transparency = card.group("transparency")
    assert isinstance(transparency.points, NotAvailable)
    assert "published_on_time" in transparency.points.reason
    assert transparency.available_points == 6.0 and transparency.available_max == 6.0
    payment = card.group("formality-online-payment-tree")
    assert isinstance(payment.points, NotAvailable)
    assert payment.available_points == 3.0
    assert isinstance(card.total, NotAvailable)
    assert card.available_points == 18.0 + 15.9 + 6.0 + 3.0


def test_all_21_inputs_give_a_total_out_of_100() -> None:
    full = {key: (10, 10) for key in PIPELINE_TO_766}
    card = score_pipeline_unit({**full, ONLINE_DOSSIERS: (10, 10)})
    assert card.total == 100.0
    assert [g.points for g in card.groups] == [18.0, 20.0, 22.0, 12.0, 10.0, 18.0]


def test_a_missing_pipeline_indicator_is_not_available_not_zero() -> None:
    card = score_pipeline_unit({"on_time": (1, 2)})
    satisfaction = card.group("handling-satisfaction")
    assert isinstance(satisfaction.points, NotAvailable)
    reasons = {s.id: s.points for s in satisfaction.indicators}
    assert isinstance(reasons["5.3"], NotAvailable)
    assert "dossier_satisfied" in reasons["5.3"].reason
    assert satisfaction.available_max == 0.0


def test_an_empty_denominator_follows_the_766_rule() -> None:
    card = score_pipeline_unit(
        {"on_time": (0, 0), "feedback_on_time": (0, 0), "feedback_satisfied": (0, 0)}
    )
    assert card.group("dvc-progress-tree").points == 0.0
    by_id = {s.id: s.points for s in card.group("handling-satisfaction").indicators}
    assert by_id["5.1"] == 6.0 and by_id["5.2"] == 6.0


@pytest.mark.parametrize(
    "counts",
    [{"nope": (1, 2)}, {"on_time": (1, 2, 3)}, {"on_time": (-1, 2)}, {"on_time": "1/2"}],
)
def test_bad_pipeline_counts_raise(counts: dict) -> None:
    with pytest.raises(ValueError):
        to_766_inputs(counts)


def test_at_stake_by_hand() -> None:
    # Province online payment: (10 + 5) / (100 + 10) -> 6 * 15 / 110.
    # A reaching 80% adds 70 payments: 6 * 85 / 110 - 6 * 15 / 110 = 6 * 70 / 110.
    # B reaching 80% needs ceil(8.0) = 8, adds 3: 6 * 3 / 110.
    units = {"A": {"online_payment": (10, 100)}, "B": {"online_payment": (5, 10)}}
    stakes = at_stake(units, {"online_payment": 80})
    assert [s.unit for s in stakes] == ["A", "B"]
    assert stakes[0].gain_points == pytest.approx(6 * 70 / 110)
    assert stakes[1].gain_points == pytest.approx(6 * 3 / 110)
    assert dict(stakes[0].numerator_needed) == {"online_payment": 70}
    assert dict(stakes[1].numerator_needed) == {"online_payment": 3}


def test_at_stake_respects_thresholds_and_units_above_target() -> None:
    # Province reuse (3.3, full at 80%): 70 / 100 = 87.5% of the way; C lifting 0/10 to 90%
    # takes the province to 79% -> still under 80%, gain 2 * 9 / 80.
    units = {"C": {"data_reuse": (0, 10)}, "D": {"data_reuse": (70, 90)}}
    stakes = {s.unit: s for s in at_stake(units, {"data_reuse": 90})}
    assert stakes["C"].gain_points == pytest.approx(2 * 79 / 80 - 2 * 70 / 80)
    # D is already at 77.8%: lifting it to 90% adds 11, taking the province over 80%: capped.
    assert stakes["D"].gain_points == pytest.approx(2.0 - 2 * 70 / 80)
    above = at_stake({"E": {"on_time": (95, 100)}}, {"on_time": 90})
    assert above[0].gain_points == 0.0 and above[0].numerator_needed["on_time"] == 0


def test_at_stake_with_explicit_province_counts() -> None:
    # Complaints filed at province level count for the province but belong to no unit.
    units = {"F": {"feedback_on_time": (0, 10)}}
    province = {"feedback_on_time": (40, 50)}
    [stake] = at_stake(units, {"feedback_on_time": 100}, province=province)
    assert stake.gain_points == pytest.approx(6 * 50 / 50 - 6 * 40 / 50)


def test_at_stake_exact_target_arithmetic() -> None:
    """80% of 10 dossiers is 8, not ceil(8.000000000000002) = 9."""
    [stake] = at_stake({"G": {"on_time": (0, 10)}}, {"on_time": 80})
    assert stake.numerator_needed["on_time"] == 8


@pytest.mark.parametrize("targets", [{"on_time": 101}, {"on_time": -1}, {"nope": 50}])
def test_at_stake_rejects_bad_targets(targets: dict) -> None:
    with pytest.raises(ValueError):
        at_stake({"A": {"on_time": (1, 2)}}, targets)


counts_st = st.tuples(st.integers(0, 500), st.integers(0, 500)).map(lambda nd: (min(nd), max(nd)))
units_st = st.dictionaries(
    st.sampled_from(["U1", "U2", "U3", "U4"]),
    st.fixed_dictionaries(
        {"online_payment": counts_st, "on_time": counts_st, "dossier_satisfied": counts_st}
    ),
    min_size=1,
)
targets_st = st.fixed_dictionaries(
    {"online_payment": st.integers(0, 100), "dossier_satisfied": st.integers(0, 100)}
)


@given(units=units_st, targets=targets_st)
def test_at_stake_equals_rescoring_the_province(units: dict, targets: dict) -> None:
    """Independent path: lift the unit's numerators, re-sum the province, score it again."""
    stakes = at_stake(units, targets)
    assert [s.gain_points for s in stakes] == sorted((s.gain_points for s in stakes), reverse=True)
    for stake in stakes:
        assert stake.gain_points >= 0
        gained = 0.0
        for key, target in targets.items():
            before = [units[u][key] for u in units]
            after = [
                (max(n, math.ceil(target * d / 100)), d) if u == stake.unit else (n, d)
                for u, (n, d) in ((u, units[u][key]) for u in units)
            ]
            rule = indicator_by_id(PIPELINE_TO_766[key]).rule
            assert rule is not None
            exact = PointRule(rule.max_points, rule.full_at_pct, rule.if_empty)
            total_before = Counts(sum(n for n, _ in before), sum(d for _, d in before))
            total_after = Counts(sum(n for n, _ in after), sum(d for _, d in after))
            gained += raw_points(exact, total_after) - raw_points(exact, total_before)
        assert stake.gain_points == pytest.approx(gained, abs=1e-9)
        assert "on_time" not in stake.by_indicator
