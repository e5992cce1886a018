"""Noise a real feed has: re-sent events, late arrivals and bad lines, each a deterministic choice.

``Noise`` holds the fractions. ``corrupt`` turns one good line into a bad one of a given kind;
every kind is one that ``pipeline.events.decode_event`` or ``pipeline.validation`` rejects with
the same ``kind`` name, so tests and ingest can count them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import msgspec

from pipeline.errors import ConfigError

BAD_KINDS = (
    "not_json",
    "unknown_type",
    "missing_field",
    "wrong_type",
    "unknown_unit",
    "unknown_procedure",
    "impossible_value",
    "far_future",
)
UNKNOWN_UNIT_CODE = "H00.99"
UNKNOWN_PROCEDURE_CODE = "9.999999"
_FUTURE_YEARS = 50


@dataclass(frozen=True)
class Noise:
    """Fractions in [0, 1) of lines that are re-sent, arrive late, or are bad."""

    duplicates: float = 0.0
    """Share of events sent twice: 60% the same event_id, 40% the same fact under a new id."""
    disorder: float = 0.0
    """Share of events held back between a minute and 36 hours in the output order."""
    bad_fraction: float = 0.0
    """Share of output lines that are bad (added, never replacing a good event)."""

    def __post_init__(self) -> None:
        for name in ("duplicates", "disorder", "bad_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{name.replace('_', '-')} {value}: must be in [0, 1)")

    @property
    def is_quiet(self) -> bool:
        return self.duplicates == 0.0 and self.disorder == 0.0 and self.bad_fraction == 0.0

    @property
    def bad_per_good(self) -> float:
        """Bad lines to add per good line so that they make up ``bad_fraction`` of the output."""
        return self.bad_fraction / (1.0 - self.bad_fraction)


def with_new_id(line: str) -> str:
    """The same fact under a new event_id (the source system re-sent it)."""
    return line.replace('","schema":1,', 'r","schema":1,', 1)


def corrupt(line: str, kind: str, rng: random.Random) -> str:
    """A bad line of ``kind`` made from the good ``line`` (which it never equals)."""
    if kind == "not_json":
        return line[: max(1, int(len(line) * (0.2 + 0.6 * rng.random())))]
    event = msgspec.json.decode(line)
    event["event_id"] = event["event_id"] + "!" + kind
    if kind == "unknown_type":
        event["type"] = rng.choice(("dossier.archived", "payment.refunded", "dossier"))
    elif kind == "missing_field":
        required = [
            "event_id",
            "occurred_at",
            "unit_code",
            "dossier_id",
            "procedure_code",
            "schema",
        ]
        del event[rng.choice(required)]
    elif kind == "wrong_type":
        field = rng.choice(("occurred_at", "schema", "unit_code"))
        event[field] = {"occurred_at": 1_717_377_300, "schema": "1", "unit_code": 70}[field]
    elif kind == "unknown_unit":
        event["unit_code"] = UNKNOWN_UNIT_CODE
    elif kind == "unknown_procedure":
        event["procedure_code"] = UNKNOWN_PROCEDURE_CODE
    elif kind == "impossible_value":
        _make_impossible(event)
    elif kind == "far_future":
        year = int(event["occurred_at"][:4]) + _FUTURE_YEARS
        event["occurred_at"] = f"{year:04d}{event['occurred_at'][4:]}"
    else:
        raise ValueError(f"unknown bad-line kind {kind!r}")
    return msgspec.json.encode(event).decode()


def _make_impossible(event: dict[str, object]) -> None:
    kind = event["type"]
    if kind in ("dossier.received", "feedback.received"):
        event["due_at"] = "2000-01-01T00:00:00+07:00"  # before it was received
    elif kind == "dossier.digitized":
        event["components"] = 1
        event["reused_components"] = 3
    elif kind == "payment.succeeded":
        event["amount"] = 0
    elif kind == "payment.failed":
        event["amount"] = -5_000
    elif kind == "dossier.completed":
        event["outcome"] = "lost"
    else:
        event["occurred_at"] = "2024-02-30T08:00:00+07:00"  # no such day
