"""The simulated province: which units receive how much, of which procedures, at what rates.

Built once from the reference data, a profile and the seed. Units differ: each gets a volume
(log-normal within its level) and a *maturity* on the logit scale, and about one commune in
eight lags far behind. ``rates_for(day)`` gives every unit's probabilities for the week that
contains ``day``, calibrated so that the province-wide, volume-weighted means equal the
profile's targets for that week (calibration.py), trend included.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date

from pipeline.generator.calendar import is_working_day, to_date, to_day, weekday
from pipeline.generator.calibration import logit, sigmoid, solve_shift
from pipeline.generator.profile import ANCHOR, Profile
from pipeline.reference import Procedure, Reference

# Indexes into a unit's rate tuple.
ONLINE_FULL, ONLINE_PARTIAL, PAY_ONLINE, PAY_OFFLINE = 0, 1, 2, 3
ERESULT_ONLINE, ERESULT_OFFLINE, DIGITIZE_ONLINE, DIGITIZE_OFFLINE, REUSE, SYNC = 4, 5, 6, 7, 8, 9
# Province-wide scalars (no unit spread): P(data-store component | reused), P(VNeID data |
# digitised), P(handled late), P(complaint answered in time).
DATA_STORE, POPULATION, LATE, FEEDBACK_ON_TIME = 10, 11, 12, 13

# Stratum effects on the logit scale: full-process services are filed online more than partial
# ones; people who filed online also pay online, get e-results and upload their papers more.
_BUMP_FULL, _BUMP_PARTIAL = 0.5, -0.6
_BUMP_PAY = (1.2, -1.0)
_BUMP_ERESULT = (0.7, -0.5)
_BUMP_DIGITIZE = (0.5, -0.3)
_CLASS_POPULARITY = {"full": 2.0, "partial": 1.3, "none": 1.0}
_INDICATORS = ("online_filing", "online_payment", "e_result", "digitization", "portal_sync")
WEEK_DAYS = 7

ClassShares = tuple[float, float, float]
"""Fractions of a unit's dossiers by online level of the procedure: (full, partial, none)."""


@dataclass(frozen=True)
class UnitPlan:
    """One unit that receives dossiers, with everything the day loop needs about it."""

    index: int
    code: str
    level: str
    share: float
    """Expected fraction of the province's dossiers."""
    offsets: dict[str, float]
    """Logit offset per indicator (maturity plus a little indicator-specific noise)."""
    procedures: tuple[Procedure, ...]
    cumulative: tuple[float, ...]
    """Cumulative popularity of ``procedures`` (draw with bisect)."""
    all_by_class: ClassShares
    fee_by_class: ClassShares
    document_by_class: ClassShares


class ProvinceModel:
    """Units, procedure mixes and calibrated rates of one simulated province."""

    def __init__(self, reference: Reference, profile: Profile, seed: int) -> None:
        self.reference = reference
        self.profile = profile
        self.seed = seed
        self.units = _plan_units(reference, profile, seed)
        self._rates: dict[int, list[tuple[float, ...]]] = {}
        self._year_volume: dict[int, float] = {}

    # --- volume -------------------------------------------------------------------------
    def expected_dossiers(self, day: int) -> float:
        """Dossiers the whole province receives on ``day`` (0 on weekends and holidays)."""
        if not is_working_day(day):
            return 0.0
        year = to_date(day).year
        if year not in self._year_volume:
            first, last = to_day(date(year, 1, 1)), to_day(date(year, 12, 31))
            self._year_volume[year] = sum(
                self._weekday_factor(d) for d in range(first, last + 1) if is_working_day(d)
            )
        return self.profile.annual_dossiers * self._weekday_factor(day) / self._year_volume[year]

    def _weekday_factor(self, day: int) -> float:
        volume = self.profile.weekday_volume
        # A make-up Saturday stands in for a bridged weekday: the average weekday's volume.
        return volume[weekday(day)] if weekday(day) < len(volume) else sum(volume) / len(volume)

    # --- rates --------------------------------------------------------------------------
    def targets_at(self, day: float) -> dict[str, float]:
        """The province-wide target of each indicator on (fractional) local day ``day``."""
        years = (day - to_day(ANCHOR)) / 365.25
        return {name: target.at(years) for name, target in self.profile.targets.items()}

    def rates_for(self, day: int) -> list[tuple[float, ...]]:
        """Per unit (by ``UnitPlan.index``) the rate tuple for the week containing ``day``."""
        week = day // WEEK_DAYS
        rates = self._rates.get(week)
        if rates is None:
            rates = self._rates[week] = self._calibrate(self.targets_at(week * WEEK_DAYS + 3.5))
        return rates

    def _calibrate(self, targets: dict[str, float]) -> list[tuple[float, ...]]:
        units = self.units
        base = {name: logit(targets[name]) for name in _INDICATORS}

        x = [base["online_filing"] + u.offsets["online_filing"] for u in units]
        shift = solve_shift(
            [
                term
                for u, xu in zip(units, x, strict=True)
                for term in (
                    (u.share * u.all_by_class[0], xu + _BUMP_FULL),
                    (u.share * u.all_by_class[1], xu + _BUMP_PARTIAL),
                    (u.share * u.all_by_class[2], -math.inf),
                )
            ],
            targets["online_filing"],
        )
        online = [
            (sigmoid(xu + _BUMP_FULL + shift), sigmoid(xu + _BUMP_PARTIAL + shift)) for xu in x
        ]

        def by_channel(name: str, bump: tuple[float, float], mix: str) -> list[tuple[float, float]]:
            terms: list[tuple[float, float]] = []
            for u, (full, partial) in zip(units, online, strict=True):
                shares: ClassShares = getattr(u, mix)
                total = sum(shares)
                q = (shares[0] * full + shares[1] * partial) / total if total > 0 else 0.0
                xu = base[name] + u.offsets[name]
                terms.append((u.share * total * q, xu + bump[0]))
                terms.append((u.share * total * (1 - q), xu + bump[1]))
            c = solve_shift(terms, targets[name])
            return [
                (
                    sigmoid(base[name] + u.offsets[name] + bump[0] + c),
                    sigmoid(base[name] + u.offsets[name] + bump[1] + c),
                )
                for u in units
            ]

        pay = by_channel("online_payment", _BUMP_PAY, "fee_by_class")
        eresult = by_channel("e_result", _BUMP_ERESULT, "document_by_class")
        digitize = by_channel("digitization", _BUMP_DIGITIZE, "all_by_class")
        reuse = (
            min(1.0, targets["data_reuse"] / targets["digitization"])
            if targets["digitization"] > 0
            else 0.0
        )
        if targets["portal_sync"] >= 1.0:
            sync = [1.0] * len(units)
        else:
            xs = [base["portal_sync"] + u.offsets["portal_sync"] for u in units]
            c = solve_shift(
                [(u.share, xu) for u, xu in zip(units, xs, strict=True)], targets["portal_sync"]
            )
            sync = [sigmoid(xu + c) for xu in xs]
        shared = (
            _conditional(targets, "data_store", "data_reuse"),
            _conditional(targets, "population_data", "digitization"),
            targets.get("late", 0.035),
            targets.get("feedback_on_time", 0.93),
        )
        return [
            (*online[i], *pay[i], *eresult[i], *digitize[i], reuse, sync[i], *shared)
            for i in range(len(units))
        ]


