"""Ingest and generate against the real Kafka broker, read back with an independent kafka-python consumer.

The broker is the one at CHISO766_KAFKA_BOOTSTRAP or 127.0.0.1:CHISO766_KAFKA_PORT (the local
stack's port by default). A broker that does not answer fails these tests; they never skip.
Every test uses its own namespace and deletes its topics afterwards.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.partitioner.default import murmur2

from pipeline import broker
from pipeline.cli.generate import generate as generate_command
from pipeline.cli.ingest import ingest as ingest_command
from pipeline.errors import DecodeError, StackError
from pipeline.events import decode_event, to_ms
from pipeline.generator import BAD_KINDS, Noise, generate_batches, profile_named
from pipeline.producing import produce_all
from pipeline.reference import load_reference
from pipeline.settings import Settings
from pipeline.validation import accept_event
from tests.namespaces import new_namespace

pytestmark = pytest.mark.integration

REFERENCE = load_reference()
FAMILY_TOPIC = {
    "dossier": "dossier-events",
    "payment": "payment-events",
    "feedback": "feedback-events",
}
ALL = ("dossier-events", "payment-events", "feedback-events", "dead-letters")


@pytest.fixture
def kafka() -> Iterator[Settings]:
    """Settings for the broker named by the environment, with a fresh namespace; topics dropped after."""
    settings = Settings.resolve({"namespace": new_namespace()})
    host, _, port = settings.bootstrap_servers.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        pytest.fail(
            f"Kafka at {settings.bootstrap_servers} does not answer ({exc}): start it with "
            "`chiso766 stack up` or point CHISO766_KAFKA_PORT at a running broker"
        )
    yield settings
    broker.delete_namespace_topics(settings)


def flags(settings: Settings) -> list[str]:
    return ["--kafka-bootstrap", settings.bootstrap_servers, "--namespace", settings.namespace]


def read_back(settings: Settings, expected: int, timeout_s: float = 60.0) -> list[Any]:
    """Every record of the namespace's four topics, waiting until ``expected`` have arrived."""
    consumer = KafkaConsumer(
        *[settings.topic(name) for name in ALL],
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=2_000,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1_000, max_records=50_000).values():
                records.extend(batch)
        # and nothing more than expected turns up
        for batch in consumer.poll(timeout_ms=1_500).values():
            records.extend(batch)
    finally:
        consumer.close()
    return records


def write_noisy_file(path: Path) -> tuple[list[bytes], int]:
    """A demo day with every kind of bad line, re-sent events and late ones; lines and bad count."""
    batches = list(
        generate_batches(
            REFERENCE,
            seed=31,
            start=date(2024, 6, 4),
            days=1,
            profile=profile_named("demo"),
            noise=Noise(duplicates=0.02, disorder=0.05, bad_fraction=0.03),
        )
    )
    lines = [line.encode() for batch in batches for line in batch.lines]
    path.write_bytes(b"\n".join(lines) + b"\n\n")  # an empty last line, as editors leave them
    return lines, sum(batch.bad for batch in batches)


