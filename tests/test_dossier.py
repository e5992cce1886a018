"""Dossier state is a join of facts: order, duplicates and splitting never change it."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.dossier import DossierState, apply, merge, order_key
from pipeline.events import decode_event
from tests.events_factory import event, line, received

IS_DOCUMENT = {"1.000002": True, "2.000815": False}.__getitem__


def _events_of_one_dossier() -> list:
    lines = [
        received("r2", "d1", "2024-06-03T09:00:00+07:00", channel="direct", fee=30000),
        received("r1", "d1", "2024-06-03T08:15:00+07:00", channel="online", fee=20000),
        event(
            "payment.succeeded",
            "p1",
            "d1",
            "2024-06-05T10:00:00+07:00",
            amount=20000,
            method="cash",
        ),
        event(
            "payment.succeeded",
            "p2",
            "d1",
            "2024-06-06T10:00:00+07:00",
            amount=20000,
            method="online_provincial",
        ),
        event(
            "dossier.digitized",
            "g1",
            "d1",
            "2024-06-03T08:20:00+07:00",
            components=2,
            reused_components=0,
            from_data_store=False,
        ),
        event(
            "dossier.digitized",
            "g2",
            "d1",
            "2024-06-03T08:25:00+07:00",
            components=1,
            reused_components=1,
            from_data_store=True,
        ),
        event("dossier.synced", "s1", "d1", "2024-06-03T08:30:00+07:00"),
        event("dossier.completed", "c2", "d1", "2024-06-07T16:00:00+07:00", outcome="approved"),
        event("dossier.completed", "c1", "d1", "2024-06-07T15:00:00+07:00", outcome="withdrawn"),
        event(
            "dossier.result_issued",
            "x1",
            "d1",
            "2024-06-07T16:05:00+07:00",
            electronic=True,
            digitized=True,
        ),
        event("dossier.rated", "q1", "d1", "2024-06-08T09:00:00+07:00", satisfied=True),
        event("dossier.rated", "q2", "d1", "2024-06-09T09:00:00+07:00", satisfied=False),
        event("dossier.rated", "q3", "d1", "2024-06-08T10:00:00+07:00", satisfied=False),
        event("dossier.digitized", "g3", "d1", "2024-06-03T08:40:00+07:00", components=1,
              reused_components=0, from_data_store=False, from_population_data=True),
        event("dossier.supplement_requested", "u3", "d1", "2024-06-05T09:00:00+07:00", reason="c"),
        event("dossier.supplement_requested", "u1", "d1", "2024-06-04T09:00:00+07:00", reason="a"),
        event("dossier.supplement_requested", "u1b", "d1", "2024-06-04T09:00:00+07:00", reason="a"),
        event("dossier.supplement_requested", "u2", "d1", "2024-06-04T15:00:00+07:00", reason="b"),
        event("feedback.received", "f2", "d1", "2024-06-10T09:00:00+07:00", feedback_id="k2",
              due_at="2024-07-01T17:00:00+07:00"),
        event("feedback.received", "f1", "d1", "2024-06-10T09:00:00+07:00", feedback_id="k1",
              due_at="2024-06-28T17:00:00+07:00"),
        event("feedback.received", "f3", "d1", "2024-06-12T09:00:00+07:00", feedback_id="k3",
              due_at="2024-06-20T17:00:00+07:00"),
        event("feedback.resolved", "h2", "d1", "2024-06-20T09:00:00+07:00", feedback_id="k1"),
        event("feedback.resolved", "h1", "d1", "2024-06-18T09:00:00+07:00", feedback_id="k3"),
        event("feedback.rated", "v1", "d1", "2024-06-21T09:00:00+07:00", feedback_id="k1",
              satisfied=True),
        event("feedback.rated", "v2", "d1", "2024-06-22T09:00:00+07:00", feedback_id="k1",
              satisfied=False),
    ]  # fmt: skip
    return [decode_event(line(e)) for e in lines]


EVENTS = _events_of_one_dossier()


def _fold(events: list) -> DossierState:
    state = DossierState("d1")
    for e in events:
        apply(state, e, IS_DOCUMENT)
    return state


def test_the_earliest_reception_and_completion_count() -> None:
    state = _fold(EVENTS)
    assert state.received_key == order_key(1717377300000, "r1")
    assert (state.unit_code, state.channel, state.fee_amount, state.result_is_document) == (
        "H70.07",
        "online",
        20000,
        1,
    )
    assert (state.completed_ms, state.outcome) == (1717747200000, "withdrawn")
    assert (state.paid_online, state.digitized, state.reused, state.synced, state.e_result) == (
        1,
        1,
        1,
        1,
        1,
    )


def test_the_clocks_keep_the_earliest_facts() -> None:
    state = _fold(EVENTS)
    t = ms
    assert state.due_ms == t("2030-01-01T00:00:00+07:00")  # the factory's default due time
    # three requests at two distinct times on 4 June and one on the 5th: the two earliest
    assert (state.supplement1_ms, state.supplement2_ms) == (
        t("2024-06-04T09:00:00+07:00"), t("2024-06-04T15:00:00+07:00"))  # fmt: skip
    assert state.dissatisfied_ms == t("2024-06-08T10:00:00+07:00")
    # two complaints at the same time: the one due first
    assert (state.feedback_ms, state.feedback_due_ms) == (
        t("2024-06-10T09:00:00+07:00"), t("2024-06-28T17:00:00+07:00"))  # fmt: skip
    assert state.feedback_resolved_ms == t("2024-06-18T09:00:00+07:00")
    assert state.feedback_dissatisfied_ms == t("2024-06-22T09:00:00+07:00")
    assert state.e_result_ms == t("2024-06-07T16:05:00+07:00")
    assert (state.data_store, state.population_data) == (1, 1)


def ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_a_cash_payment_is_not_an_online_payment() -> None:
    state = _fold([EVENTS[1], EVENTS[2]])
    assert state.paid_online == 0


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=0, max_value=3))
def test_order_and_duplicates_do_not_matter(rng: random.Random, copies: int) -> None:
    shuffled = EVENTS * (1 + copies)
    rng.shuffle(shuffled)
    assert _fold(shuffled) == _fold(EVENTS)


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False))
def test_merging_partial_states_equals_folding_everything(rng: random.Random) -> None:
    parts: list[list] = [[], [], []]
    for e in EVENTS:
        parts[rng.randrange(3)].append(e)
    a, b, c = (_fold(p) for p in parts)
    left = _fold(parts[0])
    merge(left, b)
    merge(left, c)
    right = _fold(parts[2])
    merge(right, _fold(parts[1]))
    merge(right, a)
    assert left == right == _fold(EVENTS)


def test_reapplying_a_fact_reports_no_change() -> None:
    state = _fold(EVENTS)
    assert not any(apply(state, e, IS_DOCUMENT) for e in EVENTS)


def test_order_key_sorts_like_time_then_id() -> None:
    keys = [
        order_key(5, "b"),
        order_key(5, "a"),
        order_key(40, "a"),
        order_key(1_717_377_300_000, "a"),
    ]
    assert sorted(keys) == [
        order_key(5, "a"),
        order_key(5, "b"),
        order_key(40, "a"),
        order_key(1_717_377_300_000, "a"),
    ]
