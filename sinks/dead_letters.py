"""Read dead letters back, and mark the ones that were sent to the input topics again.

A letter is one rejected message: the distinct (source, raw_sha256) of ``dead_letters`` (the
same message rejected again by a restarted worker or by a replay into the same namespace is the
same letter), identified by ``cityHash64(source, raw_sha256)``. A letter is *open* until it is marked in
``dead_letters_redriven``; marking is idempotent, so a letter redriven twice is marked once.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.errors import ConfigError
from sinks.schema import REDRIVEN_COLUMNS
from sinks.store import Store

_KIND_RE = re.compile(r"^[a-z_]{1,40}$")


@dataclass(frozen=True)
class Letter:
    letter_id: int
    source: str
    """Where the bytes came from: ``topic[partition]@offset``, ``FILE:LINE`` or ``archive:ID``."""
    kind: str
    reason: str
    raw: str
    """The original message as text (bytes that were not UTF-8 show as U+FFFD)."""
    recorded_ms: int
    """When the letter was first recorded (wall clock, epoch ms)."""
    redriven_ms: int = 0
    """When it was sent to the input topics again; 0 while it is open."""
    raw_base64: str = ""
    """The exact original bytes in base64 when they are not UTF-8, else empty."""

    @property
    def raw_bytes(self) -> bytes:
        """The exact original bytes."""
        return base64.b64decode(self.raw_base64) if self.raw_base64 else self.raw.encode()

    @property
    def is_open(self) -> bool:
        return self.redriven_ms == 0


def letters(
    store: Store,
    database: str,
    *,
    kind: str | None = None,
    since_ms: int | None = None,
    include_redriven: bool = False,
) -> list[Letter]:
    """Dead letters, oldest first, optionally of one kind and recorded at or after ``since_ms``.

    Raises ConfigError for a kind that is not a plain identifier (it goes into SQL).
    """
    conditions = ["1"]
    if kind is not None:
        if not _KIND_RE.match(kind):
            raise ConfigError(f"kind {kind!r}: expected a word like unknown_unit")
        conditions.append(f"kind = '{kind}'")
    rows = store.query(
        f"""SELECT cityHash64(source, raw_sha256) AS letter_id, source,
                   argMax(kind, recorded_ms), argMax(reason, recorded_ms), any(raw),
                   min(recorded_ms) AS first_ms, any(raw_base64)
            FROM {database}.dead_letters
            WHERE {" AND ".join(conditions)}
            GROUP BY source, raw_sha256
            HAVING first_ms >= {int(since_ms or 0)}
            ORDER BY first_ms, source"""
    )
    marks = redriven_marks(store, database)
    found = [
        Letter(int(i), str(s), str(k), str(r), str(raw), int(ms), marks.get(int(i), 0), str(b64))
        for i, s, k, r, raw, ms, b64 in rows
    ]
    return found if include_redriven else [letter for letter in found if letter.is_open]


def redriven_marks(store: Store, database: str) -> dict[int, int]:
    """letter_id -> when it was first redriven (epoch ms); empty before schema migration 7."""
    exists = store.query(
        f"SELECT count() FROM system.tables WHERE database = '{database}' "
        "AND name = 'dead_letters_redriven'"
    )
    if not int(exists[0][0]):
        return {}
    rows = store.query(
        f"SELECT letter_id, min(redriven_ms) FROM {database}.dead_letters_redriven "
        "GROUP BY letter_id"
    )
    return {int(letter_id): int(ms) for letter_id, ms in rows}


def mark_redriven(
    store: Store, database: str, marks: Sequence[tuple[Letter, str]], redriven_ms: int
) -> None:
    """Mark each (letter, topic it was sent to) as redriven at ``redriven_ms``."""
    store.insert(
        f"{database}.dead_letters_redriven",
        REDRIVEN_COLUMNS,
        [(letter.letter_id, letter.source, topic, redriven_ms) for letter, topic in marks],
    )


def open_counts(store: Store, database: str) -> dict[str, int]:
    """Open dead letters by kind: each rejected message once, redriven ones left out."""
    counts: dict[str, int] = {}
    for letter in letters(store, database):
        counts[letter.kind] = counts.get(letter.kind, 0) + 1
    return dict(sorted(counts.items()))
