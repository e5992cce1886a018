"""Decide, during an outage of a service, how long to wait next and which one line to log.

Pure: the caller passes the time and the error text, sleeps and logs. A service goes down on
the first failure (one line: since when, why) and comes back on the next success (one line:
after how long); the failures in between log nothing and wait longer each time, up to a cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass
class Outage:
    """The state of one service as seen by one caller: up, or down since ``down_since_s``."""

    service: str
    """How to name the service in a log line, e.g. ``ClickHouse at 127.0.0.1:9000``."""
    first_delay_s: float = 0.5
    max_delay_s: float = 10.0
    down_since_s: float | None = None
    failures: int = 0

    @property
    def is_down(self) -> bool:
        return self.down_since_s is not None

    def failed(self, now_s: float, error: str) -> tuple[float, str | None]:
        """Record a failure: the delay before the next try, and the line to log (None: quiet)."""
        line = None
        if self.down_since_s is None:
            self.down_since_s = now_s
            self.failures = 0
            reason = first_line(error).removeprefix(self.service).lstrip(": ")
            line = (
                f"{self.service} down since {to_utc_text(now_s)}: {reason}; "
                f"waiting for it (retrying every {self.max_delay_s:g} s at most)"
            )
        self.failures += 1
        delay = min(self.max_delay_s, self.first_delay_s * 2 ** (self.failures - 1))
        return delay, line

    def succeeded(self, now_s: float) -> str | None:
        """Record a success: the line to log when this ends an outage, else None."""
        if self.down_since_s is None:
            return None
        line = (
            f"{self.service} back after {now_s - self.down_since_s:.0f} s "
            f"({self.failures} failed attempts); resuming"
        )
        self.down_since_s = None
        self.failures = 0
        return line


def to_utc_text(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def first_line(text: str) -> str:
    """The first non-empty line of an error text, so that a log entry stays one line."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text.strip()
