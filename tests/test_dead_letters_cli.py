"""Dead letters: listed with their original bytes; redriven after the cause is fixed, each counted once.

The "live" namespace is loaded with a reference that lacks one unit, so that unit's events are
dead letters. After the unit is back (the full reference), ``dead-letters redrive`` sends them
to the input topics, the real worker process stores them, and the numbers equal the oracle's
over the full reference — even when the same letters were sent twice.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from pipeline.reference import DEMO_PROVINCE_DIR, load_reference
from pipeline.settings import Settings
from sinks import hourly, schema
from sinks.dead_letters import letters
from sinks.store import Store, open_store
from tests import stream_harness as harness
from tests.replay_helpers import (
    REFERENCE,
    history_records,
    noisy_day_lines,
    oracle_rejected,
    oracle_rows,
    run_cli,
    stored_rows,
    write_lines,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def noisy_lines() -> list[bytes]:
    return noisy_day_lines()


def _without_unit(folder: Path, lines: list[bytes]) -> tuple[Path, str]:
    """A copy of the demo reference without its busiest leaf unit that is no agency."""
    agencies = {p.agency for p in REFERENCE.procedures}
    leaves = {u.code for u in REFERENCE.units if not REFERENCE.children(u.code)} - agencies
    busy: Counter[str] = Counter()
    for raw in lines:
        try:
            busy[json.loads(raw)["unit_code"]] += 1
        except (ValueError, KeyError, TypeError):
            continue  # the bad lines of the noise
    unit = next(code for code, _ in busy.most_common() if code in leaves)
    folder.mkdir()
    shutil.copy(DEMO_PROVINCE_DIR / "procedures.csv", folder / "procedures.csv")
    with (DEMO_PROVINCE_DIR / "units.csv").open(newline="", encoding="utf-8") as source:
        rows = [row for row in csv.reader(source) if row[0] != unit]
    with (folder / "units.csv").open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    return folder, unit


def _rejected(lines: list[bytes], reference_dir: Path | None = None) -> Counter[str]:
    reference = load_reference(reference_dir) if reference_dir else REFERENCE
    return oracle_rejected(lines, reference)


def test_redrive_after_the_missing_unit_is_added_counts_each_letter_once(
    kafka_settings: Settings, noisy_lines: list[bytes], tmp_path: Path
) -> None:
    live = kafka_settings.replace(store="server", partitions=4)
    reduced, unit = _without_unit(tmp_path / "reduced", noisy_lines)
    export = write_lines(tmp_path / "export.jsonl", noisy_lines)
    run_cli(live, "replay", "--into", live.namespace, "--source", str(export),
            "--reference-dir", str(reduced))  # fmt: skip
    store = open_store(live)
    try:
        before = _rejected(noisy_lines, reduced)
        assert before["unknown_unit"] > _rejected(noisy_lines)["unknown_unit"]

        _, output = run_cli(live, "dead-letters", "list", "--json")
        listed = json.loads(output)
        assert listed["by_kind"] == dict(before) and listed["count"] == sum(before.values())
        assert all(letter["raw"].encode() in noisy_lines for letter in listed["letters"])
        _, output = run_cli(live, "dead-letters", "list", "--kind", "unknown_unit", "--raw")
        mine = [raw.encode() for raw in output.splitlines() if f'"unit_code":"{unit}"' in raw]
        assert mine

        _, output = run_cli(live, "dead-letters", "redrive", "--json")  # the full reference
        redriven = json.loads(output)
        assert redriven["resent"] == len(mine)
        assert redriven["still_failing"] == dict(_rejected(noisy_lines))
        harness.produce(live, history_records(mine))  # as if a redrive died before marking

        worker = harness.start_worker(live, tmp_path / "worker.log")
        try:
            harness.wait_until_consumed(live, [worker])
        finally:
            harness.stop(worker)
        hourly.refresh_all(store, live.database)
        assert stored_rows(store, live.database) == oracle_rows(noisy_lines)

        _, output = run_cli(live, "dead-letters", "redrive", "--json")
        again = json.loads(output)
        assert again["resent"] == 0 and again["letters"] == sum(_rejected(noisy_lines).values())
        _, output = run_cli(live, "dead-letters", "list", "--json")
        assert json.loads(output)["by_kind"] == dict(_rejected(noisy_lines))
        _, output = run_cli(live, "dead-letters", "list", "--all", "--json")
        everything = json.loads(output)
        assert everything["count"] == sum(before.values())
        assert sum(1 for x in everything["letters"] if x["redriven_at"]) == len(mine)
    finally:
        schema.drop(store, live.database)
        store.close()


def test_list_filters_by_kind_and_time(store_settings: Settings, tmp_path: Path) -> None:
    export = write_lines(tmp_path / "bad.jsonl", [b"not json", b'{"type": "dossier.archived"}'])
    run_cli(store_settings, "replay", "--into", store_settings.namespace, "--source", str(export))
    _, output = run_cli(store_settings, "dead-letters", "list", "--kind", "not_json", "--json")
    found = json.loads(output)
    assert found["count"] == 1
    assert found["letters"][0]["raw"] == "not json"
    assert found["letters"][0]["source"] == "bad.jsonl:1"
    _, output = run_cli(store_settings, "dead-letters", "list", "--since", "2100-01-01", "--json")
    assert json.loads(output)["count"] == 0
    _, output = run_cli(store_settings, "dead-letters", "list")
    assert "not_json" in output and "unknown_type" in output
    store = open_store(store_settings)
    try:
        schema.drop(store, store_settings.database)
    finally:
        store.close()


def test_letters_of_a_namespace_without_the_marks_table_are_all_open(
    store: Store, store_settings: Settings
) -> None:
    database = store_settings.database
    store.execute(f"DROP TABLE {database}.dead_letters_redriven")
    store.insert(
        f"{database}.dead_letters",
        ("source", "kind", "reason", "raw", "recorded_ms"),
        [("t[0]@1", "not_json", "not JSON", "{", 1_000)],
    )
    (letter,) = letters(store, database)
    assert (letter.source, letter.kind, letter.raw, letter.is_open) == (
        "t[0]@1",
        "not_json",
        "{",
        True,
    )
