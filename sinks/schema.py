"""The ClickHouse schema as ordered migrations, in SQL that both 18.16 and current ClickHouse accept.

Portable subset: no DateTime64, TTL, LowCardinality or toStartOfInterval. Times are stored as
UInt64 epoch milliseconds and turned into DateTime('Asia/Ho_Chi_Minh') in views.

How the numbers are kept (docs/architecture.md, "Why the numbers are exact"): a worker writes *snapshots* of per-dossier state to
``dossier_state``. Every snapshot is a join of some of the dossier's facts (flags only go up,
"first received/completed" is a minimum), so the true state is the join of all snapshots, which
``dossier_merged`` computes with max/min/argMin. Stale, duplicated or re-sent snapshots, and
snapshots written for the same dossier by different workers or partitions, therefore never
change the result. ``indicator_hourly`` counts numerators and denominators per unit, indicator
and hour from the merged state; it regroups all of ``dossier_state`` at every read, so readers
use ``hourly_counts`` instead, which the worker keeps equal to it (``sinks/hourly.py``).
``dossier_timeline`` (migration 4) merges the same snapshots with the dossier's clocks (due
time, supplement requests, ratings, complaints), which readers judge as of a moment
(``sinks/asof.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pipeline.errors import SinkError
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
    # migration 4: the as-of clocks and the satisfaction and data-store facts
    "due_ms",
    "supplement1_ms",
    "supplement2_ms",
    "dissatisfied_ms",
    "feedback_ms",
    "feedback_due_ms",
    "feedback_resolved_ms",
    "feedback_dissatisfied_ms",
    "data_store",
    "population_data",
    "e_result_ms",
)
HOURLY_COUNT_COLUMNS = (
    "unit_code",
    "indicator",
    "bucket_start",
    "numerator",
    "denominator",
    "version",
)
UNIT_COLUMNS = ("code", "name", "level", "parent", "version", "e_certified_copy_on")
PROCEDURE_COLUMNS = (
    "code",
    "name",
    "field",
    "online_level",
    "fee_bearing",
    "result_is_document",
    "full_process_eligible",
    "version",
    # migration 4: catalogue facts of the transparency, digitisation and online groups
    "level",
    "agency",
    "published_on",
    "effective_on",
    "public_on",
    "record_complete",
    "population_data_on",
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
DEAD_LETTER_COLUMNS = (
    "source",
    "kind",
    "reason",
    "raw",
    "raw_sha256",
    "raw_base64",
    "recorded_ms",
)
"""``raw`` is the message as UTF-8 text (invalid bytes replaced); ``raw_base64`` holds the exact
original bytes when they are not UTF-8 (else ''); ``raw_sha256`` is the hex SHA-256 of the
original bytes."""
REPLAY_COLUMNS = (
    "replay_id",
    "source",
    "from_ms",
    "to_ms",
    "notify",
    "created_namespace",
    "started_ms",
    "finished_ms",
    "messages",
    "accepted",
    "dead_letters",
    "version",
)
REDRIVEN_COLUMNS = ("letter_id", "source", "topic", "redriven_ms")
ALERT_STATE_COLUMNS = (
    "rule",
    "unit_code",
    "state",
    "since_ms",
    "breaches",
    "recoveries",
    "value",
    "baseline",
    "denominator",
    "version",
)
CONSUMER_OFFSET_COLUMNS = (
    "consumer_group",
    "topic",
    "partition",
    "minute_ms",
    "recorded_ms",
    "committed_offset",
    "end_offset",
    "peak_lag",
)
"""One input partition of one consumer group in one minute (``streams/lag.py`` writes them)."""
ALERT_EVENT_COLUMNS = (
    "event_key",
    "rule",
    "unit_code",
    "indicator",
    "state",
    "at_ms",
    "value",
    "baseline",
    "denominator",
    "severity",
    "kind",
    "published_ms",
    "notified_ms",
    "version",
)


@dataclass(frozen=True)
class Unless:
    """A migration statement skipped when ``exists`` (a count query) is non-zero.

    18.16 has no ``ADD COLUMN IF NOT EXISTS``; this keeps such ALTERs safe when two workers
    migrate the same namespace at once: the loser of the race finds the column there and goes on.
    """

    exists: str
    statement: str


def _column_exists(table: str, column: str) -> str:
    return (
        "SELECT count() FROM system.columns WHERE database = '{db}' "
        f"AND table = '{table}' AND name = '{column}'"
    )


FIRST_FACTS = """minIf(received_key, received_key != '') AS first_received_key,
    argMinIf(unit_code, received_key, received_key != '') AS unit,
    argMinIf(procedure_code, received_key, received_key != '') AS procedure,
    argMinIf(received_ms, received_key, received_key != '') AS received_at_ms,
    argMinIf(channel, received_key, received_key != '') AS received_channel,
    argMinIf(fee_amount, received_key, received_key != '') AS fee,
    argMinIf(result_is_document, received_key, received_key != '') AS is_document,
    minIf(completed_key, completed_key != '') AS first_completed_key,
    argMinIf(completed_ms, completed_key, completed_key != '') AS completed_at_ms,
    argMinIf(outcome, completed_key, completed_key != '') AS completed_outcome,"""
"""How snapshots merge into one dossier: its first reception (by ``received_key``) gives its
unit, procedure, time, channel, fee and kind of result, and its first completion its time and
outcome. Every merge (``MERGED_SELECT``, ``dossier_timeline``) starts with these columns."""


def _dossier_timeline_select(db: str, where: str = "") -> str:
    """The merged state of every received dossier with its clocks (migration 4).

    The join of all snapshots of a dossier, as ``dossier_merged`` but with the columns the
    as-of rules need: ``supplement_times`` are the (at most two) earliest distinct supplement
    requests; every ``*_at_ms`` is 0 when the fact has not happened. ``where`` filters the
    snapshot rows before the merge (readers bound the dossiers by period with it).
    """
    return f"""SELECT
        dossier_id,
        {FIRST_FACTS}
        argMinIf(due_ms, received_key, received_key != '') AS due_at_ms,
        arraySort(arrayFilter(x -> x > 0,
            groupUniqArrayArray([supplement1_ms, supplement2_ms]))) AS supplement_times,
        minIf(dissatisfied_ms, dissatisfied_ms > 0) AS dissatisfied_at_ms,
        minIf(feedback_ms, feedback_ms > 0) AS feedback_at_ms,
        argMinIf(feedback_due_ms, concat(toString(feedback_ms), '|', toString(feedback_due_ms)),
                 feedback_ms > 0) AS feedback_due_at_ms,
        minIf(feedback_resolved_ms, feedback_resolved_ms > 0) AS feedback_resolved_at_ms,
        minIf(feedback_dissatisfied_ms, feedback_dissatisfied_ms > 0)
            AS feedback_dissatisfied_at_ms,
        max(paid_online) AS any_paid_online,
        max(digitized) AS any_digitized,
        max(reused) AS any_reused,
        max(synced) AS any_synced,
        max(e_result) AS any_e_result,
        max(data_store) AS any_data_store,
        max(population_data) AS any_population_data,
        minIf(e_result_ms, e_result_ms > 0) AS e_result_at_ms
    FROM {db}.dossier_state
    {where}
    GROUP BY dossier_id
    HAVING first_received_key != ''"""


def dossier_timeline_sql(db: str, where: str = "") -> str:
    """``dossier_timeline`` as a subquery, optionally pre-filtered (see the view)."""
    return _dossier_timeline_select(db, where)


_NEW_STATE_COLUMNS = (
    ("due_ms", "UInt64"),
    ("supplement1_ms", "UInt64"),
    ("supplement2_ms", "UInt64"),
    ("dissatisfied_ms", "UInt64"),
    ("feedback_ms", "UInt64"),
    ("feedback_due_ms", "UInt64"),
    ("feedback_resolved_ms", "UInt64"),
    ("feedback_dissatisfied_ms", "UInt64"),
    ("data_store", "UInt8"),
    ("population_data", "UInt8"),
    ("e_result_ms", "UInt64"),
)

# The merge of snapshots into dossier state and the counting of indicators, written once: the
# views of migration 1 use them over everything, the incremental refresh (``sinks/hourly.py``)
# over a few dossiers. ``{source}`` is a table of snapshots (``dossier_state`` or its copy
# ``snapshots_by_dossier``) and ``{where}`` filters it; ``{merged}`` is a relation with the
# columns of MERGED_SELECT; ``{tz}`` is the time zone.
MERGED_SELECT = (
    """SELECT
    dossier_id,
    """
    + FIRST_FACTS
    + """
    max(paid_online) AS any_paid_online,
    max(digitized) AS any_digitized,
    max(reused) AS any_reused,
    max(synced) AS any_synced,
    max(e_result) AS any_e_result
