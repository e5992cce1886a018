"""Read the raw event archive (``events_raw``) back in pages, as replay records.

Pages are ranges of ``event_id``, the table's sort key, so each page reads only its own part
of the table on every engine (old servers have no read-in-order optimisation, and one big
result would have to fit in memory). An archived event has no Kafka timestamp: its record time
is its own ``occurred_ms``.
"""

from __future__ import annotations

from collections.abc import Iterator

from pipeline.replay.records import Record, Window
from sinks.store import Store

PAGE_ROWS = 100_000


def quote(text: str) -> str:
    """A ClickHouse string literal (backslash and quote escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _time_filter(window: Window) -> str:
    conditions = ["1"]
    if window.read_from_ms is not None:
        conditions.append(f"occurred_ms >= {max(0, window.read_from_ms)}")
    if window.read_to_ms is not None:
        conditions.append(f"occurred_ms < {max(0, window.read_to_ms)}")
    return " AND ".join(conditions)


def archived_count(store: Store, database: str, window: Window) -> tuple[int, int]:
    """(archived rows in the window, archived rows outside it); duplicates not yet merged count."""
    rows = store.query(
        f"SELECT countIf({_time_filter(window)}), count() FROM {database}.events_raw"
    )
    inside, every = int(rows[0][0]), int(rows[0][1])
    return inside, every - inside


def archive_batches(
    store: Store, database: str, window: Window, page_rows: int = PAGE_ROWS
) -> Iterator[tuple[list[Record], int]]:
    """Every archived event in the window, a page at a time, as (records, 0) pairs.

    The page bounds are taken first, so rows a replay writes into the same archive while
    reading (same ids, same content) are never read twice.
    """
    time_filter = _time_filter(window)
    marks = store.query(
        f"""SELECT event_id FROM (
                SELECT event_id FROM {database}.events_raw WHERE {time_filter} ORDER BY event_id
            ) WHERE rowNumberInAllBlocks() % {int(page_rows)} = {int(page_rows) - 1}"""
    )
    bounds = sorted({str(row[0]) for row in marks})
    edges: list[tuple[str | None, str | None]] = []
    low: str | None = None
    for bound in bounds:
        edges.append((low, bound))
        low = bound
    edges.append((low, None))
    for low, high in edges:
        conditions = [time_filter]
        if low is not None:
            conditions.append(f"event_id > {quote(low)}")
        if high is not None:
            conditions.append(f"event_id <= {quote(high)}")
        rows = store.query(
            f"SELECT payload, event_id, occurred_ms FROM {database}.events_raw "
            f"WHERE {' AND '.join(conditions)}"
        )
        if rows:
            yield (
                [
                    (str(payload).encode(), f"archive:{event_id}", int(occurred_ms))
                    for payload, event_id, occurred_ms in rows
                ],
                0,
            )
