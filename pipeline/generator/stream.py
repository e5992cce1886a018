"""The day loop: dossiers received day by day, their events gathered into per-day output batches.

Everything derives from the seed: each (reception day, unit) has its own ``random.Random`` seeded
from (seed, date, unit code), and so does its noise, so a unit's day is the same whatever
``start``, ``days``, incidents at other units or the noise settings around it. Output is the
events whose ``occurred_at`` falls in [start, start + days), in time order per emission day
(plus the noise: late, duplicated and bad lines).

Why batches per day: every event of a dossier happens at or after its reception, so once all
dossiers of day D are simulated, no later dossier can add an event to day D. Day D's batch is
then sorted and handed out, which keeps memory to the events still pending in the future.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from operator import itemgetter

from pipeline.generator.calendar import DAY_S, WorkingDays, day_of, day_start_s, to_date, to_day
from pipeline.generator.incidents import Incident, IncidentBook
from pipeline.generator.lifecycle import Lifecycle, facts_of
from pipeline.generator.noise import BAD_KINDS, Noise, corrupt, with_new_id
from pipeline.generator.profile import Profile
from pipeline.generator.province import ProvinceModel
from pipeline.generator.timestamps import Rfc3339
from pipeline.reference import Reference

Item = tuple[int, str, str, str]
"""(emission time in epoch s, JSON line without newline, dossier_id, event type) of a line;
the emission time is occurred_at except for lines the noise holds back or re-sends."""

_EMIT_TIME = itemgetter(0)
_CALENDAR_MARGIN_DAYS = 250
QUIET = Noise()


@dataclass
class DayBatch:
    """The output lines of one local day, in emission order, with what they contain."""

    day: date
    items: list[Item]
    dossiers: int = 0
    """Dossiers received (within the window) on this day."""
    bad: int = 0
    """Bad lines added (see noise.BAD_KINDS)."""
    duplicates: int = 0
    """Events sent a second time (same id, or same fact under a new id)."""

    @property
    def lines(self) -> list[str]:
        return [item[1] for item in self.items]

    def to_bytes(self) -> bytes:
        """The batch as JSON Lines, each line ending in a newline.

        Encoding line by line keeps ASCII lines on the fast path; joining first would widen the
        whole day to two bytes per character as soon as one line holds Vietnamese text.
        """
        if not self.items:
            return b""
        return b"\n".join([item[1].encode() for item in self.items]) + b"\n"

    @property
    def events(self) -> int:
        """Good events in this batch, counting each once (no duplicates, no bad lines)."""
        return len(self.items) - self.bad - self.duplicates


def seed_tag(seed: int) -> str:
    """Four hex digits of the seed's hash, appended to dossier ids so seeds never collide."""
    return hashlib.sha256(str(seed).encode()).hexdigest()[:4]


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's product method below 30, a rounded normal above)."""
    if mean <= 0:
        return 0
    if mean < 30:
        limit = math.exp(-mean)
        count, product = 0, rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
        return count
    return max(0, int(rng.gauss(mean, math.sqrt(mean)) + 0.5))


