"""Integration: a produce/consume round trip through the real broker, and namespaced topics."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from kafka import KafkaConsumer
from kafka.admin import NewTopic

from pipeline import broker
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def test_topics_are_created_with_the_namespace_prefix(kafka_settings: Settings) -> None:
    created = broker.ensure_topics(kafka_settings, partitions=3)
    assert created == [f"{kafka_settings.namespace}.{name}" for name in broker.ALL_TOPICS]
    admin = broker.admin_client(kafka_settings)
    try:
        described = {t["name"]: t for t in admin.describe_topics(created)}
    finally:
        admin.close()
    assert set(described) == set(created)
    assert all(len(t["partitions"]) == 3 for t in described.values())
    # Idempotent: a second call creates nothing new and does not fail.
    assert broker.ensure_topics(kafka_settings, partitions=3) == created


def test_produce_consume_round_trip_keeps_keys_values_and_headers(kafka_settings: Settings) -> None:
    topic = broker.ensure_topics(kafka_settings, [broker.DOSSIER_EVENTS], partitions=2)[0]
    sent = [(f"d-{i}".encode(), f'{{"n": {i}}}'.encode()) for i in range(200)]
    producer = broker.new_producer(kafka_settings)
    try:
        for key, value in sent:
            producer.send(
                topic, key=key, value=value, headers=broker.headers("why", "kind", "here")
            )
        producer.flush()
    finally:
        producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_settings.bootstrap_servers,
        group_id=f"{kafka_settings.namespace}.probe-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    try:
        received = []
        for message in consumer:
            received.append((message.key, message.value, dict(message.headers)))
            if len(received) == len(sent):
                break
    finally:
        consumer.close()
    assert sorted((k, v) for k, v, _ in received) == sorted(sent)
    assert all(h[broker.HEADER_REASON] == b"why" for _, _, h in received)


def _dead_letters(settings: Settings, count: int) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = KafkaConsumer(
        settings.topic(broker.DEAD_LETTERS),
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
        fetch_max_bytes=8 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    try:
        out = []
        for message in consumer:
            out.append((message.value, dict(message.headers)))
            if len(out) == count:
                break
        return out
    finally:
        consumer.close()


def test_dead_letters_too_large_for_kafka_are_sent_truncated_with_size_and_sha256(
    kafka_settings: Settings,
) -> None:
    broker.ensure_topics(kafka_settings, [broker.DEAD_LETTERS], partitions=1)
    huge = b'{"note": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    publisher = broker.DeadLetterPublisher(kafka_settings)
    try:
        sent = publisher.publish(
            [(b"{bad", "t[0]@1", "not_json", "r1"), (huge, "t[0]@2", "not_json", "r2")]
        )
    finally:
        publisher.close()
    assert sent == 2
    (small, small_headers), (cut, cut_headers) = _dead_letters(kafka_settings, 2)
    assert small == b"{bad" and broker.HEADER_TRUNCATED not in small_headers
    assert huge.startswith(cut) and 0 < len(cut) < len(huge)
    assert cut_headers[broker.HEADER_TRUNCATED] == str(len(huge)).encode()
    assert cut_headers[broker.HEADER_SHA256] == hashlib.sha256(huge).hexdigest().encode()
    assert cut_headers[broker.HEADER_SOURCE] == b"t[0]@2"


def test_a_dead_letter_the_broker_refuses_as_too_large_is_resent_smaller(
    kafka_settings: Settings,
) -> None:
    admin = broker.admin_client(kafka_settings)
    try:  # a dead-letter topic that takes only 20 kB per message
        admin.create_topics([NewTopic(kafka_settings.topic(broker.DEAD_LETTERS), 1, 1,
                                      topic_configs={"max.message.bytes": "20000"})])  # fmt: skip
    finally:
        admin.close()
    raw = b"y" * 100_000
    letters = [(b"{a", "t[0]@8", "not_json", "why"), (raw, "t[0]@9", "not_json", "why"),
               (b"{b", "t[0]@10", "not_json", "why")]  # fmt: skip
    publisher = broker.DeadLetterPublisher(kafka_settings)
    try:
        assert publisher.publish(letters) == 3
    finally:
        publisher.close()
    received = {h[broker.HEADER_SOURCE]: (v, h) for v, h in _dead_letters(kafka_settings, 3)}
    value, headers = received[b"t[0]@9"]
    assert value == raw[: len(value)] and len(value) <= 20_000
    assert headers[broker.HEADER_SHA256] == hashlib.sha256(raw).hexdigest().encode()
    # The letters sent alongside arrive whole, unmarked.
    assert [received[s][0] for s in (b"t[0]@8", b"t[0]@10")] == [b"{a", b"{b"]
    assert all(broker.HEADER_TRUNCATED not in received[s][1] for s in (b"t[0]@8", b"t[0]@10"))
