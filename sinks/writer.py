"""Store a processed batch: raw archive, dead letters, dossier snapshots; retry what may pass."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from pipeline.errors import RetryableSinkError
from pipeline.processing import BatchResult
from sinks.schema import DEAD_LETTER_COLUMNS, DOSSIER_STATE_COLUMNS, EVENT_COLUMNS
from sinks.store import Row, Store

log = logging.getLogger(__name__)


class ResultWriter:
    """Writes every row of a batch or raises; all writes are idempotent, so a retry is safe.

    Transient failures are retried with bounded exponential backoff (``max_attempts``, delays
    capped at ``max_delay_s``); when retries run out the error propagates and the caller must
    stop consuming rather than skip data.
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
        self._insert("events_raw", EVENT_COLUMNS, result.archive)
        dead = [
            (d.source, d.kind, d.reason, d.raw.decode("utf-8", "replace"), recorded_ms)
            for d in result.dead_letters
        ]
        self._insert("dead_letters", DEAD_LETTER_COLUMNS, dead)
        self._insert("dossier_state", DOSSIER_STATE_COLUMNS, result.snapshots)

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
