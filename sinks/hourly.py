"""Keep ``hourly_counts`` equal to what ``indicator_hourly`` (the merge-at-read view) would say.

``refresh_all`` recomputes every bucket from the view and writes it with one new version, plus
zero rows for buckets that no longer have a denominator, so readers of ``hourly_counts FINAL``
see exactly the view's numbers. It costs what the whole history costs; the worker's incremental
refresh of touched buckets is the fast path.
"""

from __future__ import annotations

import time

from sinks.store import Store


def refresh_all(store: Store, database: str) -> None:
    """Rewrite every bucket of ``hourly_counts`` from the view with a newer version."""
    version = time.time_ns()
    store.execute(
        f"""INSERT INTO {database}.hourly_counts
            (unit_code, indicator, bucket_start, numerator, denominator, version)
            SELECT unit_code, indicator, bucket_start, numerator, denominator, {version}
            FROM {database}.indicator_hourly"""
    )
    store.execute(
        f"""INSERT INTO {database}.hourly_counts
            (unit_code, indicator, bucket_start, numerator, denominator, version)
            SELECT unit_code, indicator, bucket_start, 0, 0, {version}
            FROM {database}.hourly_counts FINAL
            WHERE version < {version} AND denominator > 0"""
    )
