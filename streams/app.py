"""Build the Faust app and its topics from settings (no import-time app object)."""

from __future__ import annotations

import faust

from pipeline import broker
from pipeline.settings import Settings
from streams.agents import MAX_BATCH
from streams.consumer import WorkerApp


def create_app(settings: Settings, group: str | None = None) -> WorkerApp:
    """One app per namespace: its consumer group is ``{namespace}.worker`` unless ``group`` is
    given (benchmarks read the same topics with a fresh group each round)."""
    hosts = ";".join(settings.bootstrap_servers.split(","))
    return WorkerApp(
        group or settings.group("worker"),
        broker=f"kafka://{hosts}",
        store="memory://",
        autodiscover=False,
        # Faust's own files go under the state dir, not into the working directory.
        datadir=str(settings.state_path / "faust"),
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_commit_every=50_000,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=65_536,
        broker_max_poll_records=MAX_BATCH,
        consumer_max_fetch_size=4 * 1024 * 1024,
        stream_wait_empty=False,
        table_standby_replicas=0,
        # A killed worker's partitions move to the others after this long (the default is 60 s).
        broker_session_timeout=15.0,
        broker_heartbeat_interval=3.0,
    )


def input_topic(app: faust.App, settings: Settings) -> faust.TopicT:
    """The three input topics as one Faust topic of raw bytes (we decode ourselves)."""
    return app.topic(
        *(settings.topic(name) for name in broker.INPUT_TOPICS),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
