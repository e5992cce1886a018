"""The project's error family: one root, one subclass per kind of failure a caller can act on."""

from __future__ import annotations


class Chiso766Error(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(Chiso766Error):
    """A setting or flag has a value we cannot use."""


class DecodeError(Chiso766Error):
    """One input event is not a valid v1 event.

    ``field`` names the offending field (or ``None`` when the whole message is unusable) and
    ``reason`` says why; ``event_id`` and ``event_type`` are filled when they could be read.
    Bad input is a value to route to the dead-letter topic, never a crash.
    """

    def __init__(
        self,
        reason: str,
        *,
        field: str | None = None,
        event_id: str | None = None,
        event_type: str | None = None,
        kind: str = "invalid",
    ) -> None:
        self.reason = reason
        self.field = field
        self.event_id = event_id
        self.event_type = event_type
        self.kind = kind
        where = f"{event_type or 'event'} {event_id}" if event_id else (event_type or "event")
        at = f" field {field!r}" if field else ""
        super().__init__(f"{where}{at}: {reason}")


class ReferenceDataError(Chiso766Error):
    """The units/procedures reference files are missing or inconsistent."""


class StackError(Chiso766Error):
    """The local Kafka/ClickHouse stack could not be started, checked or stopped."""


class MissingToolError(StackError):
    """A program the local stack needs (java, mvn, apt) is not installed."""


class SinkError(Chiso766Error):
    """Storing or reading results failed permanently (bad SQL, schema mismatch)."""


class RejectedRowsError(SinkError):
    """The store refused some rows for their values (a data error): retrying the same rows fails
    again, but rows without the offending ones can be stored."""


class RetryableSinkError(SinkError):
    """Storing failed for a reason that may pass (server down, timeout); retry with backoff."""


class PortalDataError(Chiso766Error):
    """A national portal evaluation response is not in a shape we understand."""
