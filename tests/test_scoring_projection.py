"""Projection to the period end: pending items falling due finish at the unit's current pace."""

from __future__ import annotations

from pipeline.rates import Counts
from pipeline.scoring.catalogue import Activity
from pipeline.scoring.projection import project_state
from pipeline.scoring.state_inputs import StateCounts


def test_pending_dossiers_falling_due_are_expected_at_the_current_on_time_rate() -> None:
    # Now 8 of 10 on time; judged at the end 5 of 10 (3 pending fall due before it).
    # 80% of those 3 is 2.4 -> 2 whole dossiers: 7 of 10.
    now = StateCounts(
        leaf={"U": {"on_time": Counts(8, 10), "data_store": Counts(4, 10),
                    "feedback_on_time": Counts(1, 1)}},
        activity={"U": Activity(online=frozenset({"p"}))},
    )  # fmt: skip
    at_end = StateCounts(
        leaf={"U": {"on_time": Counts(5, 10), "data_store": Counts(4, 10),
                    "feedback_on_time": Counts(0, 1)}},
    )  # fmt: skip
    projected = project_state(now, at_end)
    assert projected.leaf["U"]["on_time"] == Counts(7, 10)
    # 1 complaint pending at 100% answered on time: expected on time.
    assert projected.leaf["U"]["feedback_on_time"] == Counts(1, 1)
    # Not a clock: the rate holds.
    assert projected.leaf["U"]["data_store"] == Counts(4, 10)
    assert projected.activity == now.activity


def test_nothing_pending_projects_the_present() -> None:
    now = StateCounts(leaf={"U": {"on_time": Counts(3, 4), "dossier_satisfied": Counts(0, 0)}})
    assert project_state(now, now).leaf == now.leaf
