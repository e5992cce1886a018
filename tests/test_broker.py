"""Integration: a produce/consume round trip through the real broker, and namespaced topics."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer

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
