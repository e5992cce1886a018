"""Kafka adapter for tools (kafka-python): topic names, topic creation, batched producing.

The worker itself talks to Kafka through Faust (``streams/``); this module is for the CLI,
the generator, ingest, replay and tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
)

from pipeline.errors import StackError
from pipeline.settings import Settings

DOSSIER_EVENTS = "dossier-events"
PAYMENT_EVENTS = "payment-events"
FEEDBACK_EVENTS = "feedback-events"
DEAD_LETTERS = "dead-letters"
INPUT_TOPICS = (DOSSIER_EVENTS, PAYMENT_EVENTS, FEEDBACK_EVENTS)
ALL_TOPICS = (*INPUT_TOPICS, DEAD_LETTERS)

_TOPIC_OF_FAMILY = {
    "dossier": DOSSIER_EVENTS,
    "payment": PAYMENT_EVENTS,
    "feedback": FEEDBACK_EVENTS,
}

# Dead-letter message headers: the reason and where the bad bytes came from.
HEADER_REASON = "chiso766.reason"
HEADER_KIND = "chiso766.kind"
HEADER_SOURCE = "chiso766.source"
HEADER_TRUNCATED = "chiso766.truncated"
"""Present on a dead letter sent truncated: the size in bytes of the original message."""
HEADER_SHA256 = "chiso766.sha256"
"""With ``chiso766.truncated``: the hex SHA-256 of the whole original message."""

MAX_DEAD_LETTER_BYTES = 512 * 1024
"""Dead letters up to this size are sent whole (the broker's default limit is 1 MiB)."""
TRUNCATED_SIZES = (64 * 1024, 4 * 1024, 0)
"""Sizes tried, in order, for a dead letter that is too large: the first the broker takes."""


def topic_for_type(event_type: str) -> str:
    """The input topic (without namespace) for an event type: ``payment.failed`` -> payment-events."""
    family = event_type.split(".", 1)[0]
    return _TOPIC_OF_FAMILY.get(family, DOSSIER_EVENTS)


def admin_client(settings: Settings, timeout_s: float = 10.0) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=settings.group("admin"),
            request_timeout_ms=int(timeout_s * 1000),
        )
    except KafkaError as exc:
        raise StackError(f"Kafka at {settings.bootstrap_servers} is not reachable: {exc}") from exc


def ensure_topics(
    settings: Settings, names: Sequence[str] = ALL_TOPICS, partitions: int | None = None
) -> list[str]:
    """Create ``{namespace}.{name}`` for each name that does not exist yet; return all full names."""
    full = [settings.topic(name) for name in names]
    admin = admin_client(settings)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in full if name not in existing]
        if missing:
            count = partitions or settings.partitions
            # Another process may win the race; the topic is then there, which is all we need.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(name, count, 1) for name in missing])
    finally:
        admin.close()
    return full


def delete_namespace_topics(settings: Settings) -> list[str]:
    """Delete every ``{namespace}.*`` topic (tests, benchmarks and replays clean up with this)."""
    return delete_topics(settings, lambda topic: topic.startswith(settings.namespace + "."))


def delete_topics(settings: Settings, chosen: Callable[[str], bool]) -> list[str]:
    """Delete every topic ``chosen`` picks, 200 per request; return their names."""
    admin = admin_client(settings, timeout_s=60.0)
    try:
        names = sorted(topic for topic in admin.list_topics() if chosen(topic))
        for start in range(0, len(names), 200):
            admin.delete_topics(names[start : start + 200])
        return names
    finally:
        admin.close()


def describe_group(settings: Settings, group: str) -> dict[str, Any]:
    """The broker's description of a consumer group: ``group_state``, ``members`` and more."""
    admin = admin_client(settings)
    try:
        return admin.describe_groups([group])[group]
    finally:
        admin.close()