FROM {source} {where}
GROUP BY dossier_id
HAVING first_received_key != ''"""
)

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

_INDICATOR_ROWS = """ARRAY JOIN
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
              AND is_document = 1)] AS den"""
"""What one merged dossier counts: a row per indicator with its anchor time, numerator and
denominator (the definition of every indicator, shared by the two selects below)."""

COUNTS_SELECT = (
    """SELECT
    unit AS unit_code,
    indicator,
    toStartOfHour(toDateTime(intDiv(anchor_ms, 1000), '{tz}')) AS bucket_start,
    sum(num) AS numerator,
    sum(den) AS denominator
FROM {merged}
"""
    + _INDICATOR_ROWS
    + """
GROUP BY unit_code, indicator, bucket_start
HAVING denominator > 0"""
)

DOSSIER_SHARES_SELECT = (
    """SELECT
    dossier_id,{passed}
    unit AS unit_code,
    indicator,
    toStartOfHour(toDateTime(intDiv(anchor_ms, 1000), '{tz}')) AS bucket_start,
    num AS numerator,
    den AS denominator
FROM {merged}
"""
    + _INDICATOR_ROWS
    + """
WHERE den > 0"""
)
"""What each dossier adds to the buckets it counts in (COUNTS_SELECT before the sum, with the
same rows): summed over a bucket's dossiers it gives the view's row. ``{passed}``: more columns
of ``{merged}`` to pass through ("" or ``"\n    a, b,"``)."""
ANCHOR_INDICATORS = {"received": RECEIVED_INDICATORS, "completed": COMPLETED_INDICATORS}
"""The indicators of each bucket anchor, in the order of a contribution's arrays."""
CONTRIBUTION_COLUMNS = (
    "unit_code",
    "bucket_start",
    "anchor",
    "dossier_id",
    "numerators",
    "denominators",
    "version",
)
"""A ``bucket_contributions`` row: what one dossier adds to one (unit, hour, anchor) bucket,
per indicator of the anchor (``ANCHOR_INDICATORS``), in two arrays."""


