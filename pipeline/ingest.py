"""Ingest: route each line of an export to its input topic, or to the dead-letter topic with the reason.

Pure apart from the values it is given: the caller reads the file, passes ``now_ms`` (the
load time), and sends the messages this module builds. A good line goes, byte for byte, to
``{namespace}.{family}-events`` keyed by its dossier_id, with the event's own time as its
record timestamp (``record_ms_for``: an export of last year still counts, and a line dated
after ``now_ms`` is stamped ``now_ms``); a bad one goes to ``{namespace}.dead-letters`` with
``chiso766.reason``/``kind``/``source`` headers, where source is ``FILE:LINE``. A line is
judged exactly as the worker will judge its record (``pipeline.validation.problem_of``).
Counts and the first few problems are kept in an ``IngestSummary``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pipeline.broker import DEAD_LETTERS, TRUNCATED_SIZES, headers, topic_for_type, truncated
from pipeline.errors import DecodeError
from pipeline.events import EVENT_TYPES, decode_event
from pipeline.producing import MAX_MESSAGE_BYTES, Message
from pipeline.reference import Reference
from pipeline.settings import Settings
from pipeline.validation import problem_of, record_ms_for

CHUNK_LINES = 20_000
MAX_EXAMPLES = 10
TOO_LARGE = "too_large"
"""Kind of a line larger than a Kafka message may be: dead-lettered truncated, and reported."""


@dataclass
class IngestSummary:
    """Counts of an ingest run: good and bad lines, bad ones by kind, good ones by topic."""

    good: int = 0
    bad: int = 0
    blank: int = 0
    """Empty lines, skipped: they hold no event."""
    reasons: Counter[str] = field(default_factory=Counter)
    topics: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, object]] = field(default_factory=list)
    """The first few bad lines: where, kind, reason."""
    truncated_lines: list[int] = field(default_factory=list)
    """Line numbers of lines too large to send whole (each sent truncated as a dead letter)."""
    elapsed_s: float = 0.0

    @property
    def lines(self) -> int:
        return self.good + self.bad

    def to_json(self) -> dict[str, object]:
        return {
            "good": self.good,
            "bad": self.bad,
            "blank": self.blank,
            "reasons": dict(sorted(self.reasons.items())),
            "topics": dict(sorted(self.topics.items())),
            "examples": self.examples,
            "truncated_lines": self.truncated_lines,
            "elapsed_s": round(self.elapsed_s, 3),
            "lines_per_s": round(self.lines / self.elapsed_s) if self.elapsed_s > 0 else None,
        }


def route_lines(
    lines: Iterable[bytes],
    *,
    reference: Reference,
    now_ms: int,
    settings: Settings,
    source: str,
    summary: IngestSummary,
    chunk_lines: int = CHUNK_LINES,
) -> Iterator[list[Message]]:
    """Turn raw lines (newline optional) into chunks of Kafka messages, counting into ``summary``.

    Never raises for bad input: every non-blank line becomes exactly one message.
    """
    input_topics = {kind: settings.topic(topic_for_type(kind)) for kind in EVENT_TYPES}
    dead_letters = settings.topic(DEAD_LETTERS)
    chunk: list[Message] = []
    for number, raw in enumerate(lines, start=1):
        value = raw.rstrip(b"\r\n")
        if not value.strip():
            summary.blank += 1
            continue
        try:
            if len(value) > MAX_MESSAGE_BYTES:
                raise DecodeError(
                    f"a line of {len(value):,} bytes is larger than a message may be "
                    f"({MAX_MESSAGE_BYTES:,}); sent truncated",
                    kind=TOO_LARGE,
                )
            event = decode_event(value)
            record_ms = record_ms_for(event.ts_ms, now_ms)
            found = problem_of(event, reference, record_ms, settings.late_horizon_days)
            if found is not None:
                raise found
        except DecodeError as problem:
            summary.bad += 1
            summary.reasons[problem.kind] += 1
            where = f"{source}:{number}"
            if len(summary.examples) < MAX_EXAMPLES:
                summary.examples.append(
                    {"source": where, "kind": problem.kind, "reason": str(problem)}
                )
            letter = headers(str(problem), problem.kind, where)
            if problem.kind == TOO_LARGE:
                summary.truncated_lines.append(number)
                chunk.append(
                    (dead_letters, None, *truncated(value, letter, TRUNCATED_SIZES[0]), None)
                )
            else:
                chunk.append((dead_letters, None, value, letter, None))
        else:
            topic = input_topics[event.type]
            summary.good += 1
            summary.topics[topic] += 1
            chunk.append((topic, event.dossier_id.encode(), value, None, record_ms))
        if len(chunk) >= chunk_lines:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
