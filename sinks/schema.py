"""The ClickHouse schema as ordered migrations, in SQL that both 18.16 and current ClickHouse accept.

Portable subset: no DateTime64, TTL, LowCardinality or toStartOfInterval. Times are stored as
UInt64 epoch milliseconds and turned into DateTime('Asia/Ho_Chi_Minh') in views.

How the numbers are kept (DESIGN.md §6): a worker writes *snapshots* of per-dossier state to
``dossier_state``. Every snapshot is a join of some of the dossier's facts (flags only go up,
"first received/completed" is a minimum), so the true state is the join of all snapshots, which
``dossier_merged`` computes with max/min/argMin. Stale, duplicated or re-sent snapshots, and
snapshots written for the same dossier by different workers or partitions, therefore never
change the result. ``indicator_hourly`` counts numerators and denominators per unit, indicator
and hour from the merged state; it regroups all of ``dossier_state`` at every read, so readers
use ``hourly_counts`` instead, which the worker keeps equal to it (``sinks/hourly.py``).
"""

from __future__ import annotations

import time

from sinks.store import Store

TZ = "Asia/Ho_Chi_Minh"

DOSSIER_STATE_COLUMNS = (
    "dossier_id",
    "unit_code",
    "procedure_code",
    "received_key",
    "received_ms",
    "channel",
    "fee_amount",
    "result_is_document",
    "completed_key",
    "completed_ms",
    "outcome",
    "paid_online",
    "digitized",
    "reused",
    "synced",
    "e_result",
)
HOURLY_COUNT_COLUMNS = (
    "unit_code",
    "indicator",
    "bucket_start",
    "numerator",
    "denominator",
    "version",
)
UNIT_COLUMNS = ("code", "name", "level", "parent", "version")
PROCEDURE_COLUMNS = (
    "code",
    "name",
    "field",
    "online_level",
    "fee_bearing",
    "result_is_document",
    "full_process_eligible",
    "version",
)
EVENT_COLUMNS = (
    "event_id",
    "type",
    "occurred_ms",
    "unit_code",
    "dossier_id",
    "procedure_code",
    "payload",
)
DEAD_LETTER_COLUMNS = ("source", "kind", "reason", "raw", "recorded_ms")

# The merge of snapshots into dossier state and the counting of indicators, written once: the
# views of migration 1 use them over everything, the incremental refresh (``sinks/hourly.py``)
# over a few dossiers. ``{source}`` is a table of snapshots (``dossier_state`` or its copy
# ``snapshots_by_dossier``) and ``{where}`` filters it; ``{merged}`` is a relation with the
# columns of MERGED_SELECT; ``{tz}`` is the time zone.
MERGED_SELECT = """SELECT
    dossier_id,
    minIf(received_key, received_key != '') AS first_received_key,
    argMinIf(unit_code, received_key, received_key != '') AS unit,
    argMinIf(procedure_code, received_key, received_key != '') AS procedure,
    argMinIf(received_ms, received_key, received_key != '') AS received_at_ms,
    argMinIf(channel, received_key, received_key != '') AS received_channel,
    argMinIf(fee_amount, received_key, received_key != '') AS fee,
    argMinIf(result_is_document, received_key, received_key != '') AS is_document,
    minIf(completed_key, completed_key != '') AS first_completed_key,
    argMinIf(completed_ms, completed_key, completed_key != '') AS completed_at_ms,
    argMinIf(outcome, completed_key, completed_key != '') AS completed_outcome,
    max(paid_online) AS any_paid_online,
    max(digitized) AS any_digitized,
    max(reused) AS any_reused,
    max(synced) AS any_synced,
    max(e_result) AS any_e_result
FROM {source} {where}
GROUP BY dossier_id
HAVING first_received_key != ''"""

