"""Compare the portal's published scores with our engine's, unit by unit, from the same counts.

Pure: takes a parsed :class:`PortalEvaluation`, returns a :class:`Reconciliation` of rows. A
unit is ``checked`` when its record carries the counts of every scored indicator of the group;
``mismatch`` when our score and the portal's differ by more than the tolerance, or when our
maximum differs from the portal's (a different indicator set); ``not_checkable`` when the
portal publishes no counts for it (``provide-online-tree`` children), never ``match``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pipeline.scoring.portal import PortalEvaluation, PortalUnit
from pipeline.scoring.rules import Counts, Rate, round_points
from pipeline.scoring.score import GroupScore, score_group

TOLERANCE_POINTS = 0.01
"""A checked unit matches when |ours - portal| <= 0.01 points (the portal's rounding step)."""

Status = Literal["match", "mismatch", "not_checkable"]


@dataclass(frozen=True)
class IndicatorComparison:
    """One indicator of a checked unit: the counts used, the portal's published points (``None``
    when the portal publishes none or ``null``) and ours. ``from_published_rate``: the portal
    gave only a rate, no counts (item 3.7)."""

    indicator_id: str
    portal_code: str | None
    numerator: int | None
    denominator: int | None
    rate_pct: float | None
    portal_points: float | None
    our_points: float
    from_published_rate: bool


@dataclass(frozen=True)
class ReconcileRow:
    """One unit's comparison. ``our_points``/``our_max`` are ``None`` when not checkable;
    ``note`` says why a row mismatches (or why it cannot be checked)."""

    unit: PortalUnit
    status: Status
    our_points: float | None
    our_max: float | None
    note: str
    indicators: tuple[IndicatorComparison, ...]

    @property
    def diff(self) -> float | None:
        """Ours minus the portal's, in points; ``None`` when not checkable."""
        if self.our_points is None:
            return None
        return round_points(self.our_points - self.unit.portal_points)


@dataclass(frozen=True)
class Reconciliation:
    group_id: str
    group_name_vi: str
    rows: tuple[ReconcileRow, ...]
    tolerance: float

    @property
    def checked(self) -> int:
        return sum(1 for r in self.rows if r.status != "not_checkable")

    @property
    def mismatched(self) -> int:
        return sum(1 for r in self.rows if r.status == "mismatch")

    @property
    def not_checkable(self) -> int:
        return sum(1 for r in self.rows if r.status == "not_checkable")

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document: ``group``, ``checked``, ``mismatched``, ``not_checkable``,
        ``rows`` (one object per unit, province first)."""
        return {
            "group": self.group_id,
            "checked": self.checked,
            "mismatched": self.mismatched,
            "not_checkable": self.not_checkable,
            "rows": [_row_json(r) for r in self.rows],
        }


def reconcile(
    evaluation: PortalEvaluation, *, tolerance: float = TOLERANCE_POINTS
) -> Reconciliation:
    """Recompute every unit's group score from the counts in ``evaluation`` and compare."""
    rows = tuple(_row(evaluation, unit, tolerance) for unit in evaluation.units)
    return Reconciliation(
        group_id=evaluation.group.id,
        group_name_vi=evaluation.group.name_vi,
        rows=rows,
        tolerance=tolerance,
    )


def _row(evaluation: PortalEvaluation, unit: PortalUnit, tolerance: float) -> ReconcileRow:
    if unit.inputs is None:
        return ReconcileRow(
            unit, "not_checkable", None, None, "the portal publishes no counts for this unit", ()
        )
    score = score_group(evaluation.group, unit.inputs, applicable=unit.applicable)
    ours = score.points
    assert isinstance(ours, float), "every applicable indicator has an input here"
    comparisons = _comparisons(score, unit)
    notes = []
    status: Status = "match"
    # Tolerance plus a hair: both sides are 2-decimal values stored as doubles.
    if abs(ours - unit.portal_points) > tolerance + 1e-9:
        status = "mismatch"
        notes.append(f"differs by {round_points(ours - unit.portal_points):+.2f}")
    if abs(score.max_points - unit.portal_max) > 1e-9:
        status = "mismatch"
        notes.append(f"maximum {score.max_points:g} here, {unit.portal_max:g} on the portal")
    return ReconcileRow(unit, status, ours, score.max_points, "; ".join(notes), comparisons)


def _comparisons(score: GroupScore, unit: PortalUnit) -> tuple[IndicatorComparison, ...]:
    out = []
    for s in score.indicators:
        if not s.indicator.is_scored:
            continue
        value = s.input
        counts = value if isinstance(value, Counts) else None
        assert isinstance(s.points, float)
        out.append(
            IndicatorComparison(
                indicator_id=s.id,
                portal_code=s.indicator.portal_code,
                numerator=counts.numerator if counts else None,
                denominator=counts.denominator if counts else None,
                rate_pct=s.rate_pct,
                portal_points=unit.portal_indicator_points.get(s.id),
                our_points=s.points,
                from_published_rate=isinstance(value, Rate),
            )
        )
    return tuple(out)


def _row_json(row: ReconcileRow) -> dict[str, Any]:
    unit = row.unit
    return {
        "unit_id": unit.unit_id,
        "unit_code": unit.unit_code,
        "unit_name": unit.name,
        "level": unit.level,
        "is_province": unit.is_province,
        "status": row.status,
        "portal": unit.portal_points,
        "ours": row.our_points,
        "diff": row.diff,
        "portal_max": unit.portal_max,
        "our_max": row.our_max,
        "note": row.note,
        "indicators": [
            {
                "id": c.indicator_id,
                "portal_code": c.portal_code,
                "numerator": c.numerator,
                "denominator": c.denominator,
                "rate_pct": None if c.rate_pct is None else round(c.rate_pct, 4),
                "portal": c.portal_points,
                "ours": c.our_points,
                "from_published_rate": c.from_published_rate,
            }
            for c in row.indicators
        ],
    }
