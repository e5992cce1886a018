"""Alert rules: their model, and reading a rules file (YAML) with one-line errors naming rule and field.

A rules file has optional ``office_hours`` (``"07:30-17:00"``) and ``lateness`` (default ``1h``)
and a list of ``rules``; ``docs/alerts.md`` documents every field. Durations are whole hours
(``2h``, ``0h``, ``120m``) except ``minutes`` of a ``stalled`` rule, because rules are judged
once per closed hour. Rates are fractions (``0.3``); changes of a rate are percentage points
(``25pp``) or a share of the baseline (``40%``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from pipeline.alerts.calendar import OfficeHours
from pipeline.broker import INPUT_TOPICS
from pipeline.errors import ConfigError
from pipeline.rates import INDICATORS

KINDS = ("below", "drop", "stalled", "dead_letter_surge")
RATE_KINDS = ("below", "drop")
SEVERITIES = ("info", "warning", "critical")
MUTES = ("outside_office_hours", "holidays")
DEFAULT_RULES_FILE = "default-rules.yaml"
MAX_BASELINE_WEEKS = 4
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_HOURS_RE = re.compile(r"^(\d+)\s*(h|m)$")
_CHANGE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(pp|%)$")
_CLOCK_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class Scope:
    """Which units a rate rule judges: the province, every unit of some levels, or listed units."""

    province: bool = False
    levels: tuple[str, ...] = ()
    units: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.province:
            return "province"
        if self.levels:
            return "level " + ", ".join(self.levels)
        return "units " + ", ".join(self.units)


@dataclass(frozen=True)
class Change:
    """A fall relative to a baseline: ``amount`` percentage points, or ``amount`` % of it."""

    amount: float
    unit: str
    """``pp`` or ``%``."""

    def floor(self, baseline: float) -> float:
        """The rate this far below ``baseline``."""
        if self.unit == "pp":
            return baseline - self.amount / 100
        return baseline * (1 - self.amount / 100)

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit}"


@dataclass(frozen=True)
class Rule:
    """One rule. Fields that do not apply to its kind keep their defaults."""

    name: str
    kind: str
    severity: str = "warning"
    for_hours: int = 0
    keep_firing_for_hours: int = 0
    mute_outside_office_hours: bool = True
    mute_on_holidays: bool = True
    lateness_hours: int = 1
    description: str = ""
    # rate rules (below, drop)
    indicator: str = ""
    scope: Scope = Scope(province=True)
    window_hours: int = 3
    min_denominator: int = 30
    below: float = 0.0
    """below: fire when the rate is under this."""
    recover_above: float = 0.0
    """below: resolve only when the rate is at least this (hysteresis)."""
    drop: Change = Change(25, "pp")
    """drop: fire when the rate is at least this far below the baseline."""
    recover_within: Change = Change(10, "pp")
    """drop: resolve only when the rate is at most this far below the baseline."""
    baseline_weeks: int = 4
    min_baseline_weeks: int = 1
    min_z: float = 0.0
    """drop: also require the fall to be this many standard errors of a binomial at the baseline
    rate, (baseline * n - numerator) / sqrt(n * baseline * (1 - baseline)); 0 = no such test."""
    # stalled
    topic: str = ""
    minutes: int = 60
    # dead_letter_surge
    above: float = 0.05
    recover_below: float = 0.02
    min_messages: int = 200

    @property
    def is_rate(self) -> bool:
        return self.kind in RATE_KINDS


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    office: OfficeHours = OfficeHours()
    source: str = DEFAULT_RULES_FILE

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


def default_rules_text() -> str:
    return resources.files("pipeline.alerts").joinpath(DEFAULT_RULES_FILE).read_text("utf-8")


def load_rules(
    path: str | Path | None = None,
    unit_codes: frozenset[str] | None = None,
    levels: tuple[str, ...] = (),
) -> RuleSet:
    """The rules of ``path`` (the shipped defaults when None); raises ConfigError on any problem.

    ``unit_codes`` and ``levels``, when given, check ``scope`` against the reference data.
    """
    if path is None:
        return parse_rules(default_rules_text(), DEFAULT_RULES_FILE, unit_codes, levels)
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"rules file {path}: cannot read it ({exc.__class__.__name__})") from None
    return parse_rules(text, str(path), unit_codes, levels)


def parse_rules(
    text: str,
    source: str = "<rules>",
    unit_codes: frozenset[str] | None = None,
    levels: tuple[str, ...] = (),
) -> RuleSet:
    """Parse and validate a rules document (see the module docstring)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"rules file {source}:{where} not valid YAML") from None
    if not isinstance(document, dict):
        raise ConfigError(f"rules file {source}: expected a mapping with 'rules'")
    unknown = set(document) - {"office_hours", "lateness", "rules"}
    if unknown:
        raise ConfigError(f"rules file {source}: unknown key {sorted(unknown)[0]!r}")
    office = OfficeHours()
    if "office_hours" in document:
        office = _office_hours(source, document["office_hours"])
    default_lateness = 1
    if "lateness" in document:
        default_lateness = _hours(f"rules file {source}: 'lateness'", document["lateness"])
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ConfigError(f"rules file {source}: 'rules' must be a non-empty list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        rule = _rule(source, index, raw, default_lateness, unit_codes, levels)
        if rule.name in seen:
            raise ConfigError(f"rules file {source}: rule {rule.name!r}: duplicate name")
        seen.add(rule.name)
        rules.append(rule)
    return RuleSet(tuple(rules), office, source)


_COMMON = {"name", "kind", "severity", "for", "keep_firing_for", "mute", "lateness", "description"}
_FIELDS = {
    "below": _COMMON
    | {"indicator", "scope", "window", "min_denominator", "below", "recover_above"},
    "drop": _COMMON
    | {
        "indicator",
        "scope",
        "window",
        "min_denominator",
        "drop",
        "recover_within",
        "baseline_weeks",
        "min_baseline_weeks",
        "min_z",
    },
    "stalled": _COMMON | {"topic", "minutes"},
    "dead_letter_surge": _COMMON | {"window", "above", "recover_below", "min_messages"},
}
_REQUIRED = {
    "below": ("indicator", "scope", "below", "recover_above"),
    "drop": ("indicator", "scope", "drop", "recover_within"),
    "stalled": ("topic", "minutes"),
    "dead_letter_surge": ("above", "recover_below"),
}


def _rule(
    source: str,
    index: int,
    raw: Any,
    default_lateness: int,
    unit_codes: frozenset[str] | None,
    levels: tuple[str, ...],
) -> Rule:
    if not isinstance(raw, dict):
        raise ConfigError(f"rules file {source}: rule #{index + 1}: expected a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(
            f"rules file {source}: rule #{index + 1}: field 'name': use a-z, 0-9 and '-' (at most 63)"
        )
    where = f"rules file {source}: rule {name!r}"
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: field 'kind': expected one of {', '.join(KINDS)}")
    unknown = sorted(set(raw) - _FIELDS[kind])
    if unknown:
        raise ConfigError(f"{where}: field {unknown[0]!r}: not a field of a {kind} rule")
    for required in _REQUIRED[kind]:
        if required not in raw:
            raise ConfigError(f"{where}: field {required!r}: required for a {kind} rule")
    values: dict[str, Any] = {"name": name, "kind": kind, "lateness_hours": default_lateness}

    def field(key: str) -> str:
        return f"{where}: field {key!r}"

    if "severity" in raw:
        if raw["severity"] not in SEVERITIES:
            raise ConfigError(f"{field('severity')}: expected one of {', '.join(SEVERITIES)}")
        values["severity"] = raw["severity"]
    if "description" in raw:
        if not isinstance(raw["description"], str):
            raise ConfigError(f"{field('description')}: expected text")
        values["description"] = raw["description"]
    if "for" in raw:
        values["for_hours"] = _hours(field("for"), raw["for"])
    if "keep_firing_for" in raw:
        values["keep_firing_for_hours"] = _hours(field("keep_firing_for"), raw["keep_firing_for"])
    if "lateness" in raw:
        values["lateness_hours"] = _hours(field("lateness"), raw["lateness"])
    if "mute" in raw:
        mute = raw["mute"]
        if not isinstance(mute, list) or any(m not in MUTES for m in mute):
            raise ConfigError(f"{field('mute')}: expected a list of {', '.join(MUTES)} (or [])")
        values["mute_outside_office_hours"] = "outside_office_hours" in mute
        values["mute_on_holidays"] = "holidays" in mute
    if "window" in raw:
        values["window_hours"] = _hours(field("window"), raw["window"], minimum=1)
    if kind in RATE_KINDS:
        if raw["indicator"] not in INDICATORS:
            raise ConfigError(f"{field('indicator')}: expected one of {', '.join(INDICATORS)}")
        values["indicator"] = raw["indicator"]
        values["scope"] = _scope(field("scope"), raw["scope"], unit_codes, levels)
        if "min_denominator" in raw:
            values["min_denominator"] = _whole(field("min_denominator"), raw["min_denominator"], 1)
    if kind == "below":
        values["below"] = _fraction(field("below"), raw["below"])
        values["recover_above"] = _fraction(field("recover_above"), raw["recover_above"])
        if values["recover_above"] < values["below"]:
            raise ConfigError(f"{field('recover_above')}: must be at least 'below'")
    if kind == "drop":
        values["drop"] = _change(field("drop"), raw["drop"])
        values["recover_within"] = _change(field("recover_within"), raw["recover_within"])
        if values["recover_within"].unit != values["drop"].unit:
            raise ConfigError(f"{field('recover_within')}: use the same unit as 'drop' (pp or %)")
        if values["recover_within"].amount > values["drop"].amount:
            raise ConfigError(f"{field('recover_within')}: must not exceed 'drop'")
        if "baseline_weeks" in raw:
            values["baseline_weeks"] = _whole(
                field("baseline_weeks"), raw["baseline_weeks"], 1, MAX_BASELINE_WEEKS
            )
        if "min_z" in raw:
            z = raw["min_z"]
            if not isinstance(z, int | float) or isinstance(z, bool) or not 0 <= z <= 20:
                raise ConfigError(
                    f"{field('min_z')}: expected a number of standard errors 0..20, got {z!r}"
                )
            values["min_z"] = float(z)
        if "min_baseline_weeks" in raw:
            values["min_baseline_weeks"] = _whole(
                field("min_baseline_weeks"),
                raw["min_baseline_weeks"],
                1,
                values.get("baseline_weeks", 4),
            )
    if kind == "stalled":
        if raw["topic"] not in INPUT_TOPICS:
            raise ConfigError(f"{field('topic')}: expected one of {', '.join(INPUT_TOPICS)}")
        values["topic"] = raw["topic"]
        values["minutes"] = _whole(field("minutes"), raw["minutes"], 1, 24 * 60)
    if kind == "dead_letter_surge":
        values["above"] = _fraction(field("above"), raw["above"])
        values["recover_below"] = _fraction(field("recover_below"), raw["recover_below"])
        if values["recover_below"] > values["above"]:
            raise ConfigError(f"{field('recover_below')}: must not exceed 'above'")
        if "min_messages" in raw:
            values["min_messages"] = _whole(field("min_messages"), raw["min_messages"], 1)
    return Rule(**values)


def _hours(where: str, raw: Any, minimum: int = 0) -> int:
    match = _HOURS_RE.match(str(raw).strip()) if isinstance(raw, str | int) else None
    if match is None:
        raise ConfigError(f"{where}: expected a duration like 2h or 120m, got {raw!r}")
    amount, unit = int(match[1]), match[2]
    if unit == "m":
        if amount % 60:
            raise ConfigError(
                f"{where}: {raw!r} is not whole hours (rules are judged once an hour)"
            )
        amount //= 60
    if amount < minimum or amount > 24 * 7:
        raise ConfigError(f"{where}: {raw!r} must be between {minimum}h and 168h")
    return amount


def _whole(where: str, raw: Any, minimum: int, maximum: int | None = None) -> int:
    if (
        not isinstance(raw, int)
        or isinstance(raw, bool)
        or raw < minimum
        or (maximum is not None and raw > maximum)
    ):
        bound = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(f"{where}: expected a whole number {bound}, got {raw!r}")
    return raw


def _fraction(where: str, raw: Any) -> float:
    if not isinstance(raw, int | float) or isinstance(raw, bool) or not 0 <= raw <= 1:
        raise ConfigError(f"{where}: expected a rate between 0 and 1, got {raw!r}")
    return float(raw)


def _change(where: str, raw: Any) -> Change:
    match = _CHANGE_RE.match(str(raw).strip())
    if match is None:
        raise ConfigError(
            f"{where}: expected percentage points like 25pp or a share like 40%, got {raw!r}"
        )
    amount = float(match[1])
    if not 0 < amount <= 100:
        raise ConfigError(f"{where}: {raw!r} must be above 0 and at most 100")
    return Change(amount, match[2])


def _scope(
    where: str, raw: Any, unit_codes: frozenset[str] | None, levels: tuple[str, ...]
) -> Scope:
    if raw == "province":
        return Scope(province=True)
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in ("level", "units"):
        raise ConfigError(
            f"{where}: expected 'province', {{level: district}} or {{units: [CODE, ...]}}"
        )
    key, value = next(iter(raw.items()))
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where}: {key} must be a name or a non-empty list of names")
    if key == "level":
        for level in names:
            if levels and level not in levels:
                raise ConfigError(
                    f"{where}: unknown level {level!r}; levels are {', '.join(levels)}"
                )
        return Scope(levels=tuple(names))
    for code in names:
        if unit_codes is not None and code not in unit_codes:
            raise ConfigError(f"{where}: unknown unit {code!r}")
    return Scope(units=tuple(names))


def _office_hours(source: str, raw: Any) -> OfficeHours:
    match = _CLOCK_RE.match(str(raw).strip())
    try:
        if match is None:
            raise ValueError
        return OfficeHours(int(match[1]) * 60 + int(match[2]), int(match[3]) * 60 + int(match[4]))
    except ValueError:
        raise ConfigError(
            f"rules file {source}: 'office_hours': expected HH:MM-HH:MM, got {raw!r}"
        ) from None
