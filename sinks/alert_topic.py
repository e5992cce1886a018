"""Publish alert transitions to the ``{namespace}.alerts`` Kafka topic (JSON, keyed by rule and unit)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from kafka.errors import KafkaError

from pipeline import broker
from pipeline.errors import RetryableSinkError
from pipeline.settings import Settings

ALERTS_TOPIC = "alerts"


class AlertTopic:
    def __init__(self, settings: Settings) -> None:
        self.topic = settings.topic(ALERTS_TOPIC)
        broker.ensure_topics(settings, (ALERTS_TOPIC,), partitions=1)
        self._producer = broker.new_producer(settings)

    def publish(self, payloads: Sequence[Mapping[str, object]]) -> None:
        """Send and wait until the broker has every message (raises on failure)."""
        futures = [
            self._producer.send(
                self.topic,
                key=f"{p['rule']}|{p['unit_code']}".encode(),
                value=json.dumps(p, ensure_ascii=False).encode(),
            )
            for p in payloads
        ]
        try:
            self._producer.flush()
            for future in futures:
                future.get(timeout=30)
        except KafkaError as exc:
            raise RetryableSinkError(f"alerts topic {self.topic}: {exc}") from exc

    def close(self) -> None:
        self._producer.close()
