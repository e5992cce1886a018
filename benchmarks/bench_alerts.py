"""Cost of one live alert evaluation (every default rule, all 122 units) on a province-year of data.

Fills a fresh namespace with a year of hourly counts shaped like the province profile (every
unit that receives dossiers, six indicators, office hours of working days, ~1M dossiers) and a
raw archive of 6.5M events, both made inside ClickHouse from ``numbers()``. Then times:

- chiso766: ``read_facts`` (one windowed query per kind of fact) + ``Evaluator.evaluate``, for
  instants spread over the year (cold caches), and for the office hours of one day in a row
  (what ``alerts run`` does as hours close);
- baseline: the naive way, one query per rule, unit and window (sums of the unit and its
  descendants), then the same evaluation — a few instants only, it is slow.

Usage: .venv/bin/python benchmarks/bench_alerts.py [--store server] [--instants 24]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from pipeline.alerts.evaluate import Evaluator, Facts, Needs
from pipeline.alerts.rules import load_rules
from pipeline.rates import INDICATORS, Counts
from pipeline.reference import load_reference
from pipeline.settings import Settings
from pipeline.windows import HOUR_MS, parse_time
from sinks import schema
from sinks.alert_reader import read_facts
from sinks.store import Store, open_store

YEAR_START = "2024-01-01"
DAILY_DOSSIERS = 4000


def fill(store: Store, database: str, units: list[str]) -> None:
    start_s = parse_time(YEAR_START) // 1000
    codes = "[" + ", ".join(f"'{u}'" for u in units) + "]"
    indicators = "[" + ", ".join(f"'{i}'" for i in INDICATORS) + "]"
    per_unit_hour = max(1, DAILY_DOSSIERS // len(units) // 8)
    # One row per (hour of 2024, unit, indicator) in office hours on weekdays.
    store.execute(
        f"""INSERT INTO {database}.hourly_counts
            (unit_code, indicator, bucket_start, numerator, denominator, version)
            SELECT {codes}[u + 1], {indicators}[i + 1], toDateTime({start_s} + h * 3600), num, den, 1
            FROM (
                SELECT intDiv(number, {len(units) * len(INDICATORS)}) AS h,
                       intDiv(number % {len(units) * len(INDICATORS)}, {len(INDICATORS)}) AS u,
                       number % {len(INDICATORS)} AS i,
                       1 + (cityHash64(number) % {2 * per_unit_hour}) AS den,
                       intDiv(den * (50 + cityHash64(number, 1) % 40), 100) AS num
                FROM numbers({366 * 24 * len(units) * len(INDICATORS)})
            )
            WHERE toHour(toDateTime({start_s} + h * 3600), 'Asia/Ho_Chi_Minh') BETWEEN 7 AND 16
              AND toDayOfWeek(toDateTime({start_s} + h * 3600, 'Asia/Ho_Chi_Minh')) <= 5"""
    )
    events = 6_500_000
    store.execute(
        f"""INSERT INTO {database}.events_raw
            (event_id, type, occurred_ms, unit_code, dossier_id, procedure_code, payload)
            SELECT toString(number), ['dossier.received', 'payment.succeeded', 'feedback.received'][number % 3 + 1],
                   ({start_s} + intDiv(number * 366 * 86400, {events})) * 1000, {codes}[number % {len(units)} + 1],
                   '', '', ''
            FROM numbers({events})"""
    )


def naive_facts(store: Store, database: str, evaluator: Evaluator, at_ms: int) -> Facts:
    """The baseline: the same facts, one query per unit, indicator and window."""
    needs = evaluator.needs(at_ms)
    base = read_facts(
        store, database, Needs(topic_ends=needs.topic_ends, message_windows=needs.message_windows)
    )
    for start, end in sorted(needs.rate_windows):
        sums = base.rates.setdefault((start, end), {})
        for unit in evaluator.reference.unit_codes:
            for indicator in sorted(needs.indicators):
                num, den = store.query(
                    f"""SELECT sum(numerator), sum(denominator) FROM {database}.hourly_counts FINAL
                        WHERE unit_code = '{unit}' AND indicator = '{indicator}' AND denominator > 0
                          AND bucket_start >= toDateTime({start // 1000})
                          AND bucket_start < toDateTime({end // 1000})"""
                )[0]
                if int(den or 0):
                    sums.setdefault(unit, {})[indicator] = Counts(int(num), int(den))
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--instants", type=int, default=24)
    parser.add_argument("--baseline-instants", type=int, default=2)
    args = parser.parse_args()
    settings = Settings.resolve(
        {"store": args.store, "namespace": f"bench-alerts-{int(time.time())}",
         "chdb_path": tempfile.mkdtemp(prefix="bench-alerts-") if args.store == "embedded" else None}
    )  # fmt: skip
    reference = load_reference(settings)
    ruleset = load_rules(None, reference.unit_codes, reference.levels)
    evaluator = Evaluator(ruleset, reference)
    store = open_store(settings)
    schema.migrate(store, settings.database)
    try:
        started = time.perf_counter()
        fill(store, settings.database, [u.code for u in reference.units if u.parent])
        rows = store.query(f"SELECT count() FROM {settings.database}.hourly_counts")[0][0]
        print(f"filled {rows:,} hourly rows and 6.5M raw events in {time.perf_counter() - started:.1f} s "
              f"({store.backend} store {store.server_version()})")  # fmt: skip
        # Weekday instants at 10:00 spread over the year (after four weeks of history).
        first = parse_time("2024-02-05T10:00:00+07:00")
        step = (
            (parse_time("2024-12-23") - first)
            // args.instants
            // (7 * 24 * HOUR_MS)
            * 7
            * 24
            * HOUR_MS
        )
        instants = [first + k * step for k in range(args.instants)]
        targets = sum(len(t) for t in evaluator.targets.values())
        fast = []
        for at in instants:
            t0 = time.perf_counter()
            facts = read_facts(store, settings.database, evaluator.needs(at))
            evaluator.evaluate(facts, {}, at)
            fast.append(time.perf_counter() - t0)
        # Live: the closed hours of one working day, one after the other (caches warm).
        day = parse_time("2024-10-15T08:00:00+07:00")
        live = []
        for at in range(day, day + 10 * HOUR_MS, HOUR_MS):
            t0 = time.perf_counter()
            evaluator.evaluate(read_facts(store, settings.database, evaluator.needs(at)), {}, at)
            live.append(time.perf_counter() - t0)
        slow = []
        for at in instants[: args.baseline_instants]:
            t0 = time.perf_counter()
            evaluator.evaluate(naive_facts(store, settings.database, evaluator, at), {}, at)
            slow.append(time.perf_counter() - t0)
        print(f"{len(ruleset.rules)} default rules, {targets} (rule, unit) pairs per instant")
        print(f"chiso766 windowed read + evaluate: median {statistics.median(fast):.3f} s, "
              f"max {max(fast):.3f} s per closed hour ({len(fast)} instants)")  # fmt: skip
        print(f"  consecutive office hours of one day: median {statistics.median(live):.3f} s, "
              f"max {max(live):.3f} s ({len(live)} hours)")  # fmt: skip
        print(f"baseline per-unit queries:         median {statistics.median(slow):.3f} s per closed hour "
              f"({len(slow)} instants) -> {statistics.median(slow) / statistics.median(fast):.0f}x slower")  # fmt: skip
    finally:
        schema.drop(store, settings.database)
        store.close()


if __name__ == "__main__":
    main()
