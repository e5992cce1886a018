"""Dashboard "Vận hành": is the pipeline healthy? Events, dead letters, freshness, consumer lag,
stored batches.

Events are counted by their own time (``occurred_ms``): the archive keeps no arrival time.
Consumer lag comes from ``consumer_offsets``, where every worker records, every few seconds,
the committed and end offset of each input partition it reads (``streams/lag.py``), with the
most messages behind it saw in each minute (``peak_lag``).
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
LAG_WARN = 10_000
"""Messages behind shown orange: what the worker's 5 s freshness target allows at 2,000 events/s."""
LAG_CRITICAL = 100_000
"""Messages behind shown red (50 s of input at 2,000 events/s)."""
LAG_CURRENT_S = 300
"""The current lag sums each partition's newest row of the last 5 minutes (a running worker
writes one per partition at least every minute)."""
LAG_SILENT_S = 120
"""No lag row for 2 minutes: no worker is recording (stopped, or stuck before its first fetch)."""


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
        "topic, time since each topic's last event, consumer lag, dead letters by kind, "
        "batches stored.",
        variables=(db_variable,),
        time_from="now-6h",
        rows=(
            Row("Luồng sự kiện", (_events_per_minute(), _freshness())),
            Row("Tiêu thụ Kafka", (_consumer_lag(), _current_lag())),
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
            _age_column("seconds_since_last", "Từ sự kiện cuối", STALE_AFTER_S, 3600, colored=True),
            Column("events", label="Sự kiện trong kỳ", decimals=0),
        ),
    )


def _age_column(name: str, label: str, orange_s: int, red_s: int, colored: bool = False) -> Column:
    """A column of seconds since something last happened: orange, then red, as it ages."""
    return Column(
        name,
        label=label,
        unit=SECONDS,
        colored=colored,
        thresholds=Thresholds(base=GREEN, steps=((float(orange_s), ORANGE), (float(red_s), RED))),
    )


LAG_THRESHOLDS = Thresholds(
    base=GREEN, steps=((float(LAG_WARN), ORANGE), (float(LAG_CRITICAL), RED))
)


def _consumer_lag() -> Panel:
    # The input topic's own name: the part after the namespace (input topic names have no dot).
    query = (
        "SELECT time, topic, sum(peak) AS messages_behind\n"
        "FROM (\n"
        f"  SELECT toDateTime(intDiv(intDiv(minute_ms, 1000), {BUCKET_S}) * {BUCKET_S}) AS time,\n"
        "    splitByChar('.', topic)[-1] AS topic, consumer_group, partition, max(peak_lag) AS peak\n"
        f"  FROM {sql.DB}.consumer_offsets\n"
        f"  WHERE minute_ms >= {FROM_MS} AND minute_ms < {TO_MS}\n"
        "  GROUP BY time, topic, consumer_group, partition\n"
        ") AS partitions\n"
        "GROUP BY time, topic\nORDER BY time, topic"
    )
    return Panel(
        "timeseries",
        "Độ trễ tiêu thụ",
        "Consumer lag: messages in each input topic that the workers had not yet stored and "
        "committed. Per time bucket, the most messages behind seen in each partition (end "
        "offset minus committed offset, recorded by the worker every 5 s and right after it "
        "gets partitions, so a backlog built up while no worker ran shows), summed over the "
        "topic's partitions. Orange: more than the 5 s freshness target allows at 2,000 "
        "events/s; red: 50 s of such input.",
        Query(query, Format.TIME_SERIES, ("time", "topic", "messages_behind")),
        unit=COUNT,
        width=16,
        height=8,
        thresholds=LAG_THRESHOLDS,
        min_value=0.0,
        interval="1m",
    )


def _current_lag() -> Panel:
    since_ms = f"{TO_MS} - {LAG_CURRENT_S * 1000}"
    query = (
        "SELECT\n"
        "  (SELECT if(count() = 0, NULL, sum(lag)) FROM (\n"
        "      SELECT argMax(end_offset - committed_offset, recorded_ms) AS lag\n"
        f"      FROM {sql.DB}.consumer_offsets\n"
        f"      WHERE minute_ms > {since_ms} - 60000 AND minute_ms < {TO_MS}\n"
        f"        AND recorded_ms >= {since_ms} AND recorded_ms < {TO_MS}\n"
        "      GROUP BY consumer_group, topic, partition)) AS messages_behind,\n"
        "  (SELECT if(count() = 0, NULL,\n"
        "      toInt64(toUInt32($__toTime)) - toInt64(intDiv(max(recorded_ms), 1000)))\n"
        f"    FROM {sql.DB}.consumer_offsets\n"
        f"    WHERE minute_ms > {FROM_MS} - 60000 AND minute_ms < {TO_MS}\n"
        f"      AND recorded_ms >= {FROM_MS} AND recorded_ms < {TO_MS}) AS seconds_since_record"
    )
    return Panel(
        "stat",
        "Độ trễ hiện tại",
        "Messages in the input topics not yet stored and committed at the end of the time "
        "range: each partition's newest lag recorded in the 5 minutes before it, summed (empty "
        "when no worker recorded any). And seconds since the newest record: a running worker "
        "records every partition at least once a minute, so a larger age means no worker is "
        "consuming (empty: none in the range).",
        Query(query, Format.TABLE, ("messages_behind", "seconds_since_record")),
        unit=COUNT,
        width=8,
        height=8,
        decimals=0,
        columns=(
            Column("messages_behind", label="Tin chưa xử lý", thresholds=LAG_THRESHOLDS),
            _age_column("seconds_since_record", "Từ lần ghi cuối", LAG_SILENT_S, 600),
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
