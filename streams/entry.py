"""The worker entry point: the one place that puts settings, reference data, store and Faust together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import faust

from pipeline import broker
from pipeline.allocator import return_freed_python_memory
from pipeline.directories import ensure_directory
from pipeline.errors import RetryableSinkError, SinkError
from pipeline.processing import processor_for
from pipeline.reference import Reference, load_reference
from pipeline.settings import Settings
from sinks import hourly, schema
from sinks.loopback import ReadServer, serve_reads
from sinks.reference_tables import store_reference
from sinks.store import Store, open_store
from sinks.writer import ResultWriter
from streams.broker_watch import add_broker_watch
from streams.lag import LagRecorder, add_lag_recorder
from streams.waiting import StoreWaiter
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
    group: str | None = None,
) -> Worker:
    """Create topics, migrate the schema, copy the reference data and build the app; nothing
    runs yet."""
    return_freed_python_memory()  # a long-running process, on either store
    reference = reference or load_reference(settings)
    ensure_directory(settings.state_path / "faust", "--state-dir")
    broker.ensure_topics(settings)
    store = store or open_store(settings)
    # Outages are waited out here, for as long as they last, one log line per state change; so
    # the writer and the refresh themselves do not retry (and do not log every attempt).
    waiter = StoreWaiter(store_name(settings))
    waiter.call(ensure_schema, store, settings.database)
    reads = serve_reads(store, settings.chdb_dir) if store.backend == "embedded" else None
    waiter.call(store_reference, store, settings.database, reference)
    writer = ResultWriter(store, settings.database, max_attempts=1)
    database = settings.database

    def refresh(snapshots: Sequence[tuple[object, ...]]) -> None:
        hourly.refresh_dossiers(store, database, snapshots)

    publisher = broker.DeadLetterPublisher(settings)
    processor = processor_for(reference, settings.late_horizon_days)
    counters = counters or WorkerCounters()
    pipeline = BatchPipeline(
        processor,
        waiter.wrap(writer.write),
        publisher.publish,
        counters,
        refresh_aggregates=waiter.wrap(refresh),
    )
    app = build_worker_app(settings, pipeline, group)
    add_broker_watch(app, settings)
    # The lag recorder writes from its own thread: on the server through its own connection.
    lag_store = open_store(settings) if store.backend == "server" else store
    topics = [settings.topic(name) for name in broker.INPUT_TOPICS]
    add_lag_recorder(app, LagRecorder(lag_store, database, app.conf.id, topics))
    return Worker(settings, app, store, reference, counters, publisher, reads)


def ensure_schema(store: Store, database: str) -> None:
    """Migrate unless the schema is current: a worker user without DDL rights (docker compose,
    where a migrate service runs first) then needs none."""
    try:
        if schema.current_version(store, database) >= schema.MIGRATIONS[-1][0]:
            return
    except RetryableSinkError:
        raise
    except SinkError:
        pass  # no database or no version table yet
    schema.migrate(store, database)


def store_name(settings: Settings) -> str:
    """The result store as log lines name it."""
    if settings.store == "server":
        return f"ClickHouse at {settings.clickhouse_host}:{settings.clickhouse_port}"
    return f"embedded ClickHouse at {settings.chdb_dir}"