# Each step is (version, description, statements). Statements use {db} for the namespace's database;
# a statement naming a function of PROCEDURES runs that function (store, database) instead, and
# an Unless statement is skipped when its check finds the change already made.
MIGRATIONS: list[tuple[int, str, list[str | Unless]]] = [
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
        3,
        "dead letters keyed by source, hash of the raw bytes and recorded time",
        ["python:rekey_dead_letters"],
    ),
    # Snapshots that differ only in a new fact must not collapse into one in the
    # ReplacingMergeTree, so every new column joins the sorting key (18.16 allows that only for
    # columns added in the same ALTER and without a DEFAULT; old rows read as 0).
    (
        4,
        "dossier clocks (due, supplements, ratings, complaints) and data-store flags; "
        "dossier_timeline view; procedure catalogue and e-certified-copy columns",
        [
            Unless(
                _column_exists("dossier_state", _NEW_STATE_COLUMNS[0][0]),
                "ALTER TABLE {db}.dossier_state "
                + ", ".join(f"ADD COLUMN {name} {kind}" for name, kind in _NEW_STATE_COLUMNS)
                + ", MODIFY ORDER BY (dossier_id, received_key, completed_key, paid_online, "
                "digitized, reused, synced, e_result, "
                + ", ".join(name for name, _ in _NEW_STATE_COLUMNS)
                + ")",
            ),
            "CREATE VIEW IF NOT EXISTS {db}.dossier_timeline AS "
            + _dossier_timeline_select("{db}"),
            Unless(
                _column_exists("procedures", "published_on"),
                "ALTER TABLE {db}.procedures ADD COLUMN level String, ADD COLUMN agency String, "
                "ADD COLUMN published_on String, ADD COLUMN effective_on String, "
                "ADD COLUMN public_on String, ADD COLUMN record_complete UInt8, "
                "ADD COLUMN population_data_on String",
            ),
            Unless(
                _column_exists("units", "e_certified_copy_on"),
                "ALTER TABLE {db}.units ADD COLUMN e_certified_copy_on String",
            ),
        ],
    ),
    (
        5,
        "alerts: state per rule and unit, transitions (outbox), evaluator progress",
        [
            # One row per (rule, unit), rewritten with a higher version when it changes.
            """CREATE TABLE IF NOT EXISTS {db}.alert_state (
                rule String,
                unit_code String,
                state String,
                since_ms UInt64,
                breaches UInt32,
                recoveries UInt32,
                value Nullable(Float64),
                baseline Nullable(Float64),
                denominator Nullable(UInt64),
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY (rule, unit_code)""",
            # Every firing/resolved transition, keyed by its idempotency key; delivery times are
            # filled in by rewriting the row with a higher version (0 = not delivered yet).
            """CREATE TABLE IF NOT EXISTS {db}.alert_events (
                event_key String,
                rule String,
                unit_code String,
                indicator String,
                state String,
                at_ms UInt64,
                value Nullable(Float64),
                baseline Nullable(Float64),
                denominator Nullable(UInt64),
                severity String,
                kind String,
                published_ms UInt64,
                notified_ms UInt64,
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY event_key""",
            """CREATE TABLE IF NOT EXISTS {db}.alert_progress (
                evaluator String,
                evaluated_ms UInt64,
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY evaluator""",
        ],
    ),
    (
        6,
        "snapshots by dossier id, for the incremental refresh of hourly_counts",
        [
            # This migration also made ``dossier_buckets``, an index of which dossiers were
            # ever counted in each bucket; ``bucket_contributions`` (migration 10) replaced it
            # and migration 11 drops it.
            # The snapshots again, in small granules by dossier id: the refresh looks up a few
            # hundred dossiers per batch, and in ``dossier_state`` (8192-row granules) the
            # newest dossiers of every unit would touch most of the table.
            """CREATE TABLE IF NOT EXISTS {db}.snapshots_by_dossier AS {db}.dossier_state
            ENGINE = ReplacingMergeTree()
            ORDER BY (dossier_id, received_key, completed_key,
                      paid_online, digitized, reused, synced, e_result)
            SETTINGS index_granularity = 256""",
            """INSERT INTO {db}.snapshots_by_dossier SELECT * FROM {db}.dossier_state""",
            # Stores that already hold snapshots: bring hourly_counts up to date, with a
            # version newer than any earlier full refresh (versions are epoch ns).
            """INSERT INTO {db}.hourly_counts
                (unit_code, indicator, bucket_start, numerator, denominator, version)
            SELECT unit_code, indicator, bucket_start, numerator, denominator,
                   toUInt64(now()) * 1000000000
            FROM {db}.indicator_hourly""",
        ],
    ),
    (
        7,
        "replay bookkeeping: replays into this namespace, redriven dead letters",
        [
            # One row per replay into this namespace, rewritten with a higher version when it
            # ends (finished_ms > 0). notify = 0 asks the alert evaluator to stay quiet: while
            # the replay runs, and for good in a namespace the replay created.
            """CREATE TABLE IF NOT EXISTS {db}.replays (
                replay_id String,
                source String,
                from_ms UInt64,
                to_ms UInt64,
                notify UInt8,
                created_namespace UInt8,
                started_ms UInt64,
                finished_ms UInt64,
                messages UInt64,
                accepted UInt64,
                dead_letters UInt64,
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY replay_id""",
            # A dead letter (cityHash64(source, raw) of a dead_letters row) that was sent to
            # the input topics again; such letters are no longer open, however often re-sent.
            """CREATE TABLE IF NOT EXISTS {db}.dead_letters_redriven (
                letter_id UInt64,
                source String,
                topic String,
                redriven_ms UInt64
            ) ENGINE = ReplacingMergeTree()
            ORDER BY letter_id""",
        ],
    ),
    (
        8,
        "daily and monthly roll-ups of the hourly counts (latest version per unit, indicator, "
        "day or month)",
        [
            # The same absolute, versioned totals as hourly_counts, per Vietnam day and month,
            # so that a month or a year reads tens of rows per unit instead of every hour. Read
            # with FINAL and denominator > 0, as hourly_counts; kept by sinks/hourly.py. The
            # indicator leads the days' key, in small granules: a panel of one indicator per
            # day over a year then merges (FINAL) a sixth of the table, not all of it.
            """CREATE TABLE IF NOT EXISTS {db}.daily_counts (
                unit_code String,
                indicator String,
                day Date,
                numerator UInt64,
                denominator UInt64,
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            PARTITION BY toYYYYMM(day)
            ORDER BY (indicator, unit_code, day)
            SETTINGS index_granularity = 1024""",
            """CREATE TABLE IF NOT EXISTS {db}.monthly_counts (
                unit_code String,
                indicator String,
                month Date,
                numerator UInt64,
                denominator UInt64,
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            PARTITION BY toYear(month)
            ORDER BY (indicator, unit_code, month)""",
            # Stores that already hold hourly counts: roll them up. Each version is taken when
            # its statement starts, before its read (the rule of sinks/hourly.py); the monthly
            # statement starts after the daily rows are stored.
            """INSERT INTO {db}.daily_counts
                (unit_code, indicator, day, numerator, denominator, version)
            SELECT unit_code, indicator, day, n, d, toUInt64(now()) * 1000000000
            FROM (SELECT unit_code, indicator, toDate(bucket_start, '{tz}') AS day,
                         sum(numerator) AS n, sum(denominator) AS d
                  FROM {db}.hourly_counts FINAL
                  GROUP BY unit_code, indicator, day)""",
            """INSERT INTO {db}.monthly_counts
                (unit_code, indicator, month, numerator, denominator, version)
            SELECT unit_code, indicator, month, n, d, toUInt64(now()) * 1000000000
            FROM (SELECT unit_code, indicator, toStartOfMonth(day) AS month,
                         sum(numerator) AS n, sum(denominator) AS d
                  FROM {db}.daily_counts FINAL
                  GROUP BY unit_code, indicator, month)""",
        ],
    ),
    (
        9,
        "consumer lag: committed and end offsets of each input partition, per minute",
        [
            # Written by the worker every few seconds (streams/lag.py); the newest row of a
            # (group, topic, partition, minute) wins, so a partition has at most one row per
            # minute once merged (about 35,000 rows a day for 24 partitions). minute_ms is
            # recorded_ms rounded down to the minute; peak_lag is the most messages behind the
            # worker saw in the partition during that minute, end_offset - committed_offset the
            # lag when the row was written. 18.16 has no TTL: drop old months with
            # ALTER TABLE ... DROP PARTITION 202401.
            """CREATE TABLE IF NOT EXISTS {db}.consumer_offsets (
                consumer_group String,
                topic String,
                partition UInt32,
                minute_ms UInt64,
                recorded_ms UInt64,
                committed_offset UInt64,
                end_offset UInt64,
                peak_lag UInt64
            ) ENGINE = ReplacingMergeTree(recorded_ms)
            PARTITION BY toYYYYMM(toDateTime(intDiv(minute_ms, 1000), '{tz}'))
            ORDER BY (consumer_group, topic, partition, minute_ms)""",
        ],
    ),
    (
        10,
        "what each dossier adds to each hourly bucket, for the incremental refresh",
        [
            # One row per (unit, hour, anchor) bucket and dossier that the dossier is or was
            # counted in: its numerator and denominator there per indicator of the anchor
            # (ANCHOR_INDICATORS order; 0 or empty where it no longer counts), the row with the
            # highest version winning. A bucket's hourly_counts row is the sum over its
            # dossiers, so the refresh recounts a bucket from these narrow rows instead of
            # merging every snapshot of every dossier in it. Not partitioned: one part per
            # batch, whatever months the batch touches. See sinks/hourly.py.
            """CREATE TABLE IF NOT EXISTS {db}.bucket_contributions (
                unit_code String,
                bucket_start DateTime('{tz}'),
                anchor String,
                dossier_id String,
                numerators Array(UInt64),
                denominators Array(UInt64),
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY (bucket_start, unit_code, anchor, dossier_id)
            SETTINGS index_granularity = 256""",
            # Stores that already hold snapshots: what every dossier adds now.
            "python:contribute_all",
        ],
    ),
    (
        11,
        "drop dossier_buckets, the refresh's index before bucket_contributions",
        ["DROP TABLE IF EXISTS {db}.dossier_buckets"],
    ),
    (
        12,
        "copy every stored snapshot into snapshots_by_dossier as it is inserted",
        [
            # The refresh used to send each batch's snapshots a second time from Python; the
            # engine copies the block it already has instead. Snapshots are joins, so a copy
            # made before the batch's refresh (or by a batch that is stored again after a
            # crash) changes nothing the refresh computes (sinks/hourly.py). ``SELECT *`` is
            # expanded now: a migration that adds a column to dossier_state must add it to
            # snapshots_by_dossier and recreate this view.
            """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.snapshots_by_dossier_feed
            TO {db}.snapshots_by_dossier AS SELECT * FROM {db}.dossier_state""",
        ],
    ),
]


