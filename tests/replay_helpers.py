"""Shared pieces of the replay, diff and dead-letter tests: data, oracle calls, plain-SQL reads, CLI runs."""

from __future__ import annotations

import functools
import json
import random
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.generator.noise import Noise
from pipeline.generator.profile import profile_named
from pipeline.generator.stream import generate_batches
from pipeline.reference import Reference, load_reference
from pipeline.settings import Settings
from pipeline.validation import meaning_problem
from sinks.store import Store
from tests.oracle import bucket_start_of, recompute

REFERENCE = load_reference()
NOW_MS = int(time.time() * 1000)
"""The "now" of history loads in these tests: record times are never later than this."""


@functools.cache
def noisy_day_lines() -> list[bytes]:
    """Four noisy days of a small province (duplicates, re-sent facts, disorder, bad lines)."""
    noise = Noise(duplicates=0.08, disorder=0.15, bad_fraction=0.03)
    batches = generate_batches(REFERENCE, seed=767, start=date(2024, 6, 3), days=4,
                               profile=profile_named("small"), noise=noise)  # fmt: skip
    lines = [line.encode() for batch in batches for line in batch.lines]
    random.Random(2).shuffle(lines)
    return lines


def history_records(lines: list[bytes]) -> list[tuple[bytes, int]]:
    """Each line with the record time a history load gives it: its own occurred_at, or NOW_MS
    when that is later or unreadable (parsed here independently of the replay code)."""
    out = []
    for raw in lines:
        try:
            moment = datetime.fromisoformat(json.loads(raw)["occurred_at"])
            occurred_ms = int(moment.timestamp() * 1000) if moment.tzinfo else NOW_MS
        except (ValueError, KeyError, TypeError, RecursionError):
            occurred_ms = NOW_MS
        out.append((raw, min(occurred_ms, NOW_MS)))
    return out


def oracle_rows(lines: list[bytes], reference: Reference = REFERENCE) -> list[dict[str, object]]:
    return recompute(
        history_records(lines),
        units=reference.unit_codes,
        result_is_document=reference.result_is_document,
        semantic_check=lambda event: meaning_problem(event, reference),
    ).rows()


def oracle_rejected(lines: list[bytes], reference: Reference = REFERENCE) -> Counter[str]:
    return recompute(
        history_records(lines),
        units=reference.unit_codes,
        result_is_document=reference.result_is_document,
        semantic_check=lambda event: meaning_problem(event, reference),
    ).rejected


def stored_rows(store: Store, database: str) -> list[dict[str, object]]:
    """The target's hourly counts, read independently with plain SQL."""
    rows = store.query(
        f"""SELECT unit_code, indicator, toUInt64(toUInt32(bucket_start)) * 1000,
                   numerator, denominator
            FROM {database}.hourly_counts FINAL WHERE denominator > 0"""
    )
    out = [
        {
            "unit_code": str(u),
            "indicator": str(i),
            "bucket_start": bucket_start_of(int(b)),
            "numerator": int(n),
            "denominator": int(d),
        }
        for u, i, b, n, d in rows
    ]
    return sorted(out, key=lambda r: (r["unit_code"], r["indicator"], r["bucket_start"]))


def stored_dead_letters(store: Store, database: str) -> Counter[str]:
    rows = store.query(f"SELECT kind, uniqExact(source) FROM {database}.dead_letters GROUP BY kind")
    return Counter({str(kind): int(n) for kind, n in rows})


def run_cli(settings: Settings, *args: str) -> tuple[object, str]:
    """Run a chiso766 command in this process (the embedded store allows one process)."""
    result = CliRunner().invoke(
        cli, [*args, *_flags(settings)], standalone_mode=False, catch_exceptions=False
    )
    return result.return_value, result.output


def _flags(settings: Settings) -> list[str]:
    return [
        "--namespace", settings.namespace, "--store", settings.store,
        "--kafka-port", str(settings.kafka_port), "--clickhouse-port", str(settings.clickhouse_port),
        "--chdb-path", str(settings.chdb_dir),
    ]  # fmt: skip


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def summary_of(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])
