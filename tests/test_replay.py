"""Replay from each source (file, archive, Kafka) equals the independent oracle, on both stores.

Noisy generated days (duplicates, re-sent facts, disorder, bad lines) go through
``chiso766 replay``; the target's hourly counts are read back with plain SQL from
``hourly_counts FINAL`` and its dead letters from the table or topic, and compared with
``tests/oracle.py`` over the same lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.settings import Settings
from pipeline.windows import parse_time
from sinks import schema
from sinks.replays import notifications_muted, replays_of
from sinks.store import open_store
from tests import stream_harness as harness
from tests.replay_helpers import (
    history_records,
    noisy_day_lines,
    oracle_rejected,
    oracle_rows,
    run_cli,
    stored_dead_letters,
    stored_rows,
    summary_of,
    write_lines,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def noisy_lines() -> list[bytes]:
    return noisy_day_lines()


@pytest.fixture
def target(store_settings: Settings) -> Iterator[Settings]:
    """A second namespace in the same store, dropped afterwards."""
    other = store_settings.replace(namespace=store_settings.namespace + "-r")
    yield other
    opened = open_store(other)
    try:
        schema.drop(opened, other.database)
        schema.drop(opened, store_settings.database)
    finally:
        opened.close()


def test_replay_from_a_file_equals_the_oracle(
    store_settings: Settings, target: Settings, noisy_lines: list[bytes], tmp_path: Path
) -> None:
    export = write_lines(tmp_path / "export.jsonl", noisy_lines)
    _, output = run_cli(store_settings, "replay", "--into", target.namespace,
                        "--source", str(export), "--json")  # fmt: skip
    summary = summary_of(output)
    rejected = oracle_rejected(noisy_lines)
    assert summary["messages"] == len(noisy_lines)
    assert summary["dead_letters"] == sum(rejected.values())
    assert summary["accepted"] == len(noisy_lines) - sum(rejected.values())
    assert {"unchanged", "seconds", "events_per_s"} <= summary.keys()
    store = open_store(target)
    try:
        assert stored_rows(store, target.database) == oracle_rows(noisy_lines)
        assert stored_dead_letters(store, target.database) == rejected
        (row,) = replays_of(store, target.database)
        assert (row.source, row.notify, row.created_namespace) == (str(export), 0, 1)
        assert row.finished_ms > 0 and row.messages == len(noisy_lines)
        assert notifications_muted(store, target.database, now_ms=row.finished_ms)
    finally:
        store.close()


def test_replaying_twice_changes_nothing_and_the_archive_replays_to_the_same_numbers(
    store_settings: Settings, target: Settings, noisy_lines: list[bytes], tmp_path: Path
) -> None:
    export = write_lines(tmp_path / "export.jsonl", noisy_lines)
    for _ in range(2):  # the "live" namespace, loaded twice: every write merges
        run_cli(store_settings, "replay", "--into", store_settings.namespace,
                "--source", str(export), "--json")  # fmt: skip
    _, output = run_cli(store_settings, "replay", "--into", target.namespace,
                        "--source", "archive", "--json")  # fmt: skip
    summary = summary_of(output)
    assert summary["dead_letters"] == 0  # the archive holds accepted events only
    store = open_store(store_settings)
    try:
        expected = oracle_rows(noisy_lines)
        assert stored_rows(store, store_settings.database) == expected
        assert stored_rows(store, target.database) == expected
    finally:
        store.close()


def test_a_range_replay_is_exact_inside_the_range(
    store_settings: Settings, target: Settings, noisy_lines: list[bytes], tmp_path: Path
) -> None:
    export = write_lines(tmp_path / "export.jsonl", noisy_lines)
    run_cli(store_settings, "replay", "--into", store_settings.namespace, "--source", str(export))
    # From the archive, one day in the middle; a 44 h margin covers the follow-up events (payments,
    # results) of every dossier received that day here, and leaves later events out.
    _, output = run_cli(store_settings, "replay", "--into", target.namespace, "--source", "archive",
                        "--from", "2024-06-04", "--to", "2024-06-05", "--margin", "44h", "--json")  # fmt: skip
    summary = summary_of(output)
    assert summary["skipped"] > 0, "events beyond the margin are not read"
    start, end = parse_time("2024-06-04"), parse_time("2024-06-05")

    def in_range(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        return [r for r in rows if start <= parse_time(str(r["bucket_start"])) < end]

    store = open_store(target)
    try:
        got = in_range(stored_rows(store, target.database))
    finally:
        store.close()
    assert got and got == in_range(oracle_rows(noisy_lines))


def test_replay_from_kafka_equals_the_oracle_and_dead_letters_go_to_the_target(
    kafka_settings: Settings, noisy_lines: list[bytes]
) -> None:
    live = kafka_settings.replace(store="server")
    into = live.replace(namespace=live.namespace + "-r")
    harness.produce(live, history_records(noisy_lines), keying="dossier")  # as `ingest` stamps
    try:
        _, output = run_cli(live, "replay", "--into", into.namespace, "--json")
        summary = summary_of(output)
        assert summary["messages"] == len(noisy_lines)
        # Again, from a time (records are stamped with their events' times): nothing is missed;
        # the far-future lines (50 years ahead) are outside the window, hence skipped.
        _, output = run_cli(live, "replay", "--into", into.namespace, "--from", "2024-06-01",
                            "--to", "2024-07-01", "--json")  # fmt: skip
        again = summary_of(output)
        assert again["skipped"] == oracle_rejected(noisy_lines)["far_future"] > 0
        assert again["messages"] + again["skipped"] == len(noisy_lines)
        store = open_store(into)
        try:
            assert stored_rows(store, into.database) == oracle_rows(noisy_lines)
            assert stored_dead_letters(store, into.database) == oracle_rejected(noisy_lines)
        finally:
            store.close()
        letters = harness.dead_letters(into)
        rejected = sum(oracle_rejected(noisy_lines).values())
        assert (
            len(letters)
            == summary["dead_letters"] + again["dead_letters"]
            == 2 * rejected - again["skipped"]
        )
        assert not harness.dead_letters(live, timeout_s=2), "the source namespace is untouched"
    finally:
        store = open_store(into)
        try:
            schema.drop(store, into.database)
        finally:
            store.close()


def test_bad_flags_exit_2_with_one_line(kafka_settings: Settings, tmp_path: Path) -> None:
    import subprocess
    import sys

    flags = harness.settings_flags(kafka_settings.replace(store="server"))
    for args in (
        ["replay", "--into", "Bad Name", "--source", "archive"],
        ["replay", "--into", "x-copy", "--source", str(tmp_path / "missing.jsonl")],
        ["replay", "--into", "x-copy", "--from", "2024-06-05", "--to", "2024-06-01"],
        ["replay", "--into", "x-copy", "--margin", "3w"],
        ["replay", "--into", "x-copy", "--source", "archive"],  # nothing stored in the namespace
    ):
        done = subprocess.run([sys.executable, "-m", "pipeline", *args, *flags],
                              cwd=harness.REPO, capture_output=True, timeout=60)  # fmt: skip
        assert done.returncode == 2, (args, done.stderr)
        assert b"Traceback" not in done.stderr and done.stderr.strip(), args
