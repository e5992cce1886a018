"""The evaluator: judge every rule at every unit of its scope at one instant, from facts read beforehand.

Pure and deterministic: ``needs`` says which windows an instant requires, an adapter reads
those facts (``sinks.alert_reader`` from ClickHouse, or ``pipeline.alerts.history`` from rows
loaded once for a backtest), and ``evaluate`` turns facts and the current states into new
states and transitions. Evaluation instants are whole hours of event time; at instant T a rule
looks at the hours that ended ``lateness`` before T, so late events have had time to arrive.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.alerts.calendar import (
    OfficeHours,
    holiday_name,
    is_office_hour,
    local_date,
    office_minutes_between,
)
from pipeline.alerts.rules import Rule, RuleSet
from pipeline.alerts.state import NOT_JUDGED, AlertState, Judgement, Transition, step
from pipeline.rates import Counts, UnitTotals
from pipeline.reference import Reference
from pipeline.windows import DAY_MS, HOUR_MS

WEEK_MS = 7 * DAY_MS
STALL_LOOKBACK_MS = 7 * DAY_MS
"""How far back ``stalled`` looks for the last event of a topic."""
DEAD_LETTERS = "dead_letters"

Window = tuple[int, int]
"""[start_ms, end_ms) on the hour grid."""
StateKey = tuple[str, str]
"""(rule name, unit_code)."""


@dataclass(frozen=True)
class Needs:
    """The facts one evaluation instant requires."""

    rate_windows: frozenset[Window] = frozenset()
    indicators: frozenset[str] = frozenset()
    topic_ends: frozenset[tuple[str, int]] = frozenset()
    message_windows: frozenset[Window] = frozenset()


@dataclass
class Facts:
    rates: dict[Window, UnitTotals] = field(default_factory=dict)
    """Per window, counts of the units where dossiers were received (not rolled up)."""
    last_event_ms: dict[tuple[str, int], int | None] = field(default_factory=dict)
    """(topic, end_ms) -> time of the topic's last event in [end - 7 days, end), or None."""
    messages: dict[Window, tuple[int, int]] = field(default_factory=dict)
    """Per window: (dead letters, accepted events)."""


def window_end(rule: Rule, at_ms: int) -> int:
    return at_ms - rule.lateness_hours * HOUR_MS


def rate_windows(rule: Rule, at_ms: int) -> list[Window]:
    """The current window, then the same hours 1..baseline_weeks weeks earlier (drop rules)."""
    end = window_end(rule, at_ms)
    start = end - rule.window_hours * HOUR_MS
    weeks = rule.baseline_weeks if rule.kind == "drop" else 0
    return [(start - k * WEEK_MS, end - k * WEEK_MS) for k in range(weeks + 1)]


def needs(ruleset: RuleSet, at_ms: int, skip_muted: bool = True) -> Needs:
    """What the rules not muted at ``at_ms`` will read (muted rules read nothing, unless not ``skip_muted``)."""
    rate: set[Window] = set()
    indicators: set[str] = set()
    topics: set[tuple[str, int]] = set()
    messages: set[Window] = set()
    for rule in ruleset.rules:
        end = window_end(rule, at_ms)
        if skip_muted and is_muted(rule, end, ruleset.office):
            continue
        if rule.is_rate:
            rate.update(rate_windows(rule, at_ms))
            indicators.add(rule.indicator)
        elif rule.kind == "stalled":
            topics.add((rule.topic, end))
        else:
            messages.add((end - rule.window_hours * HOUR_MS, end))
    return Needs(frozenset(rate), frozenset(indicators), frozenset(topics), frozenset(messages))


def targets(rule: Rule, reference: Reference) -> tuple[str, ...]:
    """The units a rule judges; province-wide kinds (stalled, dead letters) judge the province."""
    if not rule.is_rate or rule.scope.province:
        return (reference.root.code,)
    if rule.scope.levels:
        return tuple(u.code for level in rule.scope.levels for u in reference.units_at(level))
    return rule.scope.units


def indicator_of(rule: Rule) -> str:
    """What the alert is about: the indicator, the stalled topic, or dead letters."""
    if rule.is_rate:
        return rule.indicator
    return rule.topic if rule.kind == "stalled" else DEAD_LETTERS


def is_muted(rule: Rule, end_ms: int, office: OfficeHours) -> bool:
    """Is the hour ending at ``end_ms`` outside what the rule judges (office hours, holidays)?"""
    hour = end_ms - HOUR_MS
    if rule.mute_on_holidays and holiday_name(local_date(hour)) is not None:
        return True
    return rule.mute_outside_office_hours and not is_office_hour(
        hour, office, holidays_closed=rule.mute_on_holidays
    )


