"""Project each unit's period-end score from the period so far, at its current pace.

"Current pace" means the unit's rates stay what they are now: the share of dossiers filed
online, paid online, digitised, synced, satisfied... does not change by the period end, so
those indicators score at the period end what they score now. What does change by itself is
the clock: dossiers and complaints still pending now and falling due before the period end.
Two as-of evaluations of the same facts bound them: judged now (``now``) they are not yet due,
judged at the period end (``at_end``) they are all overdue. The projection expects them to
end on time at the unit's current on-time rate:

    projected = at_end + (now - at_end) * now_rate      (numerators; denominators unchanged)

rounded down to whole dossiers. The procedure catalogue is judged at the period end (its dates
are the register's: a publication planned for the 28th is known on the 10th). The points at
stake of a unit are what it is on course to lose: the maximum minus its projected total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.rates import Counts, HourlyRow, UnitTotals
from pipeline.reference import Reference
from pipeline.scoring.period import PeriodScores, score_period
from pipeline.scoring.score import NotAvailable
from pipeline.scoring.state_inputs import StateCounts

CLOCKED_KEYS = ("on_time", "dossier_satisfied", "feedback_on_time", "feedback_satisfied")
"""Counts that move with the clock alone (pending items falling due)."""


@dataclass(frozen=True)
class Projection:
    """Scores now and projected to the period end, for every unit of the reference."""

    now: PeriodScores
    projected: PeriodScores

    def points(self, code: str) -> tuple[float | None, float | None]:
        """(now, projected) totals of a unit; ``None`` where the total is not available."""
        return (_total(self.now, code), _total(self.projected, code))


def _total(scores: PeriodScores, code: str) -> float | None:
    total = scores.units[code].card.total
    return None if isinstance(total, NotAvailable) else total


def project_state(now: StateCounts, at_end: StateCounts) -> StateCounts:
    """The state counts expected at the period end (module docstring)."""
    leaf: UnitTotals = {}
    for unit, per in now.leaf.items():
        ends = at_end.leaf.get(unit, {})
        out: dict[str, Counts] = {}
        for key, counts in per.items():
            end = ends.get(key)
            if key in CLOCKED_KEYS and end is not None and counts.denominator:
                pending = max(0, counts.numerator - end.numerator)
                expected = end.numerator + pending * counts.numerator // counts.denominator
                out[key] = Counts(expected, counts.denominator)
            else:
                out[key] = counts
        leaf[unit] = out
    return StateCounts(leaf=leaf, activity=now.activity)


def project(
    rows: Iterable[HourlyRow],
    start_ms: int,
    end_ms: int,
    as_of_ms: int,
    reference: Reference,
    now: StateCounts,
    at_end: StateCounts,
) -> Projection:
    """Scores as of ``as_of_ms`` and projected to ``end_ms`` (see the module docstring)."""
    hourly = list(rows)
    current = score_period(hourly, start_ms, end_ms, reference, state=now, as_of_ms=as_of_ms)
    projected = score_period(
        hourly,
        start_ms,
        end_ms,
        reference,
        state=project_state(now, at_end),
        as_of_ms=as_of_ms,
        catalogue_as_of_ms=end_ms,
    )
    return Projection(now=current, projected=projected)
