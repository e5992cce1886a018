"""Notifications against a real HTTP server on 127.0.0.1 that fails the first attempts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.alerts.notification import notification
from pipeline.alerts.state import Transition
from pipeline.errors import SinkError
from pipeline.windows import parse_time
from sinks.webhook import Webhook


class Receiver:
    """A webhook receiver: answers 503 to the first ``failures`` requests, then 200; dedups by key."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[str, dict]] = []
        self.delivered: dict[str, dict] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.requests.append((self.headers["Idempotency-Key"], body))
                if self.path != "/hook":
                    self.send_response(404)
                elif len(receiver.requests) <= receiver.failures:
                    self.send_response(503)
                else:
                    receiver.delivered.setdefault(self.headers["Idempotency-Key"], body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=2)
    yield r
    r.close()


FIRED = Transition(
    rule="online-payment-drop", unit_code="H70.22", indicator="online_payment", state="firing",
    at_ms=parse_time("2024-05-21T11:00:00+07:00"), value=0.05, baseline=0.62, denominator=41,
    severity="critical", kind="drop",
)  # fmt: skip


def payload() -> dict[str, object]:
    return notification(FIRED, "Huyện Bù Đăng", "chiso766", "http://grafana.local:3000/")


def test_retries_with_backoff_under_one_key(receiver: Receiver) -> None:
    delays: list[float] = []
    attempts = Webhook(receiver.url, base_delay_s=0.5, sleep=delays.append).send(payload())
    assert attempts == 3 and delays == [0.5, 1.0]
    keys = {key for key, _ in receiver.requests}
    assert keys == {FIRED.key} and len(receiver.requests) == 3
    assert list(receiver.delivered) == [FIRED.key]
    body = receiver.delivered[FIRED.key]
    assert body["idempotency_key"] == FIRED.key and body["unit_name"] == "Huyện Bù Đăng"
    assert body["value"] == 0.05 and body["baseline"] == 0.62
    assert body["dashboard_url"].startswith(
        "http://grafana.local:3000/d/chiso766-unit?var-unit=H70.22&from="
    )
    assert "Tỷ lệ thanh toán trực tuyến của Huyện Bù Đăng giảm còn 5.0%" in body["message_vi"]
    assert "Online payment rate at Huyện Bù Đăng fell to 5.0%" in body["message_en"]


def test_a_retry_after_a_lost_answer_carries_the_same_key(receiver: Receiver) -> None:
    receiver.failures = 0
    Webhook(receiver.url, sleep=lambda _s: None).send(payload())
    Webhook(receiver.url, sleep=lambda _s: None).send(payload())  # e.g. after a crash
    assert [key for key, _ in receiver.requests] == [FIRED.key, FIRED.key]
    assert len(receiver.delivered) == 1


def test_gives_up_with_one_line_and_never_retries_a_client_error(receiver: Receiver) -> None:
    receiver.failures = 100
    with pytest.raises(SinkError, match="gave up after 3 attempts"):
        Webhook(receiver.url, max_attempts=3, sleep=lambda _s: None).send(payload())
    calls = len(receiver.requests)
    with pytest.raises(SinkError, match="HTTP 404"):
        Webhook(receiver.url.replace("/hook", "/missing"), sleep=lambda _s: None).send(payload())
    assert len(receiver.requests) == calls + 1
