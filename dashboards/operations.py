"""Dashboard "Vận hành": is the pipeline healthy? Events, dead letters, freshness, stored batches.

Consumer lag is not shown: Kafka offsets never reach ClickHouse (see docs/dashboards.md).
Events are counted by their own time (``occurred_ms``): the archive keeps no arrival time.
"""

from __future__ import annotations

from dashboards import sql
from dashboards.model import (
    COUNT,
    GREEN,
    ORANGE,
    RED,
    SECONDS,
    TEXT,
    Column,
    Dashboard,
    Format,
    Panel,
    Query,
    Row,
    Thresholds,
    Variable,
)
from pipeline.broker import INPUT_TOPICS, topic_for_type
from pipeline.events import EVENT_TYPES

UID = "chiso766-van-hanh"
FROM_MS = f"toUInt64(toUInt32({sql.FROM})) * 1000"
TO_MS = f"toUInt64(toUInt32({sql.TO})) * 1000"
BUCKET_S = "greatest(60, $__interval_s)"
STALE_AFTER_S = 900
"""Input topics silent for 15 minutes show orange, for an hour red."""


def _topic_of_type() -> str:
    """SQL: the input topic of ``type`` (``payment.failed`` -> ``payment-events``)."""
    families = sorted({name.split(".", 1)[0] for name in EVENT_TYPES})
    topics = [topic_for_type(f"{family}.") for family in families]
    return "transform(splitByChar('.', type)[1], [{}], [{}], {})".format(
        ", ".join(map(sql.quote, families)),
        ", ".join(map(sql.quote, topics)),
        sql.quote(topic_for_type("")),
    )


def operations_dashboard(db_variable: Variable) -> Dashboard:
    return Dashboard(
        uid=UID,
        title="Vận hành",
        description="Pipeline health for on-call engineers: events stored per minute by input "
        "topic, time since each topic's last event, dead letters by kind, batches stored.",
        variables=(db_variable,),
        time_from="now-6h",
        rows=(
            Row("Luồng sự kiện", (_events_per_minute(), _freshness())),
            Row("Thư lỗi (dead letters)", (_dead_letters_over_time(), _latest_dead_letters())),
            Row("Lưu trữ", (_batches(), _totals())),
        ),
    )


def _events_per_minute() -> Panel:
    query = (
        f"SELECT toDateTime(intDiv(intDiv(occurred_ms, 1000), {BUCKET_S}) * {BUCKET_S}) AS time,\n"
        f"  {_topic_of_type()} AS topic,\n"
        f"  uniqExact(event_id) / ({BUCKET_S} / 60) AS events_per_minute\n"
        f"FROM {sql.DB}.events_raw\n"
        f"WHERE occurred_ms >= {FROM_MS} AND occurred_ms < {TO_MS}\n"
        "GROUP BY time, topic\nORDER BY time, topic"
    )
    return Panel(
        "timeseries",
        "Sự kiện mỗi phút theo topic",
        "Accepted events stored in the raw archive per minute (each event id once), by input "
        "topic, bucketed by the events' own time (averaged over wider buckets on long ranges).",
        Query(query, Format.TIME_SERIES, ("time", "topic", "events_per_minute")),
        unit=COUNT,
        width=16,
        height=8,
        interval="1m",
    )


def _freshness() -> Panel:
    topics = ", ".join(sql.quote(t) for t in INPUT_TOPICS)
    query = (
        "SELECT topic, if(last_ms = 0, NULL, toInt64(toUInt32($__toTime)) - toInt64(intDiv(last_ms, 1000)))"
        " AS seconds_since_last, events\n"
        f"FROM (SELECT arrayJoin([{topics}]) AS topic) AS topics\n"
        "ANY LEFT JOIN (\n"
        f"  SELECT {_topic_of_type()} AS topic, max(occurred_ms) AS last_ms,\n"
        f"    uniqExactIf(event_id, occurred_ms >= {FROM_MS}) AS events\n"
        f"  FROM {sql.DB}.events_raw\n"
        f"  WHERE occurred_ms < {TO_MS}\n"
        "  GROUP BY topic\n"
        ") AS latest USING topic\nORDER BY topic"
    )
    return Panel(
        "table",
        "Thời gian từ sự kiện cuối",
        "Per input topic: seconds from its newest stored event to the end of the time range "
        "(empty: none yet), and distinct events stored in the range.",
        Query(query, Format.TABLE, ("topic", "seconds_since_last", "events")),
        unit=COUNT,
        width=8,
        height=8,
        columns=(
            Column("topic", label="Topic", unit=TEXT),
            Column(
                "seconds_since_last",
                label="Từ sự kiện cuối",
                unit=SECONDS,
                colored=True,
                thresholds=Thresholds(
                    base=GREEN, steps=((float(STALE_AFTER_S), ORANGE), (3600.0, RED))
                ),
            ),
            Column("events", label="Sự kiện trong kỳ", decimals=0),
        ),
    )


