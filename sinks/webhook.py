"""Post alert notifications to a webhook (JSON over HTTP) with retries, backoff and an idempotency key.

Every attempt for the same alert carries the same ``Idempotency-Key`` header (and
``idempotency_key`` field), so a receiver that saw a request whose answer was lost can ignore
the retry. 5xx, 408, 429 and connection failures are retried with exponential backoff; any
other 4xx is permanent.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping

from pipeline.errors import RetryableSinkError, SinkError

log = logging.getLogger(__name__)
_RETRYABLE_STATUS = frozenset({408, 429})


class Webhook:
    def __init__(
        self,
        url: str,
        max_attempts: int = 6,
        base_delay_s: float = 0.5,
        max_delay_s: float = 30.0,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.timeout_s = timeout_s
        self._sleep = sleep

    def send(self, payload: Mapping[str, object]) -> int:
        """Deliver one notification; return the attempts it took. Raises SinkError when it cannot."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        key = str(payload["idempotency_key"])
        for attempt in range(1, self.max_attempts + 1):
            try:
                self._post(body, key)
                return attempt
            except RetryableSinkError as error:
                if attempt == self.max_attempts:
                    raise SinkError(
                        f"webhook {self.url}: gave up after {attempt} attempts: {error}"
                    ) from error
                delay = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
                log.warning(
                    "webhook attempt %d failed (%s); retrying in %.1f s", attempt, error, delay
                )
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _post(self, body: bytes, key: str) -> None:
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": key},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code in _RETRYABLE_STATUS:
                raise RetryableSinkError(f"HTTP {exc.code}") from exc
            raise SinkError(f"webhook {self.url}: HTTP {exc.code} (not retried)") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise RetryableSinkError(str(getattr(exc, "reason", exc))) from exc
