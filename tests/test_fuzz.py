"""Fuzz the worker's path: 100,000+ hostile messages through the batch processor and the result
writer into a real embedded ClickHouse, in worker-sized batches. Nothing may raise, and every
message is either accepted or exactly one dead letter.

The messages are drawn from a fixed seed (``CHISO766_FUZZ_SEED`` picks another one, and the
failing seed is in the assertion message): random bytes, byte-level and field-level mutations
of real generated events, JSON nested thousands deep at the top and inside fields, huge and
non-finite numbers, odd encodings (UTF-16/32, BOMs, Latin-1, overlong and surrogate UTF-8),
impossible dates, and tombstones, each with a random record timestamp or none.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator
from datetime import date

import msgspec
import pytest

from pipeline.generator.profile import profile_named
from pipeline.generator.stream import generate_batches
from pipeline.processing import Incoming, processor_for
from pipeline.reference import load_reference
from pipeline.settings import Settings
from sinks import schema
from sinks.store import open_store
from sinks.writer import ResultWriter

pytestmark = pytest.mark.integration

REFERENCE = load_reference()
MESSAGES = 100_000
BATCH = 5_000
SEED = int(os.environ.get("CHISO766_FUZZ_SEED", "766"))
RECORDED_MS = 1_780_000_000_000

_HUGE = [10**30, -(10**30), 2**64, 2**63, -(2**63) - 1, 1e308, float("inf"), float("nan"), 10**400]
_DATES = [
    "1969-12-31T23:59:59+00:00", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+14:00", "2100-01-01T00:00:00Z", "2024-02-30T00:00:00+07:00",
    "2024-06-03T23:59:60+07:00", "2024-06-03T08:00:00+24:00", "2024-06-03T08:00:00",
    "2024-06-03T08:00:00.123456789+07:00", "", "2024-06-03", "2024-06-03T08:00:00+07:00",
]  # fmt: skip
_STRINGS = [
    "", "x" * 5000, "\x00", "\ud800", "H70.07\x00", "Hồ sơ trực tuyến", "\u202e", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
]  # fmt: skip
_BAD_UTF8 = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
             b"\x80", b"\xc3", b"\xf0\x9f\x98"]  # fmt: skip


def _real_lines() -> list[bytes]:
    batches = generate_batches(REFERENCE, seed=5, start=date(2024, 6, 3), days=1,
                               profile=profile_named("tiny"))  # fmt: skip
    return [line.encode() for batch in batches for line in batch.lines]


def _nested(rng: random.Random) -> bytes:
    depth = rng.choice([999, 1000, 1001, 1500, 3000])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    inner = b"1" if opener == b'{"a":' else b""
    return opener * depth + inner + closer * depth * rng.randrange(0, 2)


def _mutations(rng: random.Random, real: list[bytes]) -> list[Callable[[], bytes | None]]:
    def good() -> bytes:
        return rng.choice(real)

    def field_set(value: object) -> bytes:
        event = msgspec.json.decode(good())
        field = rng.choice([*event, "note", "type", "schema"])
        event[field] = value
        # The standard library writes what msgspec would refuse: 10**400, Infinity, "\ud800".
        return json.dumps(event, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")

    def raw_field(text: bytes) -> bytes:
        line = good()
        return line[:-1] + b', "' + rng.choice([b"note", b"x", b"type"]) + b'": ' + text + b"}"

    def flip() -> bytes:
        line = bytearray(good())
        for _ in range(rng.randrange(1, 4)):
            line[rng.randrange(len(line))] = rng.randrange(256)
        return bytes(line)

    def cut() -> bytes:
        line = good()
        return line[: rng.randrange(len(line))]

    def splice() -> bytes:
        a, b = good(), good()
        return a[: rng.randrange(len(a))] + b[rng.randrange(len(b)) :]

    def encoded() -> bytes:
        text = good().decode()
        codec = rng.choice(["utf-16", "utf-16-le", "utf-32", "utf-8-sig", "latin-1", "cp1258"])
        return text.replace("H", "Hồ").encode(codec, "replace")

    def date_of() -> bytes:
        event = msgspec.json.decode(good())
        event[rng.choice(["occurred_at", "due_at", "occurred_at"])] = rng.choice(_DATES)
        return msgspec.json.encode(event)

    return [
        lambda: rng.randbytes(rng.randrange(0, 300)),
        lambda: None,  # a tombstone
        flip,
        cut,
        splice,
        encoded,
        date_of,
        lambda: _nested(rng),
        lambda: raw_field(_nested(rng)),
        lambda: field_set(rng.choice(_HUGE)),
        lambda: raw_field(rng.choice([b"1e400", b"-1e400", b"1" * 5000, b"-0.0e-99999"])),
        lambda: field_set(rng.choice(_STRINGS)),
        lambda: raw_field(b'"' + rng.choice(_BAD_UTF8) + b'"'),
        lambda: raw_field(b'"\\ud800\\u0000"'),
        lambda: good().replace(b'"', b"'", 1),
        good,  # real events must still be accepted among all this
    ]


def _hostile(count: int, seed: int) -> Iterator[Incoming]:
    rng = random.Random(seed)
    makers = _mutations(rng, _real_lines())
    for number in range(count):
        raw = rng.choice(makers)()
        timestamp_ms = rng.choice([None, RECORDED_MS - 900 * 86_400_000,
                                   1_717_380_000_000 + rng.randrange(-5, 5) * 86_400_000])  # fmt: skip
        yield Incoming(raw, f"fuzz[{number % 8}]@{number}", timestamp_ms)


def test_hostile_messages_never_crash_the_worker_path_and_each_is_counted(
    settings: Settings,
) -> None:
    settings = settings.replace(store="embedded")  # the session's one embedded engine
    store = open_store(settings)
    database = settings.database
    schema.migrate(store, database)
    processor = processor_for(REFERENCE, late_horizon_days=400)
    writer = ResultWriter(store, database)
    sent = accepted = dead = 0
    kinds: set[str] = set()
    batch: list[Incoming] = []
    for message in _hostile(MESSAGES, SEED):
        batch.append(message)
        if len(batch) == BATCH:
            result = processor.process(batch)
            writer.write(result, RECORDED_MS)
            assert result.accepted + len(result.dead_letters) == len(batch), f"seed {SEED}"
            sent, accepted, dead = (
                sent + len(batch),
                accepted + result.accepted,
                dead + len(result.dead_letters),
            )
            kinds.update(d.kind for d in result.dead_letters)
            batch = []
    assert sent == MESSAGES and accepted + dead == sent, f"seed {SEED}"
    assert accepted > MESSAGES // 50, "real events among the noise must still count"
    assert {"not_json", "too_deep", "tombstone", "impossible_value"} <= kinds
    assert "internal_error" not in kinds, f"seed {SEED}: an unforeseen exception while decoding"
    stored = store.query(f"SELECT uniqExact(source) FROM {database}.dead_letters")[0][0]
    assert stored == dead, f"seed {SEED}: every dead letter is stored once"
    schema.drop(store, database)