RECEIVED_INDICATORS = (
    "online_filing",
    "online_payment",
    "digitization",
    "data_reuse",
    "portal_sync",
)
"""Indicators bucketed by the hour of the dossier's first reception (in COUNTS_SELECT's order)."""
COMPLETED_INDICATORS = ("e_result",)
"""Indicators bucketed by the hour of the dossier's first completion."""

COUNTS_SELECT = """SELECT
    unit AS unit_code,
    indicator,
    toStartOfHour(toDateTime(intDiv(anchor_ms, 1000), '{tz}')) AS bucket_start,
    sum(num) AS numerator,
    sum(den) AS denominator
FROM {merged}
ARRAY JOIN
    ['online_filing', 'online_payment', 'digitization', 'data_reuse', 'portal_sync', 'e_result']
        AS indicator,
    [received_at_ms, received_at_ms, received_at_ms, received_at_ms, received_at_ms,
     completed_at_ms] AS anchor_ms,
    [toUInt64(received_channel = 'online'), toUInt64(fee > 0 AND any_paid_online = 1),
     toUInt64(any_digitized), toUInt64(any_reused), toUInt64(any_synced),
     toUInt64(any_e_result = 1 AND first_completed_key != '' AND completed_outcome != 'withdrawn'
              AND is_document = 1)] AS num,
    [toUInt64(1), toUInt64(fee > 0), toUInt64(1), toUInt64(1), toUInt64(1),
     toUInt64(first_completed_key != '' AND completed_outcome != 'withdrawn'
              AND is_document = 1)] AS den
GROUP BY unit_code, indicator, bucket_start
HAVING denominator > 0"""


