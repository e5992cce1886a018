"""766 counts that come from the procedure catalogue and the unit register, as of a moment.

A unit's *scope* is every procedure that it or a unit below it handles (``agency``, else
``level``); the province's is the whole catalogue. Dated facts (a publication decision, the day
a procedure was made public or connected to the population database, the day a unit started
issuing e-certified copies) are known as of ``as_of_ms`` when their day starts before it
(Vietnam calendar days). Rules, per unit scope:

- 1.1 publication on time: procedures whose publication decision falls in the period (and
  before ``as_of_ms``), on time when at least ``PUBLISH_LEAD_WORKING_DAYS`` working days before
  its legal basis takes effect;
- 1.2 made public on time: the same procedures, made public on the national database within
  ``MAKE_PUBLIC_WORKING_DAYS`` working days of the decision (and before ``as_of_ms``);
- 1.3 complete records: procedures public by ``as_of_ms`` whose record has every mandatory part;
- 3.6 population data: procedures connected to the population database by ``as_of_ms``, over
  the scope;
- 3.7 e-certified copies: units of the subtree issuing them by ``as_of_ms``, over its units;
- 4.1 online services: procedures offered online (full-process or partial), over the scope;
- 4.2 online services used: online procedures with at least one dossier received online in the
  period, over online procedures;
- 4.4 fee data: fee-bearing procedures with at least one dossier carrying a fee in the period,
  over fee-bearing procedures; 4.5 online payment: fee-bearing procedures with at least one fee
  paid online, over fee-bearing procedures.

Working days are the office days of ``pipeline.holidays`` (weekends, public days off and make-up
Saturdays as announced). Pure: values in and out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from pipeline.holidays import is_office_day
from pipeline.reference import Procedure, Reference
from pipeline.scoring.rules import Counts
from pipeline.windows import day_start_ms

PUBLISH_LEAD_WORKING_DAYS = 5
"""A province publishes a procedure at least 5 working days before its legal basis takes effect."""
MAKE_PUBLIC_WORKING_DAYS = 5
"""...and makes it public on the national database within 5 working days of the decision."""

CATALOGUE_KEYS = (
    "published_on_time",
    "made_public_on_time",
    "complete_records",
    "population_data_procedures",
    "e_certified_copy_units",
    "online_services",
)
ACTIVITY_KEYS = ("online_services_used", "fee_procedures_with_fee", "fee_procedures_paid_online")


@dataclass(frozen=True)
class Activity:
    """Which procedures had dossiers in the period at one leaf unit (from the dossier state)."""

    online: frozenset[str] = frozenset()
    with_fee: frozenset[str] = frozenset()
    paid_online: frozenset[str] = frozenset()


def working_days_between(first: date, last: date) -> int:
    """Working days ``d`` with ``first < d <= last`` (negative when ``last`` is earlier)."""
    if last < first:
        return -working_days_between(last, first)
    return _count_working(first, last)


@cache
def _count_working(first: date, last: date) -> int:
    days = (first + timedelta(days=n) for n in range(1, (last - first).days + 1))
    return sum(1 for day in days if is_office_day(day))


def is_published_on_time(procedure: Procedure) -> bool:
    """1.1: the decision came at least 5 working days before the legal basis took effect."""
    if procedure.published_on is None or procedure.effective_on is None:
        return False
    lead = working_days_between(procedure.published_on, procedure.effective_on)
    return lead >= PUBLISH_LEAD_WORKING_DAYS


def is_made_public_on_time(procedure: Procedure, as_of_ms: int) -> bool:
    """1.2: made public, by ``as_of_ms``, within 5 working days of the decision."""
    public, published = procedure.public_on, procedure.published_on
    if public is None or published is None or day_start_ms(public) >= as_of_ms:
        return False
    return working_days_between(published, public) <= MAKE_PUBLIC_WORKING_DAYS


def _known(day: date | None, as_of_ms: int) -> bool:
    return day is not None and day_start_ms(day) < as_of_ms


def scopes(reference: Reference) -> dict[str, tuple[Procedure, ...]]:
    """unit code -> the procedures it or a unit below it handles (the province: all)."""
    own: dict[str, set[str]] = {
        u.code: {p.code for p in reference.procedures if p.is_handled_by(u.level, u.code)}
        for u in reference.units
    }
    subtree: dict[str, set[str]] = {code: set(codes) for code, codes in own.items()}
    for unit in reference.units:
        for ancestor in reference.ancestors(unit.code):
            subtree[ancestor] |= own[unit.code]
    root = reference.root.code
    subtree[root] = {p.code for p in reference.procedures}
    return {
        code: tuple(p for p in reference.procedures if p.code in codes)
        for code, codes in subtree.items()
    }


def catalogue_counts(
    reference: Reference,
    start_ms: int,
    end_ms: int,
    as_of_ms: int,
    activity: Mapping[str, Activity] | None = None,
) -> dict[str, dict[str, Counts]]:
    """unit code -> catalogue key -> Counts, already over each unit's whole subtree.

    ``activity``: leaf unit -> procedures with dossiers in the period; ``None`` leaves the
    ``ACTIVITY_KEYS`` out (not available). The catalogue keys are left out when the reference
    has no catalogue columns, and ``e_certified_copy_units`` when it has no register.
    """
    stop_ms = min(end_ms, as_of_ms)
    rolled = _rolled_activity(reference, activity) if activity is not None else None
    out: dict[str, dict[str, Counts]] = {}
    for code, scope in scopes(reference).items():
        counts: dict[str, Counts] = {}
        if reference.has_catalogue:
            published = [
                p
                for p in scope
                if p.published_on is not None and start_ms <= day_start_ms(p.published_on) < stop_ms
            ]
            public = [p for p in scope if _known(p.public_on, as_of_ms)]
            counts["published_on_time"] = _count(published, is_published_on_time)
            counts["made_public_on_time"] = _count(
                published, lambda p: is_made_public_on_time(p, as_of_ms)
            )
            counts["complete_records"] = _count(public, lambda p: p.record_complete)
            counts["population_data_procedures"] = _count(
                scope, lambda p: _known(p.population_data_on, as_of_ms)
            )
        if reference.has_certified_copy_register:
            units = [
                reference.unit(code),
                *(reference.unit(c) for c in reference.descendants(code)),
            ]
            counts["e_certified_copy_units"] = Counts(
                sum(1 for u in units if _known(u.e_certified_copy_on, as_of_ms)), len(units)
            )
        counts["online_services"] = _count(scope, lambda p: p.is_online)
        if rolled is not None:
            seen = rolled.get(code, Activity())
            online = [p for p in scope if p.is_online]
            fee = [p for p in scope if p.fee_bearing]
            counts["online_services_used"] = _among(online, seen.online)
            counts["fee_procedures_with_fee"] = _among(fee, seen.with_fee)
            counts["fee_procedures_paid_online"] = _among(fee, seen.paid_online)
        out[code] = counts
    return out


def _count(procedures: Iterable[Procedure], test: Callable[[Procedure], bool]) -> Counts:
    chosen = list(procedures)
    return Counts(sum(1 for p in chosen if test(p)), len(chosen))


def _among(procedures: list[Procedure], codes: frozenset[str]) -> Counts:
    return Counts(sum(1 for p in procedures if p.code in codes), len(procedures))


def _rolled_activity(reference: Reference, activity: Mapping[str, Activity]) -> dict[str, Activity]:
    sets: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for unit, seen in activity.items():
        for target in (unit, *reference.ancestry.get(unit, ())):
            online, with_fee, paid = sets.setdefault(target, (set(), set(), set()))
            online |= seen.online
            with_fee |= seen.with_fee
            paid |= seen.paid_online
    return {
        code: Activity(frozenset(a), frozenset(b), frozenset(c)) for code, (a, b, c) in sets.items()
    }
