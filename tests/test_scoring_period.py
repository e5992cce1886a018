"""The pure glue of ``chiso766 score``: period rows -> rolled-up counts -> scorecards -> ranks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.reference import Reference, Unit
from pipeline.scoring.period import (
    COUNTED,
    competition_ranks,
    full_points_targets,
    parse_target,
    score_period,
    stakes,
)
from pipeline.scoring.rules import Counts
from pipeline.scoring.score import NotAvailable
from pipeline.scoring.state_inputs import STATE_KEYS, StateCounts

HOUR_MS = 3_600_000
START = 1_717_174_800_000  # 2024-06-01T00:00:00+07:00
END = START + 30 * 24 * HOUR_MS  # 2024-07-01T00:00:00+07:00

REFERENCE = Reference(
    province="Test",
    units=(
        Unit("P", "Tỉnh", "province", None),
        Unit("D1", "Sở 1", "department", "P"),
        Unit("D2", "Sở 2", "department", "P"),
        Unit("D3", "Sở 3", "department", "P"),
        Unit("X", "Huyện", "district", "P"),
        Unit("X1", "Xã 1", "commune", "X"),
        Unit("X2", "Xã 2", "commune", "X"),
    ),
    procedures=(),
)

ROWS = [
    ("D1", "online_payment", START, 3, 4),  # 75% -> 4.5
    ("D2", "portal_sync", START + HOUR_MS, 1, 1),  # 100% -> 6: ties with D1
    ("D3", "portal_sync", END, 5, 5),  # first hour of July: not in June
    ("D3", "portal_sync", START - HOUR_MS, 5, 5),  # last hour of May: not in June
    ("X1", "portal_sync", START, 1, 2),  # 50% -> 3
    ("X2", "portal_sync", END - HOUR_MS, 2, 2),  # 100% -> 6 (last hour of June)
    ("X", "e_result", START, 1, 4),  # the district's own dossiers: 25% -> 1.5
]


def test_counts_roll_up_and_counted_indicators_without_rows_are_zero_of_zero() -> None:
    scores = score_period(ROWS, START, END, REFERENCE)
    units = scores.units
    assert units["X"].counts["portal_sync"] == Counts(3, 4)
    assert units["X"].counts["e_result"] == Counts(1, 4)
    assert units["P"].counts["portal_sync"] == Counts(4, 5)
    assert units["P"].counts["online_payment"] == Counts(3, 4)
    # No catalogue columns and no procedures: only 4.1's 0 of 0 besides the hourly counts.
    assert dict(units["D3"].counts) == {**dict.fromkeys(COUNTED, Counts(0, 0)),
                                        "online_services": Counts(0, 0)}  # fmt: skip
    for unit in units.values():
        assert set(unit.counts) == {*COUNTED, "online_services"}
    assert scores.has_counts and scores.unknown_units == ()


def test_points_and_ranks_within_each_level() -> None:
    units = score_period(ROWS, START, END, REFERENCE).units
    points = {code: u.card.available_points for code, u in units.items()}
    # X: sync 3/4 -> 4.50, e-result 1/4 -> 1.50; P: sync 4/5 -> 4.80, paid 3/4 -> 4.5, e 1.50.
    assert points == {"P": 10.8, "D1": 4.5, "D2": 6.0, "D3": 0.0, "X": 6.0, "X1": 3.0, "X2": 6.0}
    ranks = {code: (u.level, u.rank, u.rank_of) for code, u in units.items()}
    assert ranks == {
        "P": ("province", 1, 1),
        "D1": ("department", 2, 3),
        "D2": ("department", 1, 3),
        "D3": ("department", 3, 3),
        "X": ("district", 1, 1),
        "X1": ("commune", 2, 2),
        "X2": ("commune", 1, 2),
    }


def test_indicators_the_pipeline_does_not_count_are_not_available_never_zero() -> None:
    card = score_period(ROWS, START, END, REFERENCE).units["D3"].card
    sync = card.group("transparency").indicators[3]
    assert (sync.id, sync.points) == ("1.4", 0.0)  # counted, nothing received: 0 of 0
    on_time = card.group("dvc-progress-tree")
    assert isinstance(on_time.points, NotAvailable)
    assert "dossier clocks" in on_time.points.reason
    assert (on_time.available_points, on_time.available_max) == (0.0, 0.0)
    transparency = card.group("transparency")
    assert "procedure catalogue" in str(transparency.points)
    assert isinstance(card.total, NotAvailable)
    # 1.4, 3.1, 3.3, 4.6 and 4.1 (from the procedures, none here): 6 + 6 + 2 + 6 + 2.
    assert (card.available_max, card.max_points) == (22.0, 100.0)


def test_state_counts_make_every_dossier_indicator_counted_for_every_unit() -> None:
    state = StateCounts(leaf={"D1": {"on_time": Counts(9, 10), "feedback_on_time": Counts(1, 2)}})
    scores = score_period(ROWS, START, END, REFERENCE, state=state)
    assert set(STATE_KEYS) <= set(scores.counted)
    assert scores.units["D1"].card.group("dvc-progress-tree").points == 18.0
    assert scores.units["P"].counts["on_time"] == Counts(9, 10)
    assert scores.units["D2"].counts["on_time"] == Counts(0, 0)
    assert scores.units["D2"].card.group("dvc-progress-tree").points == 0.0
    # No complaints: 5.1 and 5.2 full (the portal's rule); no dossiers: 5.3 is 0 of 0.
    satisfaction = scores.units["D2"].card.group("handling-satisfaction")
    assert satisfaction.points == 12.0
    # Everything but 1.1-1.3, 3.6 and 3.7 (no catalogue columns): 1.4 6, progress 20,
    # 3.1-3.5 18, online 12 (4.2 and 4.3 now), payment 10 (4.4, 4.5 now), satisfaction 18.
    assert scores.units["D2"].card.available_max == 6.0 + 20.0 + 18.0 + 12.0 + 10.0 + 18.0


def test_empty_periods_and_units_outside_the_reference_are_reported() -> None:
    assert not score_period(ROWS, END + 24 * HOUR_MS, END + 48 * HOUR_MS, REFERENCE).has_counts
    scores = score_period([*ROWS, ("H99", "portal_sync", START, 1, 1)], START, END, REFERENCE)
    assert scores.unknown_units == ("H99",)
    assert scores.units["P"].counts["portal_sync"] == Counts(4, 5)  # H99 reaches nobody


@pytest.mark.parametrize(
    ("points", "ranks"),
    [
        ({}, {}),
        ({"a": 1.0}, {"a": 1}),
        ({"a": 5.0, "b": 5.0, "c": 3.0}, {"a": 1, "b": 1, "c": 3}),
        ({"a": 3.0, "b": 5.0, "c": 5.0, "d": 0.0}, {"a": 3, "b": 1, "c": 1, "d": 4}),
        ({"a": 0.0, "b": 0.0}, {"a": 1, "b": 1}),
    ],
)
def test_competition_ranks(points: dict[str, float], ranks: dict[str, int]) -> None:
    assert competition_ranks(points) == ranks


@given(st.dictionaries(st.text(max_size=3), st.sampled_from([0.0, 1.5, 2.25, 6.0, 30.0])))
def test_a_rank_is_one_plus_the_number_of_strictly_better_units(points: dict[str, float]) -> None:
    ranks = competition_ranks(points)
    for key, value in points.items():
        assert ranks[key] == 1 + sum(other > value for other in points.values())


def test_default_targets_are_the_rates_that_earn_full_points() -> None:
    assert full_points_targets() == {
        "portal_sync": 100.0,
        "e_result": 100.0,
        "data_reuse": 80.0,  # 3.3 full at 80%
        "online_payment": 100.0,
        "on_time": 100.0,
        "digitized_with_result": 100.0,
        "data_store": 100.0,
        "population_data": 100.0,
        "dossier_satisfied": 90.0,  # 5.3 full at 90%
        "feedback_on_time": 100.0,
        "feedback_satisfied": 100.0,
    }
    assert full_points_targets(COUNTED) == {
        "portal_sync": 100.0, "e_result": 100.0, "data_reuse": 80.0, "online_payment": 100.0
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("online_payment=80", ("online_payment", 80.0)),
        (" e_result = 92.5", ("e_result", 92.5)),
        ("data_reuse=0", ("data_reuse", 0.0)),
        ("portal_sync=100", ("portal_sync", 100.0)),
    ],
)
def test_parse_target(text: str, parsed: tuple[str, float]) -> None:
    assert parse_target(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("online_payment", "expected INDICATOR=PCT"),
        ("speed=80", "not a dossier indicator"),
        ("online_services=80", "not a dossier indicator"),
        ("e_result=high", "not a number"),
        ("e_result=100.5", "0-100"),
        ("e_result=-1", "0-100"),
    ],
)
def test_parse_target_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_target(text)


def test_stakes_against_the_province_and_for_the_whole_province() -> None:
    scores = score_period(ROWS, START, END, REFERENCE)
    targets = {"portal_sync": 100.0}
    ranked = stakes(scores, ["D1", "D2", "D3", "X"], targets, "P")
    # Province sync 4/5. X (3/4) -> 4/4 lifts it to 5/5: 6 - 4.8 = 1.2; the others have
    # nothing left to sync in June (D3's rows are outside it).
    assert [(s.unit, round(s.gain_points, 9)) for s in ranked] == [
        ("X", 1.2),
        ("D1", 0.0),
        ("D2", 0.0),
        ("D3", 0.0),
    ]
    assert ranked[0].numerator_needed == {"portal_sync": 1}
    (everyone,) = stakes(scores, ["P"], targets, "P")
    assert everyone.gain_points == pytest.approx(1.2)
    with pytest.raises(ValueError, match="does not count on_time"):
        stakes(scores, ["D1"], {"on_time": 90.0}, "P")
