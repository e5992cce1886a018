"""Delivery from the alert_events outbox to the real Kafka topic and a real HTTP webhook, across failures."""

from __future__ import annotations

import json
import time

import pytest
from kafka import KafkaConsumer

from pipeline.alerts.notification import notification
from pipeline.alerts.state import Transition
from pipeline.errors import SinkError
from pipeline.settings import Settings
from pipeline.windows import parse_time
from sinks import alert_store
from sinks.alert_runner import deliver
from sinks.alert_store import StoredEvent
from sinks.alert_topic import AlertTopic
from sinks.store import Store
from sinks.webhook import Webhook
from tests.test_alert_webhook import Receiver

pytestmark = pytest.mark.integration

FIRED = Transition(
    rule="digitization-drop", unit_code="H70.05", indicator="digitization", state="firing",
    at_ms=parse_time("2024-05-28T11:00:00+07:00"), value=0.0, baseline=0.34, denominator=50,
    severity="warning", kind="drop",
)  # fmt: skip
RESOLVED = Transition(
    **{**FIRED.__dict__, "state": "resolved", "at_ms": FIRED.at_ms + 86_400_000, "value": 0.37}
)


def test_outbox_is_delivered_once_despite_failures(store: Store, store_settings: Settings) -> None:
    database = store_settings.database
    alert_store.record_transitions(store, database, [FIRED, RESOLVED])
    alert_store.record_transitions(store, database, [FIRED])  # re-evaluated: nothing new
    assert len(alert_store.load_events(store, database)) == 2
    receiver = Receiver(failures=4)  # the first delivery run gives up after 3 attempts
    topic = AlertTopic(store_settings)
    try:

        def payload(event: StoredEvent) -> dict[str, object]:
            return notification(
                event.transition, "Sở Tài chính", store_settings.namespace, "http://g"
            )

        def publish(events: list[StoredEvent]) -> None:
            topic.publish([payload(e) for e in events])

        webhook = Webhook(receiver.url, max_attempts=3, sleep=lambda _s: None)

        def notify(event: StoredEvent) -> None:
            webhook.send(payload(event))

        clock = lambda: int(time.time() * 1000)  # noqa: E731
        with pytest.raises(SinkError, match="gave up"):
            deliver(store, database, publish, notify, clock)
        # published to the topic, not yet notified: both still waiting for the webhook
        waiting = alert_store.load_events(store, database, undelivered=True)
        assert [e.published_ms > 0 for e in waiting] == [True, True]
        assert deliver(store, database, publish, notify, clock) == (0, 2)  # a "restart" delivers
        assert deliver(store, database, publish, notify, clock) == (0, 0)  # and never twice
        assert list(receiver.delivered) == [FIRED.key, RESOLVED.key]
        assert {key for key, _ in receiver.requests} == {FIRED.key, RESOLVED.key}
        assert all(e.notified_ms > 0 for e in alert_store.load_events(store, database))
    finally:
        topic.close()
        receiver.close()
    consumer = KafkaConsumer(
        store_settings.topic("alerts"), bootstrap_servers=store_settings.bootstrap_servers,
        auto_offset_reset="earliest", consumer_timeout_ms=5000,
    )  # fmt: skip
    messages = [json.loads(m.value) for m in consumer]
    consumer.close()
    assert [(m["state"], m["idempotency_key"]) for m in messages] == [
        ("firing", FIRED.key),
        ("resolved", RESOLVED.key),
    ]
    assert messages[0]["message_en"].startswith(
        "[FIRING] Digitization rate at Sở Tài chính fell to 0.0%"
    )
