"""The worker entry point: the one place that puts settings, reference data, store and Faust together."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from pipeline import broker
from pipeline.events import AnyEvent
from pipeline.processing import BatchProcessor, BatchResult
from pipeline.reference import Reference, load_reference
from pipeline.settings import Settings
from pipeline.validation import validate_event
from sinks import hourly, schema
from sinks.loopback import ReadServer, serve_reads
from sinks.reference_tables import store_reference
from sinks.store import Store, open_store
from sinks.writer import ResultWriter
from streams.agents import MAX_BATCH
from streams.worker import BatchPipeline, WorkerCounters, build_worker_app


@dataclass
class Worker:
    """An assembled, not yet running, worker; ``run`` or ``faust.Worker(app)`` starts it."""

    settings: Settings
    app: faust.App
    store: Store
    reference: Reference
    counters: WorkerCounters
    dead_letters: broker.DeadLetterPublisher
    reads: ReadServer | None = None
    """Serves read-only queries of an embedded store to other local processes while running."""


def assemble(
    settings: Settings,
    reference: Reference | None = None,
    store: Store | None = None,
    counters: WorkerCounters | None = None,
    max_batch: int = MAX_BATCH,
) -> Worker:
    """Create topics, migrate the schema, copy the reference data and build the app; nothing
    runs yet."""
    reference = reference or load_reference(settings)
    broker.ensure_topics(settings)
    store = store or open_store(settings)
    schema.migrate(store, settings.database)
    reads = serve_reads(store, settings.chdb_dir) if store.backend == "embedded" else None
    store_reference(store, settings.database, reference)
    writer = ResultWriter(store, settings.database)
    database = settings.database

    def refresh(result: BatchResult) -> None:
        hourly.refresh_with_retries(store, database, result.snapshots)

    publisher = broker.DeadLetterPublisher(settings)

    def check(event: AnyEvent, now_ms: int) -> None:
        validate_event(event, reference, now_ms)

    processor = BatchProcessor(
        is_document=reference.result_is_document.__getitem__,
        check=check,
        late_horizon_days=settings.late_horizon_days,
    )
    counters = counters or WorkerCounters()
    pipeline = BatchPipeline(
        processor, writer.write, publisher.publish, counters, refresh_aggregates=refresh
    )
    app = build_worker_app(settings, pipeline, max_batch=max_batch)
    return Worker(settings, app, store, reference, counters, publisher, reads)
