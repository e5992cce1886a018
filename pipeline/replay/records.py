"""What a replay reads, whatever the source: raw bytes, where they came from, a record time; and the time window.

Pure: no files, no Kafka, no clock. The sources (``pipeline/replay/kafka_source.py``,
``sinks/archive.py``, the file reader below) turn their input into ``Record`` batches, and the
window decides which records a replay with ``--from/--to`` feeds to the core.

The record time is what Kafka would carry as the message timestamp. From Kafka it is the
message's own timestamp; an archived or exported event has none, so it gets the event's own
``occurred_at`` (what tools that load history give it), capped at the replay's start for a line
that claims to happen later (the far-future check then judges it as ``ingest`` would).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import msgspec

from pipeline.events import to_ms
from pipeline.validation import record_ms_for

Record = tuple[bytes | None, str, int | None]
"""(raw message bytes, None for a tombstone; source such as ``topic[partition]@offset`` or
``FILE:LINE``; record ts_ms, None when the record has none)."""

DAY_MS = 86_400_000
DEFAULT_MARGIN_MS = 31 * DAY_MS
"""How far outside --from/--to a replay still reads events (see ``Window``)."""

_OCCURRED = b'"occurred_at":"'


class _Occurred(msgspec.Struct):
    occurred_at: datetime


_occurred_decoder = msgspec.json.Decoder(_Occurred)


def occurred_ms_of(raw: bytes) -> int | None:
    """The ``occurred_at`` of a JSON event in epoch ms, or None when it cannot be read.

    Cheap: looks for the compact ``"occurred_at":"...`` first and decodes the one field only
    when the line is formatted otherwise. A time without an offset is None (the event is bad).
    """
    start = raw.find(_OCCURRED)
    if start >= 0:
        start += len(_OCCURRED)
        end = raw.find(b'"', start)
        text = raw[start:end]
        if len(text) == 25 and text[19] in _SIGNS and text[10] == _T:
            # 2024-06-03T08:15:42+07:00: one parse per (minute, offset), then add the seconds.
            minute_ms = _minute_ms.get(text[:16] + text[19:])
            if minute_ms is None:
                minute_ms = _parse_ms(text[:16] + b":00" + text[19:])
                if minute_ms is None:
                    return None
                if len(_minute_ms) >= _MINUTE_CACHE:
                    _minute_ms.clear()
                _minute_ms[text[:16] + text[19:]] = minute_ms
            seconds = text[17:19]
            if not seconds.isdigit() or int(seconds) > 59:
                return None
            return minute_ms + int(seconds) * 1000
        return _parse_ms(text)
    try:
        moment = _occurred_decoder.decode(raw).occurred_at
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return to_ms(moment) if moment.tzinfo is not None else None


_SIGNS = b"+-"
_T = ord("T")
_MINUTE_CACHE = 100_000
_minute_ms: dict[bytes, int] = {}


def _parse_ms(text: bytes) -> int | None:
    try:
        moment = datetime.fromisoformat(text.decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return to_ms(moment) if moment.tzinfo is not None else None


@dataclass(frozen=True)
class Window:
    """Which events a replay reads: occurred in ``[from_ms - margin_ms, to_ms + margin_ms)``.

    Buckets in ``[from_ms, to_ms)`` come out exact when every dossier counted there has all its
    events within the margin of the window (a reception at most ``margin_ms`` before its
    completion, payments and syncs at most ``margin_ms`` after ``to_ms``); buckets outside get
    only part of their dossiers. ``None`` bounds are open. Lines whose time cannot be read are
    always fed to the core, which dead-letters them.
    """

    from_ms: int | None = None
    to_ms: int | None = None
    margin_ms: int = DEFAULT_MARGIN_MS

    @property
    def is_everything(self) -> bool:
        return self.from_ms is None and self.to_ms is None

    @property
    def read_from_ms(self) -> int | None:
        return None if self.from_ms is None else self.from_ms - self.margin_ms

    @property
    def read_to_ms(self) -> int | None:
        return None if self.to_ms is None else self.to_ms + self.margin_ms

    def contains(self, occurred_ms: int | None) -> bool:
        if occurred_ms is None:
            return True
        low, high = self.read_from_ms, self.read_to_ms
        return (low is None or occurred_ms >= low) and (high is None or occurred_ms < high)


def file_records(
    lines: Iterable[bytes], source_name: str, now_ms: int, window: Window, batch_size: int
) -> Iterator[tuple[list[Record], int]]:
    """Batches of records from an export's lines, and how many lines were outside the window.

    Each yielded pair is (records in the window, lines skipped since the previous batch).
    Blank lines hold no event and are skipped without counting. The source of a line is
    ``NAME:LINE`` (1-based), as ``ingest`` names it.
    """
    batch: list[Record] = []
    skipped = 0
    everything = window.is_everything
    for number, line in enumerate(lines, start=1):
        raw = line.rstrip(b"\r\n")
        if not raw.strip():
            continue
        occurred_ms = occurred_ms_of(raw)
        if not everything and not window.contains(occurred_ms):
            skipped += 1
            continue
        batch.append((raw, f"{source_name}:{number}", record_ms_for(occurred_ms, now_ms)))
        if len(batch) >= batch_size:
            yield batch, skipped
            batch, skipped = [], 0
    if batch or skipped:
        yield batch, skipped
