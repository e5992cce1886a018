"""Generated province weeks loaded through the worker's core (processor + writer) into a store, for alert tests."""

from __future__ import annotations

from datetime import date

from pipeline.generator import Noise, generate_batches, parse_incident, profile_named
from pipeline.processing import Incoming, processor_for
from pipeline.reference import Reference
from sinks import schema
from sinks.hourly import refresh_all
from sinks.reference_tables import store_reference
from sinks.store import Store
from sinks.writer import ResultWriter

NOISE = Noise(duplicates=0.02, disorder=0.05, bad_fraction=0.005)
BATCH = 20_000


def load_weeks(
    store: Store,
    database: str,
    reference: Reference,
    start: date,
    days: int,
    incidents: tuple[str, ...] = (),
    seed: int = 766,
    skip: tuple[str, int, int] | None = None,
) -> None:
    """Generate ``days`` of the province profile with noise and store them as the worker would.

    ``skip`` = (event type prefix, from_s, to_s) leaves those events out (a feed that stopped).
    """
    schema.migrate(store, database)
    store_reference(store, database, reference)
    processor = processor_for(reference, late_horizon_days=400)
    writer = ResultWriter(store, database)
    parsed = [parse_incident(spec, reference) for spec in incidents]
    pending: list[Incoming] = []
    for batch in generate_batches(
        reference, seed=seed, start=start, days=days, profile=profile_named("province"),
        incidents=parsed, noise=NOISE,
    ):  # fmt: skip
        for ts_s, line, _dossier, kind in batch.items:
            if skip is not None and kind.startswith(skip[0]) and skip[1] <= ts_s < skip[2]:
                continue
            # Loaded as history: each record stamped with the line's own emission time.
            pending.append(Incoming(line.encode(), f"gen@{len(pending)}", int(ts_s * 1000)))
            if len(pending) >= BATCH:
                writer.write(processor.process(pending), 0)
                pending = []
    if pending:
        writer.write(processor.process(pending), 0)
    refresh_all(store, database)