def input_progress(settings: Settings) -> tuple[int, int]:
    """(messages in the input topics, messages the worker group has committed): equal when the
    workers have stored everything produced so far."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in (settings.topic(name) for name in INPUT_TOPICS)
            for p in (consumer.partitions_for_topic(topic) or ())
        ]
        end = sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()
    wanted = set(partitions)
    committed = _committed_offsets(settings, settings.group("worker"))
    return end, sum(
        meta.offset for tp, meta in committed.items() if tp in wanted and meta.offset > 0
    )


def _committed_offsets(settings: Settings, group: str, attempts: int = 20) -> dict:
    """The group's committed offsets; {} for a group that has none yet.

    On a new broker the offsets topic is created on the first group lookup, and the broker
    answers "coordinator not available" meanwhile: that is retried, a few seconds at most.
    """
    admin = admin_client(settings)
    try:
        for attempt in range(attempts):
            try:
                return dict(admin.list_group_offsets(group).get(group, {}))
            except KafkaError as error:
                if not getattr(error, "retriable", False) or attempt == attempts - 1:
                    raise
                time.sleep(0.25)
    finally:
        admin.close()
    return {}


def new_producer(settings: Settings, **overrides: object) -> KafkaProducer:
    """A producer tuned for throughput: batched, compressed-free, acks from the leader."""
    config: dict[str, object] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.group("producer"),
        "acks": 1,
        "linger_ms": 20,
        "batch_size": 512 * 1024,
        "max_request_size": 4 * 1024 * 1024,
    }
    config.update(overrides)
    try:
        return KafkaProducer(**config)
    except KafkaError as exc:
        raise StackError(f"Kafka at {settings.bootstrap_servers} is not reachable: {exc}") from exc


def headers(reason: str, kind: str, source: str) -> list[tuple[str, bytes]]:
    return [
        (HEADER_REASON, reason.encode()),
        (HEADER_KIND, kind.encode()),
        (HEADER_SOURCE, source.encode()),
    ]


def truncated(
    raw: bytes, letter_headers: list[tuple[str, bytes]], size: int
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The first ``size`` bytes of a too-large message, with headers naming its whole size and
    SHA-256 so the original (stored whole in ClickHouse, or in the source file) can be matched."""
    marks = [
        (HEADER_TRUNCATED, str(len(raw)).encode()),
        (HEADER_SHA256, hashlib.sha256(raw).hexdigest().encode()),
    ]
    return raw[:size], [*letter_headers, *marks]


_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)


class DeadLetterPublisher:
    """Sends bad messages, with their original bytes and reason headers, to ``{ns}.dead-letters``.

    Every send is checked. A letter larger than ``MAX_DEAD_LETTER_BYTES``, or one the broker
    refuses as too large, is sent truncated (``truncated``); any other failure raises
    StackError, so the caller stops before committing and nothing is lost.
    """

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.topic(DEAD_LETTERS)
        self._settings = settings
        self._producer: KafkaProducer | None = None

    def publish(self, letters: Iterable[tuple[bytes, str, str, str]]) -> int:
        """Send (raw, source, kind, reason) tuples and wait until the broker has them all."""
        pending = []
        for raw, source, kind, reason in letters:
            letter_headers = headers(reason, kind, source)
            value = raw
            if len(raw) > MAX_DEAD_LETTER_BYTES:
                value, letter_headers = truncated(raw, letter_headers, TRUNCATED_SIZES[0])
            pending.append((raw, source, kind, reason, self._send(value, letter_headers)))
        if not pending:
            return 0
        with contextlib.suppress(KafkaError):  # each send's own outcome is checked below
            self._producer_or_new().flush(timeout=60)
        for raw, source, kind, reason, sent in pending:
            try:
                sent.get(timeout=60)
            except _TOO_LARGE:
                self._send_truncated(raw, headers(reason, kind, source), source)
            except KafkaError as exc:
                raise StackError(
                    f"dead letter from {source} not accepted by Kafka ({self.topic}): {exc}"
                ) from exc
        return len(pending)

    def _send_truncated(
        self, raw: bytes, letter_headers: list[tuple[str, bytes]], source: str
    ) -> None:
        # A letter that fits is tried whole once more: kafka-python fails every pending send of
        # a producer whose sender met a refused size, including letters that were fine.
        whole = [None] if len(raw) <= MAX_DEAD_LETTER_BYTES else []
        for size in (*whole, *TRUNCATED_SIZES):
            # That failure is fatal to the producer's sender: start a new producer.
            self._reset_producer()
            value, marked = (
                (raw, letter_headers) if size is None else truncated(raw, letter_headers, size)
            )
            try:
                self._send(value, marked).get(timeout=60)
                return
            except _TOO_LARGE:
                continue
            except KafkaError as exc:
                raise StackError(
                    f"dead letter from {source} not accepted by Kafka ({self.topic}): {exc}"
                ) from exc
        raise StackError(
            f"dead letter from {source}: Kafka refuses even its headers ({self.topic})"
        )

    def _send(self, value: bytes, letter_headers: list[tuple[str, bytes]]) -> _Sent:
        producer = self._producer_or_new()
        try:
            sent: _Sent = producer.send(self.topic, value=value, headers=letter_headers)
        except KafkaError as exc:  # refused before sending (e.g. above max_request_size)
            return _FailedSend(exc)
        return sent

    def _reset_producer(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None

    def _producer_or_new(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = new_producer(self._settings, acks="all", linger_ms=5)
        return self._producer

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()


class _Sent(Protocol):
    def get(self, timeout: float | None = None) -> object: ...


class _FailedSend:
    """A send that failed before it left, with the same ``get`` as kafka-python's future."""

    def __init__(self, error: KafkaError) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> object:
        raise self.error