def _dead_letters_over_time() -> Panel:
    query = (
        f"SELECT toDateTime(intDiv(intDiv(recorded_ms, 1000), {BUCKET_S}) * {BUCKET_S}) AS time,\n"
        "  kind, uniqExact(source) AS dead_letters\n"
        f"FROM {sql.DB}.dead_letters\n"
        f"WHERE recorded_ms >= {FROM_MS} AND recorded_ms < {TO_MS}\n"
        "GROUP BY time, kind\nORDER BY time, kind"
    )
    return Panel(
        "timeseries",
        "Thư lỗi theo loại",
        "Messages sent to the dead-letter topic per time bucket, by kind (each source message "
        "once), by the time the worker recorded them.",
        Query(query, Format.TIME_SERIES, ("time", "kind", "dead_letters")),
        unit=COUNT,
        width=12,
        height=8,
        interval="1m",
    )


def _latest_dead_letters() -> Panel:
    query = (
        "SELECT toDateTime(intDiv(max(recorded_ms), 1000)) AS recorded_at, kind, source, "
        "any(reason) AS reason\n"
        f"FROM {sql.DB}.dead_letters\n"
        f"WHERE recorded_ms >= {FROM_MS} AND recorded_ms < {TO_MS}\n"
        "GROUP BY kind, source\nORDER BY recorded_at DESC, source\nLIMIT 50"
    )
    return Panel(
        "table",
        "Thư lỗi gần nhất",
        "The 50 newest dead letters in the range: kind, where the message came from and why it "
        "was rejected.",
        Query(query, Format.TABLE, ("recorded_at", "kind", "source", "reason")),
        unit=TEXT,
        width=12,
        height=8,
        columns=(
            Column("recorded_at", label="Lúc", unit="dateTimeAsLocal"),
            Column("kind", label="Loại"),
            Column("source", label="Nguồn"),
            Column("reason", label="Lý do"),
        ),
    )


def _version_ns(bound: str) -> str:
    return f"toUInt64(toUInt32({bound})) * 1000000000"


def _batches() -> Panel:
    query = (
        f"SELECT toDateTime(intDiv(intDiv(version, 1000000000), {BUCKET_S}) * {BUCKET_S}) AS time,\n"
        "  uniqExact(version) AS batches\n"
        f"FROM {sql.DB}.hourly_counts\n"
        f"WHERE version >= {_version_ns(sql.FROM)} AND version < {_version_ns(sql.TO)}\n"
        "GROUP BY time\nORDER BY time"
    )
    return Panel(
        "timeseries",
        "Lô đã lưu",
        "Refreshes of the hourly aggregates per time bucket: each stored batch writes its "
        "buckets with one version (wall-clock nanoseconds). Older versions disappear as "
        "ClickHouse merges, so this shows recent activity only.",
        Query(query, Format.TIME_SERIES, ("time", "batches")),
        unit=COUNT,
        width=12,
        height=8,
        interval="1m",
        columns=(Column("batches", label="Lô"),),
    )


def _totals() -> Panel:
    query = (
        "SELECT\n"
        f"  (SELECT uniqExact(event_id) FROM {sql.DB}.events_raw WHERE occurred_ms >= {FROM_MS} AND occurred_ms < {TO_MS}) AS events,\n"
        f"  (SELECT uniqExact(source) FROM {sql.DB}.dead_letters WHERE recorded_ms >= {FROM_MS} AND recorded_ms < {TO_MS}) AS dead_letters"
    )
    return Panel(
        "stat",
        "Trong kỳ",
        "Distinct events stored (by event time) and dead letters recorded in the time range.",
        Query(query, Format.TABLE, ("events", "dead_letters")),
        unit=COUNT,
        width=12,
        height=8,
        decimals=0,
        columns=(
            Column("events", label="Sự kiện đã lưu"),
            Column(
                "dead_letters",
                label="Thư lỗi",
                thresholds=Thresholds(base=GREEN, steps=((1.0, ORANGE),)),
            ),
        ),
    )