def test_ingest_routes_good_lines_by_family_keyed_by_dossier_and_bad_ones_to_dead_letters(
    kafka: Settings, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    lines, injected_bad = write_noisy_file(export)
    result = CliRunner().invoke(ingest_command, [str(export), "--json", *flags(kafka)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["good"], summary["bad"], summary["blank"]) == (
        len(lines) - injected_bad,
        injected_bad,
        1,
    )
    assert set(summary["reasons"]) == set(BAD_KINDS)

    records = read_back(kafka, expected=len(lines))
    assert len(records) == len(lines)
    by_topic: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        by_topic[record.topic].append(record)

    dead = by_topic.pop(kafka.topic("dead-letters"))
    assert len(dead) == injected_bad
    for record in dead:
        header = {name: value.decode() for name, value in record.headers}
        assert header["chiso766.kind"] in BAD_KINDS
        assert header["chiso766.reason"]
        source, _, number = header["chiso766.source"].rpartition(":")
        assert source == "export.jsonl"
        assert lines[int(number) - 1] == record.value  # the original bytes, from that line

    good = [line for line in lines if line not in {r.value for r in dead}]
    expected = Counter(
        (kafka.topic(FAMILY_TOPIC[json.loads(v)["type"].split(".")[0]]), v) for v in good
    )
    arrived = Counter((topic, r.value) for topic, rs in by_topic.items() for r in rs)
    assert arrived == expected
    # Good lines carry their own time as record timestamp (a 2024 export still counts when
    # loaded later); dead letters carry the time they were sent.
    for topic_records in by_topic.values():
        for record in topic_records:
            assert record.timestamp == to_ms(decode_event(record.value).occurred_at)
    assert all(abs(r.timestamp - time.time() * 1000) < 600_000 for r in dead)
    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    for topic_records in by_topic.values():
        for record in topic_records:
            assert record.key == json.loads(record.value)["dossier_id"].encode()
            # The Java client's rule, with kafka-python's own murmur2: what every other client does.
            assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % kafka.partitions
            partitions_of[record.key].add(record.partition)
    assert all(
        len(p) == 1 for p in partitions_of.values()
    )  # a dossier's events share a partition number


def test_dossier_events_keep_their_file_order_within_a_partition(
    kafka: Settings, tmp_path: Path
) -> None:
    export = tmp_path / "day.jsonl"
    lines, _ = write_noisy_file(export)
    assert CliRunner().invoke(ingest_command, [str(export), *flags(kafka)]).exit_code == 0
    records = read_back(kafka, expected=len(lines))
    topic_of = {record.value: record.topic for record in records}
    in_file: dict[tuple[str, bytes], list[bytes]] = defaultdict(list)
    for line in lines:
        if topic_of[line] != kafka.topic("dead-letters"):
            in_file[(topic_of[line], json.loads(line)["dossier_id"].encode())].append(line)
    in_kafka: dict[tuple[str, bytes], list[bytes]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        if record.key is not None:
            in_kafka[(record.topic, record.key)].append(record.value)
    assert in_kafka == in_file


def test_dry_run_checks_and_sends_nothing(kafka: Settings, tmp_path: Path) -> None:
    export = tmp_path / "day.jsonl"
    lines, injected_bad = write_noisy_file(export)
    result = CliRunner().invoke(ingest_command, [str(export), "--dry-run", "--json", *flags(kafka)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bad"] == injected_bad
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    try:
        assert not [t for t in admin.list_topics() if t.startswith(kafka.namespace + ".")]
    finally:
        admin.close()


def test_generate_to_kafka_sends_exactly_what_it_writes_to_a_file(
    kafka: Settings, tmp_path: Path
) -> None:
    args = [
        "--profile",
        "tiny",
        "--days",
        "3",
        "--start",
        "2024-06-03",
        "--seed",
        "5",
        "--duplicates",
        "0.05",
    ]
    written = tmp_path / "same.jsonl"
    assert CliRunner().invoke(generate_command, [*args, "--out", str(written)]).exit_code == 0
    result = CliRunner().invoke(generate_command, [*args, "--json", *flags(kafka)])
    assert result.exit_code == 0, result.output
    lines = written.read_bytes().splitlines()
    assert json.loads(result.stdout)["lines"] == len(lines)
    records = read_back(kafka, expected=len(lines))
    assert Counter(r.value for r in records) == Counter(lines)
    assert all(
        r.topic.endswith(FAMILY_TOPIC[json.loads(r.value)["type"].split(".")[0]]) for r in records
    )
    # Each record is stamped with its simulated emission time: the event's own time, or up to
    # two hours later for a re-sent one.
    for record in records:
        occurred_ms = to_ms(decode_event(record.value).occurred_at)
        assert 0 <= record.timestamp - occurred_ms <= 7201 * 1000


def test_a_line_dated_after_the_load_time_is_stamped_with_the_load_time(
    kafka: Settings, tmp_path: Path
) -> None:
    template = json.loads(next(filter(_is_good, write_noisy_file(tmp_path / "day.jsonl")[0])))
    now = "2024-06-04T12:00:00+0000"
    soon, later = dict(template), dict(template)
    soon.update(event_id="soon", occurred_at="2024-06-05T11:00:00+00:00")  # 23 h ahead: fine
    later.update(event_id="later", occurred_at="2024-06-05T12:00:00.001+00:00")  # a day + 1 ms
    export = tmp_path / "ahead.jsonl"
    export.write_text(json.dumps(soon) + "\n" + json.dumps(later) + "\n")
    result = CliRunner().invoke(
        ingest_command, [str(export), "--now", now, "--json", *flags(kafka)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["reasons"] == {"far_future": 1}
    (good,) = [r for r in read_back(kafka, expected=2) if r.topic != kafka.topic("dead-letters")]
    assert json.loads(good.value)["event_id"] == "soon"
    assert good.timestamp == to_ms(datetime.fromisoformat("2024-06-04T12:00:00+00:00"))


def _is_good(line: bytes) -> bool:
    try:
        accept_event(line, REFERENCE, None, 400)
    except DecodeError:
        return False
    return True


def test_unreachable_kafka_is_one_error_not_a_crash() -> None:
    nowhere = Settings(kafka_bootstrap="127.0.0.1:1")
    with pytest.raises(StackError, match="Kafka at 127.0.0.1:1 is not reachable"):
        produce_all(nowhere, [[("t.dossier-events", b"key", b"{}", None, None)]])


def test_a_5_mb_line_and_bad_utf8_are_reported_and_dead_lettered_and_ingest_goes_on(
    kafka: Settings, tmp_path: Path
) -> None:
    lines, _ = write_noisy_file(tmp_path / "day.jsonl")
    good = [line for line in lines if _is_good(line)][:3]
    huge = good[0][:-1] + b', "note": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    bad_utf8 = good[1][:-1] + b', "note": "\xff\xc0\xaf"}'
    export = tmp_path / "poison.jsonl"
    export.write_bytes(b"\n".join([good[0], huge, bad_utf8, good[2]]) + b"\n")

    result = CliRunner().invoke(ingest_command, [str(export), "--json", *flags(kafka)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["good"], summary["bad"]) == (2, 2)
    assert summary["reasons"] == {"too_large": 1, "not_json": 1}
    assert summary["truncated_lines"] == [2]
    text = CliRunner().invoke(ingest_command, [str(export), "--dry-run", *flags(kafka)])
    assert "line 2" in text.stdout and "too large" in text.stdout

    records = read_back(kafka, expected=4)
    assert len(records) == 4
    dead = {
        dict(r.headers)["chiso766.source"]: r for r in records if r.topic.endswith("dead-letters")
    }
    cut = dead[b"poison.jsonl:2"]
    headers = dict(cut.headers)
    assert huge.startswith(cut.value) and len(cut.value) < len(huge)
    assert headers["chiso766.truncated"] == str(len(huge)).encode()
    assert headers["chiso766.sha256"] == hashlib.sha256(huge).hexdigest().encode()
    assert dead[b"poison.jsonl:3"].value == bad_utf8
    sent = sorted(r.value for r in records if not r.topic.endswith("dead-letters"))
    assert sent == sorted([good[0], good[2]])
