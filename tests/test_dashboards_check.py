"""Every panel query runs on both engines (ClickHouse 18.16 server, chdb) against generated data,
and its numbers equal what `chiso766 rates` and `chiso766 score` say for the same period.

Data: nine generated days of the demo province (Mon 2024-05-27 .. Tue 2024-06-04, with
duplicates and bad lines) folded by the worker's own batch processor and stored by its writer;
``hourly_counts`` is then filled by ``sinks.hourly.refresh_all``. The dashboards' "today" is
Tuesday 2024-06-04 up to 15:00, "same weekday last week" Tuesday 2024-05-28.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from dashboards.build import BuildContext, all_dashboards
from dashboards.indicators import counted_items
from dashboards.model import Format
from dashboards.queries import PanelQuery, panel_queries
from dashboards.sql import hours_only
from pipeline.broker import topic_for_type
from pipeline.cli.dashboards import column_problem
from pipeline.cli.main import cli
from pipeline.generator.noise import Noise
from pipeline.generator.profile import profile_named
from pipeline.generator.stream import generate_batches
from pipeline.processing import Incoming, processor_for
from pipeline.rates import HEADLINE, INDICATORS, Counts, roll_up, totals, weakest
from pipeline.reference import LEVEL_NAMES, load_reference
from pipeline.scoring.groups import GROUPS
from pipeline.settings import Settings
from pipeline.windows import HOUR_MS, parse_time, to_local, to_ms
from sinks import schema
from sinks.hourly import refresh_all
from sinks.reference_tables import store_reference
from sinks.store import Store, open_store
from sinks.writer import ResultWriter
from tests.namespaces import new_namespace
from tests.stream_harness import settings_flags

pytestmark = pytest.mark.integration

REFERENCE = load_reference()
FIRST_DAY = date(2024, 5, 27)
MONTH_START = parse_time("2024-06-01")
TODAY = parse_time("2024-06-04")
AS_OF = parse_time("2024-06-04T15:00:00+07:00")
NEXT_MONTH = parse_time("2024-07-01")
DISTRICT = next(u.code for u in REFERENCE.units if u.level == "district")


@dataclass(frozen=True)
class Loaded:
    settings: Settings
    store: Store
    archive: tuple[tuple[Any, ...], ...]
    """events_raw rows as written."""
    dead_letter_sources: frozenset[str]
    recorded_ms: int
    lag_rows: tuple[tuple[Any, ...], ...]
    """consumer_offsets rows as written."""


@pytest.fixture(scope="module", params=["server", "embedded"])
def loaded(request: pytest.FixtureRequest, local_stack: Settings) -> Iterator[Loaded]:
    settings = local_stack.replace(namespace=new_namespace(), store=request.param)
    store = open_store(settings)
    schema.migrate(store, settings.database)
    store_reference(store, settings.database, REFERENCE)
    processor = processor_for(REFERENCE, late_horizon_days=400)
    writer = ResultWriter(store, settings.database)
    recorded_ms = parse_time("2024-06-04T12:00:00+07:00")
    archive: list[tuple[Any, ...]] = []
    dead: set[str] = set()
    offset = 0
    days = generate_batches(REFERENCE, seed=11, start=FIRST_DAY, days=9,
                            profile=profile_named("small"),
                            noise=Noise(duplicates=0.03, bad_fraction=0.01))  # fmt: skip
    for day in days:
        batch = [Incoming(line.encode(), f"dossier-events[0]@{offset + i}", None)
                 for i, line in enumerate(day.lines)]  # fmt: skip
        offset += len(batch)
        result = processor.process(batch)
        writer.write(result, recorded_ms=recorded_ms)
        archive += result.archive
        dead |= {d.source for d in result.dead_letters}
    refresh_all(store, settings.database)
    lag_rows = consumer_offset_rows(settings)
    store.insert(f"{settings.database}.consumer_offsets", schema.CONSUMER_OFFSET_COLUMNS, lag_rows)
    try:
        yield Loaded(settings, store, tuple(archive), frozenset(dead), recorded_ms, lag_rows)
    finally:
        schema.drop(store, settings.database)
        store.close()


def consumer_offset_rows(settings: Settings) -> tuple[tuple[Any, ...], ...]:
    """Rows as workers record them (``streams/lag.py``): a group that stopped 20 minutes before
    AS_OF and one still running, two partitions of two topics, a few rows a minute, some after
    AS_OF (which no panel may count)."""
    rng = random.Random(766)
    rows = []
    for group, first_min, last_min in (("old", -90, -20), ("live", -30, 3)):
        for topic in (settings.topic("dossier-events"), settings.topic("payment-events")):
            for partition in (0, 1):
                committed = rng.randrange(1000)
                for minute in range(first_min, last_min):
                    minute_ms = AS_OF - AS_OF % 60_000 + minute * 60_000
                    peak = 0
                    for second in sorted(rng.sample(range(60), 3)):
                        lag = rng.choice((0, 0, rng.randrange(1, 50_000)))
                        peak = max(peak, lag)
                        committed += rng.randrange(100)
                        rows.append((group, topic, partition, minute_ms,
                                     minute_ms + second * 1000, committed, committed + lag, peak))  # fmt: skip
    return tuple(rows)


def dashboards_for(settings: Settings) -> Sequence[Any]:
    return all_dashboards(BuildContext(settings.database, REFERENCE))


def run_panels(
    loaded: Loaded, from_ms: int, to_ms: int, unit: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Panel title -> its rows as dicts (the drill-down dashboard on ``unit``)."""
    code = unit or REFERENCE.root.code
    choices = {"level": REFERENCE.unit(code).level, "unit": code}
    out = {}
    for query in panel_queries(dashboards_for(loaded.settings), from_ms, to_ms, choices):
        rows = loaded.store.query(query.sql)
        key = f"{query.dashboard}:{query.title}"
        out[key] = [dict(zip(query.columns, row, strict=True)) for row in rows]
    return out


