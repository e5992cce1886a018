"""Each poison message of issue #12 §1 — every one used to make the worker exit at every start —
is now one dead letter with its reason, and the good messages of the same batch are stored, on
both ClickHouse engines (the worker's path: BatchProcessor, then ResultWriter)."""

from __future__ import annotations

import pytest

from pipeline.processing import Incoming, processor_for
from pipeline.reference import load_reference
from pipeline.settings import Settings
from sinks.store import Store
from sinks.writer import ResultWriter
from tests.events_factory import line, received

pytestmark = pytest.mark.integration

REFERENCE = load_reference()
GOOD = line(received("good-1", "d-good", "2024-06-03T08:00:00+07:00"))
NESTED = b"[" * 1000 + b"]" * 1000


def _with(extra: bytes) -> bytes:
    """A valid received event with ``extra`` (raw JSON text) as an unknown field."""
    return (
        line(received("p-1", "d-poison", "2024-06-03T08:00:00+07:00"))[:-1]
        + b', "note": '
        + extra
        + b"}"
    )


POISON = [
    pytest.param(None, "tombstone", id="a tombstone (null value)"),
    pytest.param(_with(b'"\xff\xfe"'), "not_json", id="invalid UTF-8 inside an unknown field"),
    pytest.param(_with(b'"\xc0\xaf"'), "not_json", id="overlong UTF-8 inside an unknown field"),
    pytest.param(NESTED, "not_object", id="JSON nested 1,000 deep at the top"),
    pytest.param(b'{"type": ' + b"[" * 5000, "too_deep", id="JSON nested 5,000 deep in the type"),
    pytest.param(_with(NESTED), "too_deep", id="JSON nested 1,000 deep inside a field"),
    pytest.param(
        line(received("p-2", "d-1969", "1969-12-31T20:00:00+07:00")),
        "impossible_value",
        id="an event dated 1969 (negative epoch)",
    ),
    pytest.param(
        line(received("p-3", "d-1970", "1970-01-01T07:00:00+07:00")),
        "impossible_value",
        id="an event dated 1970",
    ),
    pytest.param(
        line(received("p-4", "d-huge", "2024-06-03T08:00:00+07:00", fee=10**40)),
        "impossible_value",
        id="a huge number",
    ),
]


@pytest.mark.parametrize(("raw", "kind"), POISON)
def test_a_poison_message_is_one_dead_letter_and_the_batch_goes_on(
    raw: bytes | None, kind: str, store: Store, store_settings: Settings
) -> None:
    batch = [
        Incoming(GOOD, "dossier-events[0]@0", 1_717_380_000_000),
        Incoming(raw, "dossier-events[0]@1", 1_717_380_000_000),
    ]
    result = processor_for(REFERENCE, 400).process(batch)
    ResultWriter(store, store_settings.database).write(result, 1_780_000_000_000)
    assert result.accepted == 1
    ((source, found_kind, reason),) = [(d.source, d.kind, d.reason) for d in result.dead_letters]
    assert (source, found_kind) == ("dossier-events[0]@1", kind) and reason
    db = store_settings.database
    assert store.query(f"SELECT event_id FROM {db}.events_raw") == [("good-1",)]
    assert store.query(f"SELECT source, kind FROM {db}.dead_letters") == [
        ("dossier-events[0]@1", kind)
    ]
