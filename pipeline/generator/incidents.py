"""Incidents: a system failure at a unit (and the units under it) for a period, which drops a rate.

Spelled ``KIND:UNIT:FROM:TO`` on the command line, e.g. ``payment-outage:H70.21.03:2024-03-04:
2024-03-06`` or with times ``...:2024-03-04T08:00:2024-03-04T17:30``. Times are local
(+07:00); FROM is inclusive, TO exclusive, and a date-only TO means the end of that day.

=========================  =======================================================================
kind                       effect during the period
=========================  =======================================================================
payment-outage             online payments fail; most payers go to the counter (cash, bank) later
online-filing-outage       the portal is down: applicants file at the counter instead
digitization-outage        nothing is digitised at reception
e-result-outage            results are issued on paper only
sync-outage                nothing reaches the national portal until the period ends
=========================  =======================================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from pipeline.errors import ConfigError
from pipeline.reference import Reference

KINDS = (
    "payment-outage",
    "online-filing-outage",
    "digitization-outage",
    "e-result-outage",
    "sync-outage",
)
_VIETNAM = timezone(timedelta(hours=7))
_MOMENT = r"\d{4}-\d{2}-\d{2}(?:T\d{2}(?::\d{2}){0,2})?"
_SPEC = re.compile(rf"^(?P<kind>[a-z-]+):(?P<unit>[^:]+):(?P<start>{_MOMENT}):(?P<end>{_MOMENT})$")


@dataclass(frozen=True)
class Incident:
    kind: str
    unit_code: str
    start_s: int
    """Epoch seconds, inclusive."""
    end_s: int
    """Epoch seconds, exclusive."""


def parse_incident(spec: str, reference: Reference) -> Incident:
    """Parse ``KIND:UNIT:FROM:TO``; raises ConfigError saying what is wrong with it."""
    match = _SPEC.match(spec.strip())
    if match is None:
        raise ConfigError(
            f"incident {spec!r}: expected KIND:UNIT:FROM:TO, e.g. "
            "payment-outage:H70.21.03:2024-03-04:2024-03-06"
        )
    kind, unit = match["kind"], match["unit"]
    if kind not in KINDS:
        raise ConfigError(
            f"incident {spec!r}: unknown kind {kind!r}; choose one of {', '.join(KINDS)}"
        )
    if not reference.has_unit(unit):
        raise ConfigError(f"incident {spec!r}: unknown unit {unit!r}")
    start_s = _epoch_s(match["start"], end_of_day=False)
    end_s = _epoch_s(match["end"], end_of_day=True)
    if end_s <= start_s:
        raise ConfigError(f"incident {spec!r}: TO must be after FROM")
    return Incident(kind=kind, unit_code=unit, start_s=start_s, end_s=end_s)


def _epoch_s(text: str, *, end_of_day: bool) -> int:
    try:
        if "T" in text:
            moment = datetime.fromisoformat(text).replace(tzinfo=_VIETNAM)
        else:
            day = date.fromisoformat(text) + timedelta(days=1 if end_of_day else 0)
            moment = datetime(day.year, day.month, day.day, tzinfo=_VIETNAM)
    except ValueError as exc:
        raise ConfigError(f"incident time {text!r}: {exc}") from None
    return int(moment.timestamp())


class IncidentBook:
    """Fast lookup: is an incident of this kind active for this unit at this time?"""

    def __init__(self, incidents: Iterable[Incident], reference: Reference) -> None:
        self._periods: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for incident in incidents:
            for code in (incident.unit_code, *reference.descendants(incident.unit_code)):
                self._periods.setdefault((incident.kind, code), []).append(
                    (incident.start_s, incident.end_s)
                )
        self.kinds = frozenset(kind for kind, _ in self._periods)

    def active_until(self, kind: str, unit_code: str, ts_s: int) -> int | None:
        """End (epoch s) of an incident of ``kind`` covering ``unit_code`` at ``ts_s``, else None."""
        for start_s, end_s in self._periods.get((kind, unit_code), ()):
            if start_s <= ts_s < end_s:
                return end_s
        return None
