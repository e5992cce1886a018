"""Load event lines straight into a store through the worker's decision core, without Kafka.

``load_lines``: the same ``BatchProcessor`` and ``ResultWriter`` the worker runs, fed from an
iterable: what a worker would store for those events (snapshots, archive, dead letters), for
tests. ``load_folded``: every dossier folded in memory first and stored as one snapshot, no
archive: the same merged state (snapshots are joins, ``pipeline/dossier.py``) at a fraction of
the cost, for calibrating a province-year on a shared machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from pipeline.dossier import DossierState, apply
from pipeline.events import decode_event
from pipeline.processing import BatchProcessor, Incoming, processor_for
from pipeline.reference import Reference
from sinks.schema import DOSSIER_STATE_COLUMNS
from sinks.store import Store
from sinks.writer import ResultWriter

BATCH = 20_000


def load_lines(
    store: Store,
    database: str,
    lines: Iterable[str | bytes],
    reference: Reference,
    *,
    record_ms: int | None = None,
    late_horizon_days: int = 400,
) -> int:
    """Process and store every line; return the number of accepted events.

    ``record_ms`` is the record timestamp every line is judged against, as if produced then
    (lateness and far future); None: no record timestamp, only the contract's time range."""
    processor = processor_for(reference, late_horizon_days)
    writer = ResultWriter(store, database)
    accepted = 0
    batch: list[Incoming] = []
    for n, line in enumerate(lines):
        raw = line.encode() if isinstance(line, str) else line
        batch.append(Incoming(raw, f"load@{n}", record_ms))
        if len(batch) >= BATCH:
            accepted += _flush(processor, writer, batch)
            batch = []
    if batch:
        accepted += _flush(processor, writer, batch)
    return accepted


def _flush(processor: BatchProcessor, writer: ResultWriter, batch: list[Incoming]) -> int:
    result = processor.process(batch)
    writer.write(result, int(time.time() * 1000))
    return result.accepted


def load_folded(
    store: Store, database: str, lines: Iterable[str | bytes], reference: Reference
) -> int:
    """Decode every line, fold it into its dossier's state, then store one snapshot per dossier.

    For trusted input (the generator without noise): a line that does not decode raises
    ``DecodeError``; reference checks are left to the generator's own tests. Returns the
    number of events folded."""
    is_document = reference.result_is_document.__getitem__
    states: dict[str, DossierState] = {}
    count = 0
    for line in lines:
        event = decode_event(line)
        state = states.get(event.dossier_id)
        if state is None:
            state = states[event.dossier_id] = DossierState(event.dossier_id)
        apply(state, event, is_document)
        count += 1
    rows = [state.to_row() for state in states.values()]
    for start in range(0, len(rows), 100_000):
        store.insert(
            f"{database}.dossier_state", DOSSIER_STATE_COLUMNS, rows[start : start + 100_000]
        )
    return count