LATEST_VERSION = MIGRATIONS[-1][0]


def migrate(store: Store, database: str, up_to: int | None = None) -> list[int]:
    """Create the database and apply every migration newer than the stored version (up to and
    including ``up_to`` when given, for tests of upgrades); return those applied.

    Within one process migrations run one at a time (threads may share the embedded engine);
    across processes too, through ``_migration_lock`` (two workers starting together on a new
    namespace). Each step also tolerates a concurrent migrator (``Unless``, the copy-and-swap
    of migration 3), for a lock taken over from a migrator that died."""
    with _MIGRATING:
        store.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        with _migration_lock(store, database):
            return _migrate(store, database, up_to)


_MIGRATING = threading.Lock()
_ALREADY_EXISTS = "Code: 57."
"""ClickHouse's TABLE_ALREADY_EXISTS, as both engines' messages start."""


@contextmanager
def _migration_lock(store: Store, database: str, take_over_s: float = 300.0) -> Iterator[None]:
    """Hold the database's migration lock: a table that only one ``CREATE TABLE`` can make.

    Others wait for it to be dropped. One that waited ``take_over_s`` takes it over: its holder
    died (no migration takes that long; the steps tolerate a rare overlap anyway).
    """
    lock = f"{database}.migration_lock"
    deadline = time.monotonic() + take_over_s
    while True:
        try:
            store.execute(f"CREATE TABLE {lock} (holder String) ENGINE = Memory")
            break
        except SinkError as exc:
            if _ALREADY_EXISTS not in str(exc):
                raise
            if time.monotonic() > deadline:
                store.execute(f"DROP TABLE IF EXISTS {lock}")
                deadline = time.monotonic() + take_over_s
            time.sleep(0.2)
    try:
        yield
    finally:
        store.execute(f"DROP TABLE IF EXISTS {lock}")