def generate_batches(
    reference: Reference,
    *,
    seed: int,
    start: date,
    days: int,
    profile: Profile,
    incidents: Iterable[Incident] = (),
    noise: Noise = QUIET,
) -> Iterator[DayBatch]:
    """Simulate the province and yield one DayBatch per output day, in order.

    ``days`` >= 1. The batches cover [start, start + days) by occurred_at; with ``noise`` some
    lines arrive after that window, in extra batches at the end. Deterministic in all inputs.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    model = ProvinceModel(reference, profile, seed)
    first_day = to_day(start)
    end_day = first_day + days
    start_s, end_s = day_start_s(first_day), day_start_s(end_day)
    sim_first = first_day - profile.lead_in_days
    calendar = WorkingDays(sim_first - 10, end_day + _CALENDAR_MARGIN_DAYS)
    clock = Rfc3339()
    lifecycle = Lifecycle(calendar, IncidentBook(incidents, reference), clock)
    tag = seed_tag(seed)
    units = model.units
    facts = {u.index: tuple(facts_of(p) for p in u.procedures) for u in units}
    noisy = not noise.is_quiet
    bad_per_good = noise.bad_per_good

    dossier = lifecycle.dossier
    pending: dict[int, DayBatch] = {}

    def batch_of(day: int) -> DayBatch:
        batch = pending.get(day)
        if batch is None:
            batch = pending[day] = DayBatch(day=to_date(day), items=[])
        return batch

    for day in range(sim_first, end_day):
        if day >= first_day:
            batch_of(day)  # every window day yields a batch, even a quiet holiday
        expected = model.expected_dossiers(day)
        if expected > 0:
            iso = to_date(day).isoformat()
            rates = model.rates_for(day)
            yymmdd = to_date(day).strftime("%y%m%d")
            received_batch = batch_of(day) if day >= first_day else None
            # Most events happen on their reception day: a direct append beats a dict lookup.
            today = received_batch.items.append if received_batch is not None else None
            for unit in units:
                # One generator per unit and day: an incident at one unit leaves the others' bytes alone.
                rng = random.Random(f"{seed}:{iso}:{unit.code}")
                noise_rng = random.Random(f"{seed}:noise:{iso}:{unit.code}") if noisy else None
                count = poisson(rng, expected * unit.share)
                if not count:
                    continue
                if received_batch is not None:
                    received_batch.dossiers += count
                unit_rates = rates[unit.index]
                unit_facts = facts[unit.index]
                cumulative = unit.cumulative
                last = len(unit_facts) - 1
                code = unit.code
                for number in range(1, count + 1):
                    chosen = unit_facts[min(last, bisect_left(cumulative, rng.random()))]
                    dossier_id = f"{code}-{yymmdd}-{number:04d}-{tag}"
                    # Only events at or after start_s come back (the lifecycle skips the others).
                    for item in dossier(rng, code, dossier_id, chosen, day, unit_rates, start_s):
                        ts = item[0]
                        if ts >= end_s:
                            continue
                        key = (ts + 25_200) // DAY_S  # its local day
                        if key == day:
                            today(item)  # type: ignore[misc]
                        else:
                            (pending.get(key) or batch_of(key)).items.append(item)
                        if noise_rng is not None:
                            _add_noise(noise_rng, noise, bad_per_good, batch_of, item)
        for ready in sorted(d for d in pending if d <= day):
            yield _finish(pending.pop(ready))
    for ready in sorted(pending):
        yield _finish(pending.pop(ready))


def _add_noise(
    rng: random.Random,
    noise: Noise,
    bad_per_good: float,
    batch_of: Callable[[int], DayBatch],
    item: Item,
) -> None:
    """Maybe re-send, hold back or add a bad copy of the event just emitted."""
    ts, line, dossier_id, kind = item
    if noise.duplicates and rng.random() < noise.duplicates:
        copy = line if rng.random() < 0.6 else with_new_id(line)
        later = ts + 1 + int(rng.random() * 7200)
        target = batch_of(day_of(later))
        target.items.append((later, copy, dossier_id, kind))
        target.duplicates += 1
    if noise.disorder and rng.random() < noise.disorder:
        current = batch_of(day_of(ts))
        current.items.pop(_find_last(current.items, item))
        later = ts + 60 + int(rng.random() * 36 * 3600)
        batch_of(day_of(later)).items.append((later, line, dossier_id, kind))
    if bad_per_good and rng.random() < bad_per_good:
        bad_kind = BAD_KINDS[int(rng.random() * len(BAD_KINDS))]
        later = ts + int(rng.random() * 600)
        target = batch_of(day_of(later))
        target.items.append((later, corrupt(line, bad_kind, rng), dossier_id, kind))
        target.bad += 1


def _find_last(items: list[Item], item: Item) -> int:
    for i in range(len(items) - 1, -1, -1):
        if items[i] is item:
            return i
    raise LookupError("event to hold back is not in its batch")


def _finish(batch: DayBatch) -> DayBatch:
    # Stable: lines of the same second keep the order they were simulated in.
    batch.items.sort(key=_EMIT_TIME)
    return batch