# Each step is (version, description, statements). Statements use {db} for the namespace's database.
MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "dossier state snapshots, raw event archive, dead letters, merged views",
        [
            """CREATE TABLE IF NOT EXISTS {db}.dossier_state (
                dossier_id String,
                unit_code String,
                procedure_code String,
                received_key String,
                received_ms UInt64,
                channel String,
                fee_amount UInt64,
                result_is_document UInt8,
                completed_key String,
                completed_ms UInt64,
                outcome String,
                paid_online UInt8,
                digitized UInt8,
                reused UInt8,
                synced UInt8,
                e_result UInt8
            ) ENGINE = ReplacingMergeTree()
            ORDER BY (dossier_id, received_key, completed_key,
                      paid_online, digitized, reused, synced, e_result)""",
            """CREATE TABLE IF NOT EXISTS {db}.events_raw (
                event_id String,
                type String,
                occurred_ms UInt64,
                unit_code String,
                dossier_id String,
                procedure_code String,
                payload String
            ) ENGINE = ReplacingMergeTree()
            ORDER BY event_id""",
            """CREATE TABLE IF NOT EXISTS {db}.dead_letters (
                source String,
                kind String,
                reason String,
                raw String,
                recorded_ms UInt64
            ) ENGINE = ReplacingMergeTree()
            ORDER BY source""",
            "CREATE VIEW IF NOT EXISTS {db}.dossier_merged AS "
            + MERGED_SELECT.format(source="{db}.dossier_state", where=""),
            "CREATE VIEW IF NOT EXISTS {db}.indicator_hourly AS "
            + COUNTS_SELECT.format(merged="{db}.dossier_merged", tz="{tz}"),
        ],
    ),
    (
        2,
        "hourly counts table (latest version per unit, indicator, hour); units and procedures",
        [
            # The fast source of every hourly number: absolute totals of a (unit, indicator,
            # hour) bucket, rewritten with a higher version whenever the bucket may have changed.
            # Read with FINAL (or argMax by version) and keep rows with denominator > 0: a bucket
            # that lost all its dossiers (an earlier reception moved one away) is a zero row.
            """CREATE TABLE IF NOT EXISTS {db}.hourly_counts (
                unit_code String,
                indicator String,
                bucket_start DateTime('{tz}'),
                numerator UInt64,
                denominator UInt64,
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            PARTITION BY toYYYYMM(bucket_start)
            ORDER BY (unit_code, indicator, bucket_start)""",
            """CREATE TABLE IF NOT EXISTS {db}.units (
                code String,
                name String,
                level String,
                parent String,
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY code""",
            """CREATE TABLE IF NOT EXISTS {db}.procedures (
                code String,
                name String,
                field String,
                online_level String,
                fee_bearing UInt8,
                result_is_document UInt8,
                full_process_eligible UInt8,
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY code""",
        ],
    ),
    (
        6,
        "index of dossiers by unit and hour, for the incremental refresh of hourly_counts",
        [
            # Which dossiers were ever counted in a (unit, hour) bucket, by anchor ('received' for
            # the reception-anchored indicators, 'completed' for e_result). Rows are only added:
            # a dossier that moved to another bucket keeps a stale row here, which the refresh
            # ignores after merging the dossier. See sinks/hourly.py.
            """CREATE TABLE IF NOT EXISTS {db}.dossier_buckets (
                unit_code String,
                bucket_start DateTime('{tz}'),
                anchor String,
                dossier_id String
            ) ENGINE = ReplacingMergeTree()
            PARTITION BY toYYYYMM(bucket_start)
            ORDER BY (bucket_start, unit_code, anchor, dossier_id)
            SETTINGS index_granularity = 1024""",
            # The snapshots again, in small granules by dossier id: the refresh looks up a few
            # hundred dossiers per batch, and in ``dossier_state`` (8192-row granules) the
            # newest dossiers of every unit would touch most of the table.
            """CREATE TABLE IF NOT EXISTS {db}.snapshots_by_dossier AS {db}.dossier_state
            ENGINE = ReplacingMergeTree()
            ORDER BY (dossier_id, received_key, completed_key,
                      paid_online, digitized, reused, synced, e_result)
            SETTINGS index_granularity = 256""",
            """INSERT INTO {db}.snapshots_by_dossier SELECT * FROM {db}.dossier_state""",
            # Stores that already hold snapshots: index them and bring hourly_counts up to date,
            # with a version newer than any earlier full refresh (versions are epoch ns).
            """INSERT INTO {db}.dossier_buckets (unit_code, bucket_start, anchor, dossier_id)
            SELECT unit, toStartOfHour(toDateTime(intDiv(received_at_ms, 1000), '{tz}')),
                   'received', dossier_id
            FROM {db}.dossier_merged""",
            """INSERT INTO {db}.dossier_buckets (unit_code, bucket_start, anchor, dossier_id)
            SELECT unit, toStartOfHour(toDateTime(intDiv(completed_at_ms, 1000), '{tz}')),
                   'completed', dossier_id
            FROM {db}.dossier_merged WHERE first_completed_key != ''""",
            """INSERT INTO {db}.hourly_counts
                (unit_code, indicator, bucket_start, numerator, denominator, version)
            SELECT unit_code, indicator, bucket_start, numerator, denominator,
                   toUInt64(now()) * 1000000000
            FROM {db}.indicator_hourly""",
        ],
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]


def migrate(store: Store, database: str) -> list[int]:
    """Create the database and apply every migration newer than the stored version; return those applied."""
    store.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    store.execute(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_version "
        "(version UInt32, description String, applied_ms UInt64) ENGINE = MergeTree() ORDER BY version"
    )
    current = current_version(store, database)
    applied = []
    for version, description, statements in MIGRATIONS:
        if version <= current:
            continue
        for statement in statements:
            store.execute(statement.format(db=database, tz=TZ))
        store.insert(
            f"{database}.schema_version",
            ("version", "description", "applied_ms"),
            [(version, description, int(time.time() * 1000))],
        )
        applied.append(version)
    return applied


def current_version(store: Store, database: str) -> int:
    rows = store.query(f"SELECT max(version) FROM {database}.schema_version")
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def drop(store: Store, database: str) -> None:
    """Remove the namespace's database (tests and replays clean up with this)."""
    store.execute(f"DROP DATABASE IF EXISTS {database}")
