"""``chiso766 diff`` finds exactly the buckets an independent recomputation says differ, on both stores."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.diff import compare
from pipeline.rates import Counts
from pipeline.settings import Settings
from pipeline.windows import parse_time
from sinks import schema
from sinks.store import open_store
from tests import stream_harness as harness
from tests.events_factory import event, line, received
from tests.oracle import recompute
from tests.replay_helpers import REFERENCE, history_records, run_cli, write_lines

pytestmark = pytest.mark.integration


def _expected(lines: list[bytes]) -> dict[tuple[str, str, str], tuple[int, int]]:
    return recompute(
        history_records(lines), units=REFERENCE.unit_codes,
        result_is_document=REFERENCE.result_is_document,
    ).hourly  # fmt: skip


BASE = [
    received("r1", "d1", "2024-06-03T08:10:00+07:00", channel="online", fee=20_000),
    received("r2", "d2", "2024-06-03T08:20:00+07:00", channel="direct"),
    received("r3", "d3", "2024-06-03T09:05:00+07:00", channel="online"),
    event("dossier.synced", "s1", "d1", "2024-06-03T10:00:00+07:00"),
    received("r4", "d4", "2024-06-04T14:00:00+07:00", channel="online", unit_code="H70.08"),
]
PAYMENT = event("payment.succeeded", "p1", "d1", "2024-06-03T08:30:00+07:00",
                amount=20_000, method="online_national")  # fmt: skip


@pytest.fixture
def pair(store_settings: Settings) -> Iterator[tuple[Settings, Settings]]:
    other = store_settings.replace(namespace=store_settings.namespace + "-b")
    yield store_settings, other
    store = open_store(other)
    try:
        schema.drop(store, other.database)
    finally:
        store.close()


def test_no_false_differences_then_exactly_the_planted_ones(
    pair: tuple[Settings, Settings], tmp_path: Path
) -> None:
    ours, theirs = pair
    lines = [line(e) for e in BASE]
    export = write_lines(tmp_path / "a.jsonl", lines)
    run_cli(ours, "replay", "--into", ours.namespace, "--source", str(export))
    run_cli(ours, "replay", "--into", theirs.namespace, "--source", str(export))
    code, output = run_cli(ours, "diff", "--against", theirs.namespace)
    assert code == 0 and "no differences" in output

    # Planted in the other namespace: a payment (online_payment 0/1 -> 1/1), one more dossier
    # in a new hour, and d4 moved to another unit by an earlier reception.
    planted = [
        PAYMENT,
        received("r5", "d5", "2024-06-03T11:40:00+07:00", channel="postal"),
        received("r0", "d4", "2024-06-04T13:00:00+07:00", channel="direct", unit_code="H70.09"),
    ]
    more = write_lines(tmp_path / "b.jsonl", [line(e) for e in planted])
    run_cli(ours, "replay", "--into", theirs.namespace, "--source", str(more))
    code, output = run_cli(ours, "diff", "--against", theirs.namespace, "--json")
    assert code == 1
    report = json.loads(output)
    found = {
        (d["unit_code"], d["indicator"], d["bucket_start"]): (
            (d["ours"]["numerator"], d["ours"]["denominator"]),
            (d["theirs"]["numerator"], d["theirs"]["denominator"]),
        )
        for d in report["differences"]
    }
    a, b = _expected(lines), _expected(lines + [line(e) for e in planted])
    zero = (0, 0)
    expected = {k: (a.get(k, zero), b.get(k, zero)) for k in a.keys() | b.keys()
                if a.get(k, zero) != b.get(k, zero)}  # fmt: skip
    assert found == expected
    assert len(found) == 1 + 4 + 8  # payment; d5's 4 buckets; d4 left H70.08 for H70.09
    assert report["summary"]["online_payment"]["differing"] == 1
    assert report["summary"]["online_filing"]["theirs"]["denominator"] == 5


def test_diff_within_a_range_and_its_errors(
    pair: tuple[Settings, Settings], tmp_path: Path
) -> None:
    ours, theirs = pair
    export = write_lines(tmp_path / "a.jsonl", [line(e) for e in BASE])
    run_cli(ours, "replay", "--into", ours.namespace, "--source", str(export))
    only_first_day = [line(e) for e in BASE[:4]]
    run_cli(ours, "replay", "--into", theirs.namespace,
            "--source", str(write_lines(tmp_path / "b.jsonl", only_first_day)))  # fmt: skip
    code, _ = run_cli(ours, "diff", "--against", theirs.namespace,
                      "--from", "2024-06-03", "--to", "2024-06-04")  # fmt: skip
    assert code == 0
    code, output = run_cli(ours, "diff", "--against", theirs.namespace, "--from", "2024-06-04")
    assert code == 1 and "H70.08" in output
    if ours.store == "server":  # exit codes through the real entry point (a second process)
        flags = harness.settings_flags(ours)
        for args in (["--against", "nowhere"], ["--against", theirs.namespace, "--from", "x"]):
            done = subprocess.run([sys.executable, "-m", "pipeline", "diff", *args, *flags],
                                  cwd=harness.REPO, capture_output=True, timeout=60)  # fmt: skip
            assert done.returncode == 2 and b"Traceback" not in done.stderr, done.stderr


def test_compare_is_bucket_exact() -> None:
    hour = parse_time("2024-06-03T08:00:00+07:00")
    ours = [("U", "online_filing", hour, 1, 2), ("U", "portal_sync", hour, 0, 2)]
    theirs = [("U", "online_filing", hour, 1, 2), ("U", "portal_sync", hour, 1, 2),
              ("V", "online_filing", hour, 1, 1)]  # fmt: skip
    differences, summary = compare(ours, theirs)
    assert [(d.unit_code, d.indicator, d.ours, d.theirs) for d in differences] == [
        ("U", "portal_sync", Counts(0, 2), Counts(1, 2)),
        ("V", "online_filing", Counts(0, 0), Counts(1, 1)),
    ]
    assert summary["online_filing"].buckets == 2 and summary["online_filing"].differing == 1
    assert summary["online_filing"].theirs == Counts(2, 3)
    assert compare(ours, list(reversed(ours))) == ([], compare(ours, ours)[1])
