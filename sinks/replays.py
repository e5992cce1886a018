"""Record replays in the target namespace (``replays`` table), and tell alerting when to stay quiet.

A replay writes one row when it starts (``finished_ms = 0``) and the same row with a higher
version and its counts when it ends. The alert evaluator asks ``notifications_muted``: a replay
without ``--notify`` mutes notifications while it runs and, in a namespace it created, for good.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, replace

from sinks.schema import REPLAY_COLUMNS
from sinks.store import Store

STALE_RUNNING_MS = 24 * 3_600_000
"""A replay still "running" after this long has crashed; it no longer mutes a live namespace."""


@dataclass(frozen=True)
class ReplayRow:
    replay_id: str
    source: str
    from_ms: int
    to_ms: int
    notify: int
    created_namespace: int
    started_ms: int
    finished_ms: int = 0
    messages: int = 0
    accepted: int = 0
    dead_letters: int = 0
    version: int = 0


def record_replay(store: Store, database: str, row: ReplayRow) -> ReplayRow:
    """Write ``row`` with a version above the previous one of the same replay; return it."""
    stored = replace(row, version=row.version + 1)
    store.insert(f"{database}.replays", REPLAY_COLUMNS, [astuple(stored)])
    return stored


def notifications_muted(store: Store, database: str, now_ms: int) -> bool:
    """Whether alerts about ``database`` must not notify anyone now (see the module docstring)."""
    rows = store.query(
        f"""SELECT count() FROM {database}.replays FINAL
            WHERE notify = 0
              AND (created_namespace = 1
                   OR (finished_ms = 0 AND started_ms > {now_ms - STALE_RUNNING_MS}))"""
    )
    return int(rows[0][0]) > 0


def replays_of(store: Store, database: str) -> list[ReplayRow]:
    """Every replay into ``database``, newest first (latest version of each)."""
    rows = store.query(
        f"SELECT {', '.join(REPLAY_COLUMNS)} FROM {database}.replays FINAL "
        "ORDER BY started_ms DESC, replay_id"
    )
    return [
        ReplayRow(str(r[0]), str(r[1]), *(int(v) for v in r[2:]))  # type: ignore[arg-type]
        for r in rows
    ]