def rates_json(settings: Settings, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["rates", *settings_flags(settings), "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def hourly_sums(settings: Settings, from_text: str, to_text: str) -> dict[str, Counts]:
    """Province totals per indicator from `rates --granularity hour` over [from, to)."""
    result = CliRunner().invoke(cli, ["rates", *settings_flags(settings), "--granularity", "hour",
                                      "--from", from_text, "--to", to_text, "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    sums: dict[str, Counts] = {}
    for line in result.output.splitlines():
        row = json.loads(line)
        sums[row["indicator"]] = sums.get(row["indicator"], Counts()) + Counts(
            row["numerator"], row["denominator"]
        )
    return sums


def assert_rate(value: float | None, counts: Counts) -> None:
    if counts.rate is None:
        assert value is None
    else:
        assert value == pytest.approx(counts.rate, rel=1e-12, abs=1e-12)


def test_check_runs_every_query_on_this_engine(loaded: Loaded) -> None:
    result = CliRunner().invoke(cli, ["dashboards", "check", *settings_flags(loaded.settings),
                                      "--from", "2024-06-01", "--to", "2024-06-04T15:00:00+07:00",
                                      "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    panels = sum(len(d.panels()) for d in dashboards_for(loaded.settings))
    assert report["failed"] == 0 and len(report["queries"]) == panels + 2  # + $level, $unit
    by_title = {q["title"]: q for q in report["queries"]}
    assert by_title["Xếp hạng xã, phường, thị trấn"]["rows"] == len(REFERENCE.units_at("commune"))
    assert by_title["$level"]["rows"] == len(REFERENCE.levels)
    assert all(q["ms"] >= 0 and q["columns"] for q in report["queries"])
    text = CliRunner().invoke(cli, ["dashboards", "check", *settings_flags(loaded.settings)])
    assert text.exit_code == 0 and "ok" in text.output and " ms " in text.output


def test_check_fails_on_an_error_or_wrong_columns(loaded: Loaded) -> None:
    query = PanelQuery("x", "wrong", "SELECT 1 AS a, 2 AS b", Format.TABLE, ("a",))
    described = [
        (str(n), str(t)) for n, t, *_ in loaded.store.query(f"DESCRIBE TABLE ({query.sql})")
    ]
    assert column_problem(query, described) == "columns ['a', 'b'], expected ['a']"
    empty = loaded.settings.replace(namespace=new_namespace())
    loaded.store.execute(f"CREATE DATABASE {empty.database}")
    try:
        result = CliRunner().invoke(cli, ["dashboards", "check", *settings_flags(empty),
                                          "--to", "2024-06-04"])  # fmt: skip
        assert result.exit_code == 1
        queries = sum(len(d.panels()) for d in dashboards_for(empty)) + 2
        assert result.output.count("FAIL") == queries
    finally:
        loaded.store.execute(f"DROP DATABASE {empty.database}")


def test_period_rates_and_changes_equal_rates(loaded: Loaded) -> None:
    panels = run_panels(loaded, MONTH_START, AS_OF)
    mtd = rates_json(loaded.settings, "--window", "mtd", "--as-of", "2024-06-04T14:59:59+07:00")
    province = mtd["units"][0]["indicators"]
    [row] = panels["chiso766-tong-quan:Tỷ lệ — từ đầu tháng"]
    for indicator in INDICATORS:
        c = province[indicator]
        assert_rate(row[indicator], Counts(c["numerator"], c["denominator"]))
    # Year to date: May from monthly_counts, 1-3 June from daily_counts, 4 June from the hours.
    ytd = rates_json(loaded.settings, "--window", "ytd", "--as-of", "2024-06-04T14:59:59+07:00")
    [row] = panels["chiso766-tong-quan:Tỷ lệ — từ đầu năm"]
    for indicator, c in ytd["units"][0]["indicators"].items():
        assert c["denominator"] > province[indicator]["denominator"] or indicator == "e_result"
        assert_rate(row[indicator], Counts(c["numerator"], c["denominator"]))
    today = hourly_sums(loaded.settings, "2024-06-04", "2024-06-04T15:00:00+07:00")
    week_before = hourly_sums(loaded.settings, "2024-05-28", "2024-05-28T15:00:00+07:00")
    [now] = panels["chiso766-tong-quan:Tỷ lệ — hôm nay"]
    [change] = panels["chiso766-tong-quan:Thay đổi so với cùng ngày tuần trước"]
    for indicator in INDICATORS:
        assert_rate(now[indicator], today[indicator])
        expected = today[indicator].rate - week_before[indicator].rate  # type: ignore[operator]
        assert change[indicator] == pytest.approx(expected, abs=1e-12)
    # Nothing was stored for May 1-4 or 2023: those changes are empty, not zero.
    [month_change] = panels["chiso766-tong-quan:Thay đổi so với cùng kỳ tháng trước"]
    assert set(month_change.values()) == {None}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-05-27T10:30:00+07:00", "2024-06-04T15:00:00+07:00"),  # partial first and last days
        ("2024-05-01", "2024-07-01"),  # a whole month (June), days of May, no hours
        ("2024-05-28T09:00:00+07:00", "2024-05-28T17:00:00+07:00"),  # inside one day
        # month to date compared with 1-30 May up to noon: days of May and the hours of 30 May
        ("2024-05-20T00:00:00+07:00", "2024-06-30T12:00:00+07:00"),
    ],
)
def test_roll_ups_give_what_every_hour_gives(loaded: Loaded, start: str, end: str) -> None:
    """Each panel reading months and days from the roll-ups returns exactly what the same panel
    built to read every hour of the range returns."""
    code = REFERENCE.root.code
    choices = {"level": REFERENCE.unit(code).level, "unit": code}
    span = (parse_time(start), parse_time(end))
    queries = panel_queries(dashboards_for(loaded.settings), *span, choices)
    with hours_only():
        hourly = panel_queries(dashboards_for(loaded.settings), *span, choices)
    compared = 0
    for query, per_hour in zip(queries, hourly, strict=True):
        assert "daily_counts" not in per_hour.sql and "monthly_counts" not in per_hour.sql
        if per_hour.sql != query.sql:
            rows = loaded.store.query(query.sql)
            assert rows == loaded.store.query(per_hour.sql), query.title
            compared += 1
    assert compared >= 20


def test_hourly_trend_is_today_against_last_week(loaded: Loaded) -> None:
    panels = run_panels(loaded, MONTH_START, AS_OF)
    rows = panels["chiso766-tong-quan:Hồ sơ tiếp nhận theo giờ"]
    today = [r for r in rows if r["today"] is not None]
    assert today and all(r["last_week"] is not None for r in rows if r["today"] is None)
    hours = {r["time"] for r in rows}
    assert len(hours) == len(rows)  # one row per hour, both days side by side
    received = hourly_sums(loaded.settings, "2024-06-04", "2024-06-04T15:00:00+07:00")
    before = hourly_sums(loaded.settings, "2024-05-28", "2024-05-29")
    assert sum(r["today"] for r in today) == received["online_filing"].denominator
    assert sum(r["last_week"] or 0 for r in rows) == before["online_filing"].denominator
    filing = panels["chiso766-tong-quan:Tỷ lệ hồ sơ trực tuyến"]
    assert len(filing) == len(rows)


@pytest.mark.parametrize("level", ["department", "district", "commune"])
def test_rankings_equal_rates_per_unit(loaded: Loaded, level: str) -> None:
    panels = run_panels(loaded, MONTH_START, AS_OF)
    title = f"chiso766-tong-quan:Xếp hạng {LEVEL_NAMES[level][0].lower()}"
    ranked = {r["unit_code"]: r for r in panels[title]}
    report = rates_json(loaded.settings, "--level", level, "--window", "mtd",
                        "--as-of", "2024-06-04T14:59:59+07:00")  # fmt: skip
    assert set(ranked) == {u["unit_code"] for u in report["units"]}
    for unit in report["units"]:
        row = ranked[unit["unit_code"]]
        assert row["unit_name"] == unit["name"]
        assert row["received"] == unit["indicators"]["online_filing"]["denominator"]
        for indicator, c in unit["indicators"].items():
            assert_rate(row[indicator], Counts(c["numerator"], c["denominator"]))
    points = [r["points"] for r in panels[title]]
    assert points == sorted(points, reverse=True)


def test_weakest_units_are_the_ones_rates_picks(loaded: Loaded) -> None:
    start, end = parse_time("2024-05-27"), AS_OF
    rows = run_panels(loaded, start, end)["chiso766-tong-quan:5 đơn vị yếu nhất"]
    result = CliRunner().invoke(cli, ["rates", *settings_flags(loaded.settings), "--granularity", "hour",
                                      "--from", "2024-05-27", "--to", "2024-06-04T15:00:00+07:00", "--json"])  # fmt: skip
    hourly = [json.loads(line) for line in result.output.splitlines()]
    leaf = totals([(r["unit_code"], r["indicator"], parse_time(r["bucket_start"]), r["numerator"],
                    r["denominator"]) for r in hourly], start, end)  # fmt: skip
    rolled = roll_up(leaf, REFERENCE.ancestry)
    leaves = [u.code for u in REFERENCE.units if not REFERENCE.children(u.code)]
    expected = weakest(rolled, leaves)
    assert expected, "the data must give the panel something to show"
    assert [r["unit_code"] for r in rows] == expected
    for row in rows:
        for indicator in HEADLINE:
            assert_rate(row[indicator], rolled[row["unit_code"]].get(indicator, Counts()))


def test_points_equal_the_score_command(loaded: Loaded) -> None:
    """The dashboards score the 766 items whose input is an hourly count; the score command's
    points for those same items must agree (it scores the as-of items too)."""
    panels = run_panels(loaded, MONTH_START, NEXT_MONTH)
    result = CliRunner().invoke(cli, ["score", *settings_flags(loaded.settings), "--period", "2024-06", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    province = next(u for u in json.loads(result.output)["units"] if u["level"] == "province")
    sql_items = {i.item_766 for group in GROUPS for i in counted_items(group)}
    assert sql_items, "some 766 items are scored from the hourly counts"
    groups = {g["name"]: g for g in province["groups"]}
    expected_total = 0.0
    for row in panels["chiso766-tong-quan:Điểm 766 theo nhóm"]:
        group = groups[row["group_name"]]
        items = [i for i in group["indicators"] if i["id"] in sql_items]
        assert row["available_max"] == sum(i["max_points"] for i in items)
        assert row["max_points"] == group["max_points"]
        if items:
            expected = sum(i["points"] for i in items)
            # ClickHouse's round() may differ from the portal's half-up by 0.01 on a tie.
            assert row["points"] == pytest.approx(expected, abs=0.011 * len(items))
            expected_total += expected
        else:
            assert row["points"] is None
    [total] = panels["chiso766-tong-quan:Điểm 766 của tỉnh (phần tính được)"]
    assert total["points"] == pytest.approx(expected_total, abs=0.011 * len(sql_items))


def test_unit_drill_down_equals_rates_for_the_unit_and_its_children(loaded: Loaded) -> None:
    panels = run_panels(loaded, MONTH_START, AS_OF, unit=DISTRICT)
    as_of = ["--window", "mtd", "--as-of", "2024-06-04T14:59:59+07:00"]
    [own] = panels["chiso766-don-vi:Tỷ lệ của đơn vị"]
    unit = rates_json(loaded.settings, "--unit", DISTRICT, *as_of)["units"][0]["indicators"]
    for indicator, c in unit.items():
        assert_rate(own[indicator], Counts(c["numerator"], c["denominator"]))
    children = {r["unit_code"]: r for r in panels["chiso766-don-vi:Đơn vị trực thuộc — xếp hạng"]}
    assert set(children) == set(REFERENCE.children(DISTRICT))
    communes = rates_json(loaded.settings, "--level", "commune", *as_of)["units"]
    for child in (u for u in communes if u["unit_code"] in children):
        c = child["indicators"]["online_filing"]
        assert_rate(
            children[child["unit_code"]]["online_filing"], Counts(c["numerator"], c["denominator"])
        )
    series = panels["chiso766-don-vi:Tỷ lệ hồ sơ trực tuyến"]
    received = sum(1 for _ in series)
    assert received > 0
    variables = [q for q in panel_queries(dashboards_for(loaded.settings), MONTH_START, AS_OF,
                                          {"level": "district", "unit": DISTRICT}) if q.title == "$unit"]  # fmt: skip
    options = loaded.store.query(variables[0].sql)
    assert {code for code, _ in options} == {u.code for u in REFERENCE.units_at("district")}


def epoch_ms(value: Any) -> int:
    """A DateTime without time zone as either engine returns it (both run in UTC here)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return to_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def test_unit_rates_over_time_are_hourly_or_daily_sums(loaded: Loaded) -> None:
    title = "chiso766-don-vi:Tỷ lệ hồ sơ trực tuyến"
    hourly = run_panels(loaded, TODAY, AS_OF)[title]  # a short range: one point per hour
    times = [epoch_ms(r["time"]) for r in hourly]
    assert len(times) == len(set(times)) > 1 and all(t % HOUR_MS == 0 for t in times)
    assert all(TODAY <= t < AS_OF for t in times)
    daily = run_panels(loaded, parse_time("2024-05-01"), NEXT_MONTH)[title]  # two months: days
    days = [to_local(epoch_ms(r["time"])) for r in daily]
    assert all((d.hour, d.minute) == (0, 0) for d in days)
    by_day = {d.date(): row["value"] for d, row in zip(days, daily, strict=True)}
    for day in (FIRST_DAY + timedelta(days=i) for i in range(9)):
        sums = hourly_sums(loaded.settings, day.isoformat(), (day + timedelta(days=1)).isoformat())
        filing = sums.get("online_filing", Counts())
        if filing.denominator:  # the weekend has no receptions, hence no point
            assert_rate(by_day.pop(day), filing)
    assert not by_day


def test_operations_panels_count_what_was_stored(loaded: Loaded) -> None:
    panels = run_panels(loaded, MONTH_START, AS_OF)
    # Distinct event ids: a duplicate's archive row disappears whenever ClickHouse merges.
    in_range = list(
        {row[0]: row for row in loaded.archive if MONTH_START <= row[2] < AS_OF}.values()
    )
    [totals_row] = panels["chiso766-van-hanh:Trong kỳ"]
    assert totals_row["events"] == len(in_range)
    assert totals_row["dead_letters"] == len(loaded.dead_letter_sources) > 0
    freshness = {r["topic"]: r for r in panels["chiso766-van-hanh:Thời gian từ sự kiện cuối"]}
    for topic, row in freshness.items():
        distinct = {r[0]: r for r in loaded.archive}.values()
        times = [r[2] for r in distinct if topic_for_type(r[1]) == topic and r[2] < AS_OF]
        if times:
            assert row["seconds_since_last"] == AS_OF // 1000 - max(times) // 1000
            assert row["events"] == sum(1 for t in times if t >= MONTH_START)
        else:
            assert row["seconds_since_last"] is None
    per_minute = panels["chiso766-van-hanh:Sự kiện mỗi phút theo topic"]
    bucket_s = 1.0 * max(60, (AS_OF - MONTH_START) // 1000 // 1000)
    assert sum(r["events_per_minute"] * bucket_s / 60 for r in per_minute) == pytest.approx(
        len(in_range)
    )
    kinds = panels["chiso766-van-hanh:Thư lỗi theo loại"]
    assert sum(r["dead_letters"] for r in kinds) == len(loaded.dead_letter_sources)


def test_consumer_lag_panels_sum_the_recorded_offsets(loaded: Loaded) -> None:
    from_ms = AS_OF - 6 * 3600_000
    panels = run_panels(loaded, from_ms, AS_OF)
    bucket_ms = 1000 * max(60, (AS_OF - from_ms) // 1000 // 1000)
    in_range = [r for r in loaded.lag_rows if from_ms <= r[3] < AS_OF]
    peaks: dict[tuple[Any, ...], int] = {}
    for group, topic, partition, minute_ms, _, _, _, peak in in_range:
        key = (minute_ms - minute_ms % bucket_ms, topic.split(".")[-1], group, partition)
        peaks[key] = max(peaks.get(key, 0), peak)
    expected: dict[tuple[int, str], int] = {}
    for (bucket, topic, _, _), peak in peaks.items():
        expected[(bucket, topic)] = expected.get((bucket, topic), 0) + peak
    shown = {
        (epoch_ms(row["time"]), row["topic"]): row["messages_behind"]
        for row in panels["chiso766-van-hanh:Độ trễ tiêu thụ"]
    }
    assert shown == expected and max(expected.values()) > 0

    [current] = panels["chiso766-van-hanh:Độ trễ hiện tại"]
    newest: dict[tuple[Any, ...], tuple[int, int]] = {}
    for group, topic, partition, _, recorded_ms, committed, end, _ in loaded.lag_rows:
        if AS_OF - 300_000 <= recorded_ms < AS_OF:
            key = (group, topic, partition)
            newest[key] = max(newest.get(key, (0, 0)), (recorded_ms, end - committed))
    assert {group for group, _, _ in newest} == {"live"}, "the stopped group is not current"
    assert current["messages_behind"] == sum(lag for _, lag in newest.values())
    last_ms = max(r[4] for r in loaded.lag_rows if from_ms <= r[4] < AS_OF)
    assert current["seconds_since_record"] == AS_OF // 1000 - last_ms // 1000
