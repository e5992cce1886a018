"""Realistic, reproducible contract-v1 events for a province: the demo's, the tests' and the benchmarks' input.

Public API (everything else in the package is internal):

- ``generate_batches(reference, seed=, start=, days=, profile=, incidents=, noise=)`` yields one
  ``DayBatch`` per output day (``.lines``, ``.items`` with dossier ids and types, counts);
- ``generate_lines(...)`` is the same as a flat iterator of JSON lines (no newline);
- ``write_jsonl(batches, out)`` writes to a binary file; ``produce_batches(batches, settings)``
  sends to the namespaced Kafka input topics keyed by dossier_id; both return a ``Summary``;
- ``PROFILES`` / ``profile_named``: ``province`` (1M dossiers a year, ~6.4M events),
  ``demo`` (150k), ``small`` (60k), ``tiny`` (6k); ``Noise`` for duplicates, disorder and bad
  lines; ``parse_incident`` for ``KIND:UNIT:FROM:TO`` incidents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from pipeline.generator.incidents import KINDS as INCIDENT_KINDS
from pipeline.generator.incidents import Incident, parse_incident
from pipeline.generator.noise import BAD_KINDS, Noise
from pipeline.generator.output import Summary, produce_batches, write_jsonl
from pipeline.generator.profile import PROFILES, Profile, Target, profile_named
from pipeline.generator.stream import QUIET, DayBatch, generate_batches
from pipeline.reference import Reference, load_reference

DEFAULT_SEED = 766
DEFAULT_START = date(2024, 6, 3)
"""A Monday of the seed year: a busy, ordinary working day."""

__all__ = [
    "BAD_KINDS",
    "DEFAULT_SEED",
    "DEFAULT_START",
    "INCIDENT_KINDS",
    "PROFILES",
    "DayBatch",
    "Incident",
    "Noise",
    "Profile",
    "Summary",
    "Target",
    "generate_batches",
    "generate_lines",
    "parse_incident",
    "produce_batches",
    "profile_named",
    "write_jsonl",
]


def generate_lines(
    reference: Reference | None = None,
    *,
    seed: int = DEFAULT_SEED,
    start: date = DEFAULT_START,
    days: int = 1,
    profile: Profile | str = "demo",
    incidents: Iterable[Incident] = (),
    noise: Noise = QUIET,
) -> Iterator[str]:
    """Every output line (JSON, no newline) in emission order; the demo province by default."""
    chosen = profile_named(profile) if isinstance(profile, str) else profile
    for batch in generate_batches(
        reference if reference is not None else load_reference(),
        seed=seed,
        start=start,
        days=days,
        profile=chosen,
        incidents=incidents,
        noise=noise,
    ):
        yield from batch.lines