class Evaluator:
    """Judges a rule set over a unit hierarchy; holds no state between calls but caches targets."""

    def __init__(self, ruleset: RuleSet, reference: Reference) -> None:
        self.ruleset = ruleset
        self.reference = reference
        self.targets = {rule.name: targets(rule, reference) for rule in ruleset.rules}
        # A unit's counts are those received at it and at every unit below it.
        self.members = {
            unit: (unit, *reference.descendants(unit))
            for units in self.targets.values()
            for unit in units
        }

    def needs(self, at_ms: int) -> Needs:
        return needs(self.ruleset, at_ms)

    def evaluate(
        self, facts: Facts, states: Mapping[StateKey, AlertState], at_ms: int
    ) -> tuple[list[AlertState], list[Transition]]:
        """Judge every (rule, unit) at ``at_ms``; return the states that changed and the transitions."""
        changed: list[AlertState] = []
        transitions: list[Transition] = []
        for rule in self.ruleset.rules:
            for unit in self.targets[rule.name]:
                seen = self._judge(rule, unit, facts, at_ms)
                current = states.get((rule.name, unit)) or AlertState(rule.name, unit)
                after, moved = step(
                    current, seen, rule.for_hours, rule.keep_firing_for_hours, at_ms
                )
                if after != current:
                    changed.append(after)
                if moved:
                    transitions.append(
                        Transition(
                            rule=rule.name,
                            unit_code=unit,
                            indicator=indicator_of(rule),
                            state=after.state,
                            at_ms=at_ms,
                            value=after.value,
                            baseline=after.baseline,
                            denominator=after.denominator,
                            severity=rule.severity,
                            kind=rule.kind,
                        )
                    )
        return changed, transitions

    def _judge(self, rule: Rule, unit: str, facts: Facts, at_ms: int) -> Judgement:
        end = window_end(rule, at_ms)
        if is_muted(rule, end, self.ruleset.office):
            return NOT_JUDGED
        if rule.kind == "stalled":
            return self._judge_stalled(rule, facts, end)
        if rule.kind == "dead_letter_surge":
            return _judge_messages(rule, facts, end)

        members = self.members[unit]

        def counts(window: Window) -> Counts:
            leaf = facts.rates.get(window, {})
            numerator = denominator = 0
            for member in members:
                found = leaf.get(member)
                if found is not None and rule.indicator in found:
                    numerator += found[rule.indicator].numerator
                    denominator += found[rule.indicator].denominator
            return Counts(numerator, denominator)

        windows = rate_windows(rule, at_ms)
        now = counts(windows[0])
        if now.denominator < rule.min_denominator or now.rate is None:
            return NOT_JUDGED
        value = now.rate
        if rule.kind == "below":
            return Judgement(
                True, value < rule.below, value >= rule.recover_above, value, None, now.denominator
            )
        weekly = []
        for window in windows[1:]:
            past = counts(window)
            if past.rate is None or past.denominator < rule.min_denominator:
                continue
            if rule.mute_on_holidays and holiday_name(local_date(window[1] - HOUR_MS)) is not None:
                continue
            weekly.append(past.rate)
        if len(weekly) < rule.min_baseline_weeks:
            return NOT_JUDGED
        baseline = statistics.median(weekly)
        return Judgement(
            True,
            breach=value <= rule.drop.floor(baseline) and z_score(now, baseline) >= rule.min_z,
            recovered=value >= rule.recover_within.floor(baseline),
            value=value,
            baseline=baseline,
            denominator=now.denominator,
        )

    def _judge_stalled(self, rule: Rule, facts: Facts, end: int) -> Judgement:
        last = facts.last_event_ms.get((rule.topic, end))
        since = last if last is not None else end - STALL_LOOKBACK_MS
        quiet = office_minutes_between(since, end, self.ruleset.office)
        stalled = quiet >= rule.minutes
        return Judgement(True, stalled, not stalled, float(quiet), float(rule.minutes), None)


def z_score(now: Counts, baseline: float) -> float:
    """How many binomial standard errors ``now`` lies below ``baseline`` (inf when it cannot vary)."""
    n = now.denominator
    spread = math.sqrt(n * baseline * (1 - baseline))
    shortfall = baseline * n - now.numerator
    if spread == 0:
        return math.inf if shortfall > 0 else 0.0
    return shortfall / spread


def _judge_messages(rule: Rule, facts: Facts, end: int) -> Judgement:
    dead, accepted = facts.messages.get((end - rule.window_hours * HOUR_MS, end), (0, 0))
    total = dead + accepted
    if total < rule.min_messages:
        return NOT_JUDGED
    share = dead / total
    return Judgement(True, share > rule.above, share <= rule.recover_below, share, None, total)