def _migrate(store: Store, database: str, up_to: int | None) -> list[int]:
    store.execute(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_version "
        "(version UInt32, description String, applied_ms UInt64) ENGINE = MergeTree() ORDER BY version"
    )
    current = current_version(store, database)
    applied = []
    for version, description, statements in MIGRATIONS:
        if version <= current or (up_to is not None and version > up_to):
            continue
        for statement in statements:
            if isinstance(statement, Unless):
                _apply_unless(store, statement, database)
            elif statement in PROCEDURES:
                PROCEDURES[statement](store, database)
            else:
                store.execute(statement.format(db=database, tz=TZ))
        store.insert(
            f"{database}.schema_version",
            ("version", "description", "applied_ms"),
            [(version, description, int(time.time() * 1000))],
        )
        applied.append(version)
    return applied


def _rekey_dead_letters(store: Store, database: str, wait_s: float = 60.0) -> None:
    """Migration 3: rebuild ``dead_letters`` keyed by (source, raw_sha256, recorded_ms).

    Keyed by source alone, letters of a recreated topic (offsets from 0 again) replaced older
    letters at the same offset. Now rows merge only when source, bytes and recording time are
    all equal: a row is one recording of a letter, a message is (source, raw_sha256), which is
    what ``sinks/reader.dead_letter_counts`` counts. Older rows are copied with the hash of
    their stored text (their invalid bytes were already replaced).

    ClickHouse 18.16 cannot change a sorting key to existing columns, so the table is copied
    and swapped. Several workers may migrate at once: a copy made twice merges (same key), and
    a process that finds the swap done or under way by another waits for its result.
    """
    if _has_column(store, database, "dead_letters", "raw_sha256"):
        return
    store.execute(f"""CREATE TABLE IF NOT EXISTS {database}.dead_letters_keyed (
        source String,
        kind String,
        reason String,
        raw String,
        raw_sha256 String,
        raw_base64 String,
        recorded_ms UInt64
    ) ENGINE = ReplacingMergeTree()
    ORDER BY (source, raw_sha256, recorded_ms)""")
    try:
        store.execute(
            f"""INSERT INTO {database}.dead_letters_keyed
                (source, kind, reason, raw, raw_sha256, raw_base64, recorded_ms)
            SELECT source, kind, reason, raw, lower(hex(SHA256(raw))), '', recorded_ms
            FROM {database}.dead_letters"""
        )
        store.execute(f"DROP TABLE {database}.dead_letters")
        store.execute(f"RENAME TABLE {database}.dead_letters_keyed TO {database}.dead_letters")
    except SinkError:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if _has_column(store, database, "dead_letters", "raw_sha256"):
                return
            time.sleep(0.2)
        raise


