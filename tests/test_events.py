"""Event contract v1: the committed JSON Schema, decoding, every kind of bad input, and properties."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import events
from pipeline.errors import DecodeError
from pipeline.events import EVENT_TYPES, decode_event, encode_event, schema, to_ms
from pipeline.reference import load_reference
from pipeline.validation import accept_event, problem_of, validate_event

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "pipeline" / "schema" / "events-v1.json"
REFERENCE = load_reference()
HORIZON_DAYS = 400
NOW_MS = to_ms(datetime(2024, 6, 10, 12, 0, tzinfo=UTC))
UNIT = "H70.21.01"
PROCEDURE = REFERENCE.procedures[0].code
COMMON: dict[str, Any] = {
    "event_id": "e-1",
    "schema": 1,
    "occurred_at": "2024-06-03T08:15:00+07:00",
    "unit_code": UNIT,
    "dossier_id": "H70.21.01-240603-0001",
    "procedure_code": PROCEDURE,
}
EXTRA: dict[str, dict[str, Any]] = {
    "dossier.received": {
        "channel": "online",
        "due_at": "2024-06-10T17:00:00+07:00",
        "fee_amount": 50_000,
        "applicant_type": "citizen",
    },
    "dossier.digitized": {"components": 3, "reused_components": 2, "from_data_store": True},
    "dossier.synced": {},
    "dossier.supplement_requested": {"reason": "Thiếu bản sao giấy chứng nhận"},
    "dossier.completed": {"outcome": "approved"},
    "dossier.result_issued": {"electronic": True, "digitized": True},
    "dossier.rated": {"satisfied": True},
    "payment.succeeded": {"amount": 50_000, "method": "online_national"},
    "payment.failed": {"amount": 50_000, "method": "online_provincial"},
    "feedback.received": {"feedback_id": "f-1", "due_at": "2024-06-24T17:00:00+07:00"},
    "feedback.resolved": {"feedback_id": "f-1"},
    "feedback.rated": {"feedback_id": "f-1", "satisfied": False},
}


def event_dict(kind: str, **changes: Any) -> dict[str, Any]:
    document = {"type": kind, **COMMON, **EXTRA[kind]}
    document.update(changes)
    return document


def raw(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


# --- the committed schema --------------------------------------------------------------------


def test_committed_json_schema_is_generated_from_the_structs() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(schema())), (
        "pipeline/schema/events-v1.json is stale: run .venv/bin/python tools/write_event_schema.py"
    )


def test_schema_names_every_type_and_its_fields() -> None:
    document = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert set(document["discriminator"]["mapping"]) == set(EXTRA)
    for kind, ref in document["discriminator"]["mapping"].items():
        definition = document["$defs"][ref.rsplit("/", 1)[1]]
        assert definition["properties"]["type"] == {"enum": [kind]}
        assert set(definition["required"]) == {"type", *COMMON, *EXTRA[kind]}


# --- decoding good events --------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(EXTRA))
def test_every_type_decodes_and_passes_validation(kind: str) -> None:
    event = accept_event(raw(event_dict(kind)), REFERENCE, NOW_MS, HORIZON_DAYS)
    assert event.type == kind
    assert isinstance(event, EVENT_TYPES[kind])
    assert event.ts_ms == to_ms(datetime(2024, 6, 3, 1, 15, tzinfo=UTC))


def test_encoding_is_canonical_type_first_in_contract_order() -> None:
    event = decode_event(raw(event_dict("dossier.received")))
    assert encode_event(event) == (
        b'{"type":"dossier.received","event_id":"e-1","schema":1,'
        b'"occurred_at":"2024-06-03T08:15:00+07:00","unit_code":"H70.21.01",'
        b'"dossier_id":"H70.21.01-240603-0001","procedure_code":"' + PROCEDURE.encode() + b'",'
        b'"channel":"online","due_at":"2024-06-10T17:00:00+07:00","fee_amount":50000,'
        b'"applicant_type":"citizen"}'
    )


def test_unknown_extra_fields_are_ignored_for_forward_compatibility() -> None:
    event = decode_event(raw(event_dict("dossier.synced", portal_status="ok")))
    assert event.type == "dossier.synced"


# --- every kind of bad input: kind, field and a message that says which and why -------------

BAD_INPUTS: list[tuple[str, bytes, str, str | None, str]] = [
    ("not JSON", b'{"type":"dossier.synced",', "not_json", None, "not JSON"),
    ("not UTF-8", b'{"type":"\xff"}', "not_json", None, "not UTF-8"),
    ("JSON but not an object", b"[1, 2]", "not_object", None, "not a JSON object"),
    (
        "unknown type",
        raw(event_dict("dossier.synced", type="dossier.archived")),
        "unknown_type",
        "type",
        "dossier.archived",
    ),
    (
        "type missing",
        raw({k: v for k, v in event_dict("dossier.synced").items() if k != "type"}),
        "missing_field",
        "type",
        "missing",
    ),
    (
        "type not a string",
        raw(event_dict("dossier.synced", type=7)),
        "wrong_type",
        "type",
        "expected a string",
    ),
    (
        "missing field",
        raw({k: v for k, v in event_dict("dossier.completed").items() if k != "outcome"}),
        "missing_field",
        "outcome",
        "outcome",
    ),
    (
        "wrong type",
        raw(event_dict("dossier.received", fee_amount="50000")),
        "wrong_type",
        "fee_amount",
        "Expected `int`, got `str`",
    ),
    (
        "time without offset",
        raw(event_dict("dossier.synced", occurred_at="2024-06-03T08:15:00")),
        "impossible_value",
        "occurred_at",
        "timezone",
    ),
    (
        "negative count",
        raw(event_dict("dossier.digitized", components=-1)),
        "impossible_value",
        "components",
        ">= 0",
    ),
    (
        "value outside the enum",
        raw(event_dict("dossier.completed", outcome="lost")),
        "impossible_value",
        "outcome",
        "lost",
    ),
    (
        "schema version 2",
        raw(event_dict("dossier.synced", schema=2)),
        "impossible_value",
        "schema",
        "2",
    ),
]


@pytest.mark.parametrize(
    ("case", "message", "kind", "field", "says"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
def test_contract_rejects_bad_input_with_kind_field_and_reason(
    case: str, message: bytes, kind: str, field: str | None, says: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_event(message)
    error = caught.value
    assert (error.kind, error.field) == (kind, field), case
    assert says in str(error)
    if field is not None:
        assert repr(field) in str(error)


def test_decode_error_names_the_event_when_it_can() -> None:
    with pytest.raises(DecodeError) as caught:
        decode_event(raw(event_dict("payment.succeeded", event_id="pay-9", method="barter")))
    assert (caught.value.event_id, caught.value.event_type) == ("pay-9", "payment.succeeded")
    assert str(caught.value).startswith("payment.succeeded pay-9 field 'method':")


SEMANTIC_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown unit", event_dict("dossier.synced", unit_code="H00.99"), "unknown_unit", "unit_code"),
    (
        "unknown procedure",
        event_dict("dossier.synced", procedure_code="9.999999"),
        "unknown_procedure",
        "procedure_code",
    ),
    (
        "far future",
        event_dict("dossier.synced", occurred_at="2024-06-11T19:00:01+07:00"),
        "far_future",
        "occurred_at",
    ),
    (
        "due before received",
        event_dict("dossier.received", due_at="2024-06-03T08:14:59+07:00"),
        "impossible_value",
        "due_at",
    ),
    (
        "feedback due before it came",
        event_dict("feedback.received", due_at="2024-06-01T00:00:00+07:00"),
        "impossible_value",
        "due_at",
    ),
    (
        "reused more than digitised",
        event_dict("dossier.digitized", components=1, reused_components=2),
        "impossible_value",
        "reused_components",
    ),
    ("paid nothing", event_dict("payment.succeeded", amount=0), "impossible_value", "amount"),
]


@pytest.mark.parametrize(
    ("case", "document", "kind", "field"), SEMANTIC_CASES, ids=[c[0] for c in SEMANTIC_CASES]
)
def test_validation_rejects_meaningless_events(
    case: str, document: dict[str, Any], kind: str, field: str
) -> None:
    event = decode_event(raw(document))
    problem = problem_of(event, REFERENCE, NOW_MS, HORIZON_DAYS)
    assert problem is not None, case
    assert (problem.kind, problem.field, problem.event_id) == (kind, field, "e-1")
    with pytest.raises(DecodeError) as caught:
        accept_event(raw(document), REFERENCE, NOW_MS, HORIZON_DAYS)
    assert caught.value.kind == kind


def test_far_future_boundary_is_one_day_after_the_record_timestamp() -> None:
    exactly_one_day = datetime.fromtimestamp(
        NOW_MS / 1000 + 86_400, tz=timezone(timedelta(hours=7))
    )
    event = decode_event(raw(event_dict("dossier.synced", occurred_at=exactly_one_day.isoformat())))
    assert validate_event(event, REFERENCE, NOW_MS, HORIZON_DAYS) is event
    a_second_later = (exactly_one_day + timedelta(seconds=1)).isoformat()
    assert problem_of(
        decode_event(raw(event_dict("dossier.synced", occurred_at=a_second_later))),
        REFERENCE,
        NOW_MS,
        HORIZON_DAYS,
    )


@pytest.mark.parametrize(
    ("occurred_at", "accepted"),
    [
        ("1969-12-31T23:59:59+00:00", False),  # a negative epoch
        ("1970-01-01T00:00:00+00:00", False),
        ("1999-12-31T23:59:59.999+00:00", False),
        ("2000-01-01T06:59:59+07:00", False),  # 1999 in UTC
        ("2000-01-01T00:00:00+00:00", True),
        ("2099-12-31T23:59:59.999+00:00", True),
        ("2100-01-01T00:00:00+00:00", False),
        ("9999-12-31T23:59:59+00:00", False),
    ],
)
def test_occurred_at_outside_2000_to_2100_is_refused_at_the_contract(
    occurred_at: str, accepted: bool
) -> None:
    message = raw(event_dict("dossier.synced", occurred_at=occurred_at))
    if accepted:
        assert decode_event(message).occurred_at == datetime.fromisoformat(occurred_at)
        return
    with pytest.raises(DecodeError) as caught:
        decode_event(message)
    assert (caught.value.kind, caught.value.field, caught.value.event_id) == (
        "impossible_value",
        "occurred_at",
        "e-1",
    )
    assert "2000-01-01" in caught.value.reason


@pytest.mark.parametrize(
    ("case", "message", "kind"),
    [
        ("invalid UTF-8 in an unknown field", b'"note": "\xff\xfe"', "not_json"),
        ("an overlong slash in an unknown field", b'"note": "\xc0\xaf"', "not_json"),
        ("an encoded surrogate in an unknown field", b'"note": "\xed\xa0\x80"', "not_json"),
        (
            "1,000 arrays deep in an unknown field",
            b'"note": ' + b"[" * 1000 + b"]" * 1000,
            "too_deep",
        ),
        ("100,000 objects deep", b'"note": ' + b'{"a":' * 100_000, "too_deep"),
    ],
)
def test_poison_inside_an_unknown_field_is_a_decode_error(
    case: str, message: bytes, kind: str
) -> None:
    good = raw(event_dict("dossier.synced"))
    poisoned = good[:-1] + b", " + message.decode("unicode_escape").encode("latin-1") + b"}"
    with pytest.raises(DecodeError) as caught:
        decode_event(poisoned)
    assert caught.value.kind == kind, case


@pytest.mark.parametrize("depth", [1000, 5000, 200_000])
def test_deep_nesting_at_the_top_is_a_decode_error(depth: int) -> None:
    for message in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        with pytest.raises(DecodeError):
            decode_event(message)


def test_failed_payment_of_zero_and_empty_digitisation_are_possible() -> None:
    for document in (
        event_dict("payment.failed", amount=0),
        event_dict("dossier.digitized", components=0, reused_components=0, from_data_store=False),
    ):
        assert problem_of(decode_event(raw(document)), REFERENCE, NOW_MS, HORIZON_DAYS) is None


# --- properties ------------------------------------------------------------------------------

_OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m))
)
_TIMES = st.builds(
    lambda moment, tz: moment.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 12, 31)),
    _OFFSETS,
)
_OCCURRED = st.builds(
    lambda moment, tz: moment.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)),
    _OFFSETS,
)
_TEXT = st.text(min_size=1, max_size=40)
_COUNT = st.integers(min_value=0, max_value=10_000)
_MONEY = st.integers(min_value=0, max_value=100_000_000_000)
_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "channel": st.sampled_from(["direct", "online", "postal"]),
    "due_at": _TIMES,
    "fee_amount": _MONEY,
    "applicant_type": st.sampled_from(["citizen", "organization"]),
    "components": _COUNT,
    "reused_components": _COUNT,
    "from_data_store": st.booleans(),
    "from_population_data": st.booleans(),
    "reason": st.text(max_size=200),
    "outcome": st.sampled_from(["approved", "rejected", "withdrawn"]),
    "electronic": st.booleans(),
    "digitized": st.booleans(),
    "satisfied": st.booleans(),
    "amount": _MONEY,
    "method": st.sampled_from(["online_national", "online_provincial", "cash", "bank_counter"]),
    "feedback_id": _TEXT,
}


@st.composite
def any_event(draw: st.DrawFn) -> events.Event:
    kind = draw(st.sampled_from(sorted(EVENT_TYPES)))
    cls = EVENT_TYPES[kind]
    values: dict[str, Any] = {
        "event_id": draw(_TEXT),
        "schema": 1,
        "occurred_at": draw(_OCCURRED),
        "unit_code": draw(_TEXT),
        "dossier_id": draw(_TEXT),
        "procedure_code": draw(_TEXT),
    }
    for name in cls.__struct_fields__:
        if name not in values:
            values[name] = draw(_FIELD_VALUES[name])
    return cls(**values)


@settings(max_examples=300, deadline=None)
@given(any_event())
def test_encode_decode_round_trip(event: events.Event) -> None:
    encoded = encode_event(event)
    decoded = decode_event(encoded)
    assert decoded == event
    assert type(decoded) is type(event)
    assert encode_event(decoded) == encoded
    assert decoded.ts_ms == to_ms(event.occurred_at)


def _only_decode_errors(message: bytes | str) -> None:
    try:
        decoded = decode_event(message)
    except DecodeError as error:
        assert error.kind in {
            "not_json",
            "not_object",
            "unknown_type",
            "missing_field",
            "wrong_type",
            "impossible_value",
            "invalid",
        }
        assert str(error)
    else:
        assert decoded.type in EVENT_TYPES


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_only_ever_raise_the_decode_error(message: bytes) -> None:
    _only_decode_errors(message)


_ANY_CHARACTER = st.characters(categories=["Cs", "Cc", "L", "N", "P", "S", "Z"])


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=_ANY_CHARACTER, max_size=200),
        st.text(alphabet=_ANY_CHARACTER, max_size=50).map(lambda t: '{"type":"' + t + '"}'),
    )
)
def test_random_text_with_surrogates_only_ever_raises_the_decode_error(message: str) -> None:
    _only_decode_errors(message)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(EXTRA)), st.data())
def test_valid_events_with_one_field_broken_only_raise_the_decode_error(
    kind: str, data: st.DataObject
) -> None:
    document = event_dict(kind)
    field = data.draw(st.sampled_from(sorted(document)))
    if data.draw(st.booleans()):
        del document[field]
    else:
        document[field] = data.draw(_JSON)
    message = msgspec.json.encode(document)
    _only_decode_errors(message)
    with contextlib.suppress(
        DecodeError
    ):  # a broken field may still be valid; nothing else escapes
        accept_event(message, REFERENCE, NOW_MS, HORIZON_DAYS)


def test_rfc3339_with_offset_is_what_the_encoder_writes() -> None:
    event = decode_event(
        raw(event_dict("dossier.synced", occurred_at="2024-06-03T08:15:00.250+07:00"))
    )
    text = json.loads(encode_event(event))["occurred_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d", text)
    assert text.endswith("+07:00")


@settings(max_examples=500, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1999, 12, 30),
        max_value=datetime(2100, 1, 2),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=7)), timezone(-timedelta(hours=11, minutes=30))]
        ),
    )
)
def test_the_range_check_on_epoch_ms_agrees_with_comparing_datetimes(moment: datetime) -> None:
    """The contract checks ``occurred_at`` on its epoch ms (computed once per event); that must
    accept exactly the datetimes in [EARLIEST, LATEST), sub-millisecond digits included."""
    message = raw(event_dict("dossier.synced", occurred_at=moment.isoformat()))
    if events.EARLIEST <= moment < events.LATEST:
        decoded = decode_event(message)
        assert (
            decoded.ts_ms
            == to_ms(moment)
            == (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
        )
    else:
        with pytest.raises(DecodeError):
            decode_event(message)


@settings(max_examples=400, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1900, 1, 2),
        max_value=datetime(2200, 12, 30),
        timezones=st.one_of(
            st.integers(-24 * 60 + 1, 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m))),
            st.timezones(),
            st.just(timezone(timedelta(hours=7, microseconds=500))),  # not a whole ms
        ),
    )
)
def test_to_ms_equals_subtracting_the_epoch(moment: datetime) -> None:
    """The calendar arithmetic of ``to_ms`` is exact: the floored ms since the epoch."""
    exact = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert to_ms(moment) == exact
    assert to_ms(moment) == exact  # again, through the remembered offset


def test_decode_timed_gives_the_time_the_event_says() -> None:
    document = event_dict("dossier.synced", occurred_at="2024-06-03T08:15:42.5009+07:00")
    event, ts_ms = events.decode_timed(raw(document))
    assert ts_ms == to_ms(datetime(2024, 6, 3, 1, 15, 42, 500_000, tzinfo=UTC)) == event.ts_ms
