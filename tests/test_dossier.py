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
    ]
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