CONTRIBUTION_PART_ROWS = 200_000
"""Snapshots merged per statement by ``insert_contributions``: a whole year in one statement
would hold every dossier's merge at once (more than the local server's 4 GB per query)."""


def insert_contributions(
    store: Store, database: str, version: int, withdrawn: int | None = None
) -> None:
    """Write what every dossier adds now to its current buckets into ``bucket_contributions``,
    stamped with ``version``, in parts of dossiers (by a hash of the id: all snapshots of a
    dossier fall in the same part). With ``withdrawn`` (a lower version), every contribution
    stored so far is first set to 0 with it, so that only the current ones count."""
    rows = max(
        int(store.query(f"SELECT count() FROM {database}.{table}")[0][0])
        for table in ("dossier_state", "bucket_contributions")
    )
    parts = max(1, -(-rows // CONTRIBUTION_PART_ROWS))
    columns = ", ".join(CONTRIBUTION_COLUMNS)
    for part in range(parts):
        in_part = f"cityHash64(dossier_id) % {parts} = {part}"
        if withdrawn is not None:
            store.execute(
                f"""INSERT INTO {database}.bucket_contributions ({columns})
                    SELECT unit_code, bucket_start, anchor, dossier_id,
                           emptyArrayUInt64(), emptyArrayUInt64(), {withdrawn}
                    FROM {database}.bucket_contributions
                    WHERE {in_part}
                    GROUP BY unit_code, bucket_start, anchor, dossier_id
                    HAVING arraySum(argMax(denominators, version)) > 0
                        OR arraySum(argMax(numerators, version)) > 0"""
            )
        merged = MERGED_SELECT.format(source=f"{database}.dossier_state", where=f"WHERE {in_part}")
        shares = DOSSIER_SHARES_SELECT.format(merged=f"({merged})", tz=TZ, passed="")
        store.execute(
            f"""INSERT INTO {database}.bucket_contributions ({columns})
                SELECT unit_code, bucket_start, anchor, dossier_id,
                       {per_indicator("numerator")}, {per_indicator("denominator")}, {version}
                FROM (SELECT *, {anchor_of("indicator")} AS anchor FROM ({shares}))
                GROUP BY unit_code, bucket_start, anchor, dossier_id"""
        )


def anchor_of(indicator: str) -> str:
    """SQL: the anchor of an indicator column."""
    names = [i for indicators in ANCHOR_INDICATORS.values() for i in indicators]
    anchors = [a for a, indicators in ANCHOR_INDICATORS.items() for _ in indicators]
    return "transform({}, [{}], [{}], '')".format(
        indicator, ", ".join(f"'{n}'" for n in names), ", ".join(f"'{a}'" for a in anchors)
    )


def per_indicator(column: str) -> str:
    """SQL, within a GROUP BY of one anchor's rows: ``column`` summed per indicator of the
    anchor, as an array in ``ANCHOR_INDICATORS`` order."""
    cases = []
    for anchor, indicators in ANCHOR_INDICATORS.items():
        sums = ", ".join(f"sumIf({column}, indicator = '{i}')" for i in indicators)
        cases.append(f"anchor = '{anchor}', [{sums}]")
    return f"multiIf({', '.join(cases)}, emptyArrayUInt64())"


def _contribute_all(store: Store, database: str) -> None:
    """Migration 10: the contributions of the snapshots stored so far, older than any later
    refresh (versions are epoch ns)."""
    insert_contributions(store, database, time.time_ns())


def _has_column(store: Store, database: str, table: str, column: str) -> bool:
    rows = store.query(
        f"SELECT count() FROM system.columns WHERE database = '{database}' "
        f"AND table = '{table}' AND name = '{column}'"
    )
    return bool(int(rows[0][0]))


PROCEDURES: dict[str, Callable[[Store, str], None]] = {
    "python:rekey_dead_letters": _rekey_dead_letters,
    "python:contribute_all": _contribute_all,
}
"""Migration steps that SQL alone cannot do safely, by the name a migration lists them under."""


def _apply_unless(store: Store, step: Unless, database: str) -> None:
    def done() -> bool:
        return bool(int(store.query(step.exists.format(db=database))[0][0]))

    if done():
        return
    try:
        store.execute(step.statement.format(db=database, tz=TZ))
    except SinkError:
        if not done():  # not a concurrent migration that got there first
            raise


def current_version(store: Store, database: str) -> int:
    rows = store.query(f"SELECT max(version) FROM {database}.schema_version")
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def drop(store: Store, database: str) -> None:
    """Remove the namespace's database (tests and replays clean up with this)."""
    store.execute(f"DROP DATABASE IF EXISTS {database}")
