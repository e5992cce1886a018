"""The as-of counts read from the dossier state, as values: row shapes and their per-unit sums.

The store evaluates the clocks (``sinks/asof.py`` states the rules); this module names what
comes back and turns it into pipeline counts per leaf unit (numerator, denominator) and the
procedures each leaf unit saw in the period (for the catalogue items 4.2, 4.4 and 4.5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pipeline.rates import Counts, UnitTotals
from pipeline.scoring.catalogue import Activity

DOSSIER_KEYS = (
    "received",
    "on_time",
    "online_dossiers",
    "synced",
    "digitized_with_result",
    "data_store",
    "population_data",
    "dossier_satisfied",
)
"""Sums per leaf unit and procedure over dossiers received in the period (``received`` first)."""
FEEDBACK_KEYS = ("feedback", "feedback_on_time", "feedback_satisfied")
"""Sums per leaf unit over complaints first received in the period (``feedback`` first)."""
STATE_KEYS = (
    "on_time",
    "online_dossiers",
    "digitized_with_result",
    "data_store",
    "population_data",
    "dossier_satisfied",
    "feedback_on_time",
    "feedback_satisfied",
)
"""Pipeline indicators counted from the state: numerator key, over ``received``/``feedback``."""


@dataclass(frozen=True)
class ProcedureRow:
    """One leaf unit's dossiers of one procedure received in the period, as of the moment."""

    unit_code: str
    procedure_code: str
    sums: tuple[int, ...]
    """In ``DOSSIER_KEYS`` order."""
    online: bool = False
    """At least one was received online (766 item 4.2)."""
    with_fee: bool = False
    """At least one carried a fee (4.4)."""
    paid_online: bool = False
    """At least one fee was paid online (4.5)."""


FeedbackRow = tuple[str, tuple[int, ...]]
"""(leaf unit, sums in ``FEEDBACK_KEYS`` order)."""


@dataclass(frozen=True)
class StateCounts:
    """Leaf-unit counts from the state (``STATE_KEYS``) and the procedures each unit saw."""

    leaf: UnitTotals = field(default_factory=dict)
    activity: Mapping[str, Activity] = field(default_factory=dict)


def state_counts(dossiers: Iterable[ProcedureRow], feedback: Iterable[FeedbackRow]) -> StateCounts:
    """Sum the store's rows into pipeline counts per leaf unit."""
    leaf: UnitTotals = {}
    sets: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for row in dossiers:
        values = dict(zip(DOSSIER_KEYS, row.sums, strict=True))
        per = leaf.setdefault(row.unit_code, {})
        for key in DOSSIER_KEYS[1:]:
            if key == "synced":
                continue
            per[key] = per.get(key, Counts()) + Counts(values[key], values["received"])
        online, with_fee, paid = sets.setdefault(row.unit_code, (set(), set(), set()))
        if row.online:
            online.add(row.procedure_code)
        if row.with_fee:
            with_fee.add(row.procedure_code)
        if row.paid_online:
            paid.add(row.procedure_code)
    for unit, sums in feedback:
        values = dict(zip(FEEDBACK_KEYS, sums, strict=True))
        per = leaf.setdefault(unit, {})
        for key in FEEDBACK_KEYS[1:]:
            per[key] = per.get(key, Counts()) + Counts(values[key], values["feedback"])
    activity = {
        unit: Activity(frozenset(a), frozenset(b), frozenset(c)) for unit, (a, b, c) in sets.items()
    }
    return StateCounts(leaf=leaf, activity=activity)