def _conditional(targets: dict[str, float], name: str, given: str) -> float:
    """P(name | given) so that the province-wide share of ``name`` is its target (0 if absent)."""
    if name not in targets or targets.get(given, 0.0) <= 0:
        return 0.0
    return min(1.0, targets[name] / targets[given])


def handles(unit_level: str, unit_code: str, procedure: Procedure) -> bool:
    """Whether a unit receives dossiers of a procedure (by the procedure's level and agency)."""
    return procedure.is_handled_by(unit_level, unit_code)


def _plan_units(reference: Reference, profile: Profile, seed: int) -> list[UnitPlan]:
    rng = random.Random(f"{seed}:units")
    candidates: list[tuple[str, str, tuple[Procedure, ...]]] = []
    for unit in reference.units:
        procedures = tuple(p for p in reference.procedures if handles(unit.level, unit.code, p))
        if procedures:
            candidates.append((unit.code, unit.level, procedures))

    levels = sorted({level for _, level, _ in candidates})
    known = [profile.level_shares[level] for level in levels if level in profile.level_shares]
    fallback = sum(known) / len(known) if known else 1.0
    level_share = {level: profile.level_shares.get(level, fallback) for level in levels}
    norm = sum(level_share.values())

    sizes = [math.exp(rng.gauss(0.0, 0.6)) for _ in candidates]
    level_size = {level: 0.0 for level in levels}
    for (_, level, _), size in zip(candidates, sizes, strict=True):
        level_size[level] += size

    tables: dict[
        tuple[str, ...], tuple[tuple[float, ...], ClassShares, ClassShares, ClassShares]
    ] = {}
    plans: list[UnitPlan] = []
    for index, ((code, level, procedures), size) in enumerate(zip(candidates, sizes, strict=True)):
        maturity = rng.gauss(0.0, profile.unit_spread)
        if level == "commune" and rng.random() < profile.laggard_share:
            maturity -= profile.laggard_gap
        offsets = {name: maturity + rng.gauss(0.0, 0.3) for name in _INDICATORS}
        key = tuple(p.code for p in procedures)
        if key not in tables:
            tables[key] = _popularity(
                procedures, random.Random(f"{seed}:procedures:{level}:{code}")
            )
        cumulative, all_by_class, fee_by_class, document_by_class = tables[key]
        plans.append(
            UnitPlan(
                index=index,
                code=code,
                level=level,
                share=level_share[level] / norm * size / level_size[level],
                offsets=offsets,
                procedures=procedures,
                cumulative=cumulative,
                all_by_class=all_by_class,
                fee_by_class=fee_by_class,
                document_by_class=document_by_class,
            )
        )
    return plans


def _popularity(
    procedures: tuple[Procedure, ...], rng: random.Random
) -> tuple[tuple[float, ...], ClassShares, ClassShares, ClassShares]:
    """Zipf-like popularity over a random ranking, online services favoured; class shares."""
    ranking = list(range(len(procedures)))
    rng.shuffle(ranking)
    weights = [0.0] * len(procedures)
    for rank, i in enumerate(ranking):
        weights[i] = _CLASS_POPULARITY[procedures[i].online_level] / (rank + 1) ** 0.85
    total = sum(weights)
    cumulative: list[float] = []
    running = 0.0
    shares = {"all": [0.0, 0.0, 0.0], "fee": [0.0, 0.0, 0.0], "document": [0.0, 0.0, 0.0]}
    for procedure, weight in zip(procedures, weights, strict=True):
        running += weight
        cumulative.append(running / total)
        k = ("full", "partial", "none").index(procedure.online_level)
        shares["all"][k] += weight / total
        if procedure.fee_bearing:
            shares["fee"][k] += weight / total
        if procedure.result_is_document:
            shares["document"][k] += weight / total
    cumulative[-1] = 1.0
    return (
        tuple(cumulative),
        (shares["all"][0], shares["all"][1], shares["all"][2]),
        (shares["fee"][0], shares["fee"][1], shares["fee"][2]),
        (shares["document"][0], shares["document"][1], shares["document"][2]),
    )
