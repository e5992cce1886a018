"""Store a processed batch: dossier snapshots, raw archive, dead letters; retry what may pass,
and isolate the rows the store refuses so that only their messages become dead letters."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Callable, Sequence

from pipeline.errors import RejectedRowsError, RetryableSinkError
from pipeline.processing import BatchResult, DeadLetter
from sinks.schema import DEAD_LETTER_COLUMNS, DOSSIER_STATE_COLUMNS, EVENT_COLUMNS
from sinks.store import Row, Store

log = logging.getLogger(__name__)

STORE_REJECTED = "store_rejected"
"""Dead-letter kind of a message whose row the store refused for its values."""
_DOSSIER_ID = DOSSIER_STATE_COLUMNS.index("dossier_id")
_EVENT_DOSSIER_ID = EVENT_COLUMNS.index("dossier_id")
_PAYLOAD = EVENT_COLUMNS.index("payload")


class ResultWriter:
    """Writes every row of a batch or raises; all writes are idempotent, so a retry is safe.

    Transient failures are retried with bounded exponential backoff (``max_attempts``, delays
    capped at ``max_delay_s``); when retries run out the error propagates and the caller must
    stop consuming rather than skip data. A permanent refusal of the *values*
    (``RejectedRowsError``) is narrowed down by splitting the rows in halves until the refused
    rows stand alone: their messages become ``store_rejected`` dead letters, the rest is stored.
    Any other permanent error propagates.
    """

    def __init__(
        self,
        store: Store,
        database: str,
        max_attempts: int = 8,
        base_delay_s: float = 0.2,
        max_delay_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.database = database
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._sleep = sleep

    def write(self, result: BatchResult, recorded_ms: int) -> None:
        """Store the batch's rows. Messages whose rows the store refuses move from accepted to
        ``result.dead_letters`` (so ``accepted + len(dead_letters)`` stays the batch size)."""
        refused_dossiers: dict[str, str] = {}
        for index, reason in self._insert_isolating(
            "dossier_state", DOSSIER_STATE_COLUMNS, result.snapshots
        ):
            refused_dossiers[str(result.snapshots[index][_DOSSIER_ID])] = reason
        archive: Sequence[Row] = result.archive
        sources: Sequence[str] = result.archive_sources
        refused: list[DeadLetter] = []
        if refused_dossiers:  # rare: set aside the events of the refused dossiers
            kept: list[Row] = []
            kept_sources: list[str] = []
            for row, source in zip(archive, sources, strict=True):
                dossier_refused = refused_dossiers.get(str(row[_EVENT_DOSSIER_ID]))
                if dossier_refused is None:
                    kept.append(row)
                    kept_sources.append(source)
                else:
                    refused.append(
                        _rejected(row, source, f"its dossier's state row: {dossier_refused}")
                    )
            archive, sources = kept, kept_sources
        for index, reason in self._insert_isolating("events_raw", EVENT_COLUMNS, archive):
            refused.append(_rejected(archive[index], sources[index], reason))
        # ``result`` changes only once every insert went through: the worker calls ``write``
        # again with the same result after an outage, which must not count a refusal twice.
        letters = [*result.dead_letters, *refused]
        dead = [dead_letter_row(d, recorded_ms) for d in letters]
        self._insert("dead_letters", DEAD_LETTER_COLUMNS, dead)
        if refused:
            log.warning("the store refused the rows of %d messages; dead-lettered: %s",
                        len(refused), refused[0].reason)  # fmt: skip
            result.accepted -= len(refused)
            result.dead_letters.extend(refused)

    def _insert_isolating(
        self, table: str, columns: Sequence[str], rows: Sequence[Row]
    ) -> list[tuple[int, str]]:
        """Insert rows; return (index, reason) of each row the store refuses for its values."""
        try:
            self._insert(table, columns, rows)
            return []
        except RejectedRowsError as error:
            if len(rows) == 1:
                return [(0, f"the store refused this {table} row: {error}")]
        middle = len(rows) // 2
        first = self._insert_isolating(table, columns, rows[:middle])
        second = self._insert_isolating(table, columns, rows[middle:])
        return first + [(middle + index, reason) for index, reason in second]

    def _insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.store.insert(f"{self.database}.{table}", columns, rows)
                return
            except RetryableSinkError as error:
                if attempt == self.max_attempts:
                    raise
                delay = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
                log.warning("insert into %s failed (attempt %d): %s; retrying in %.1f s",
                            table, attempt, error, delay)  # fmt: skip
                self._sleep(delay)


def dead_letter_row(letter: DeadLetter, recorded_ms: int) -> Row:
    """A ``dead_letters`` row (``DEAD_LETTER_COLUMNS``): the text for reading, the exact bytes
    in base64 when they are not UTF-8, and their SHA-256 as part of the key."""
    try:
        text, exact = letter.raw.decode(), ""
    except UnicodeDecodeError:
        text, exact = letter.raw.decode("utf-8", "replace"), base64.b64encode(letter.raw).decode()
    digest = hashlib.sha256(letter.raw).hexdigest()
    return (letter.source, letter.kind, letter.reason, text, digest, exact, recorded_ms)


def _rejected(row: Row, source: str, reason: str) -> DeadLetter:
    payload = row[_PAYLOAD]
    raw = payload.encode("utf-8", "replace") if isinstance(payload, str) else b""
    return DeadLetter(raw, source, STORE_REJECTED, reason)
