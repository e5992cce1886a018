"""Event contract v1 (docs/event-contract.md): typed structs, fast JSON decoding, one error for bad input.

Every event is a JSON object with the common fields and the extra fields of its ``type``.
Timestamps are RFC 3339 strings with an offset on the wire and aware ``datetime`` values here;
``ts_ms`` converts them to epoch milliseconds, the unit the rest of the code works in. An
``occurred_at`` outside [2000-01-01, 2100-01-01) UTC is refused here, at the edge, so that no
negative or overflowing epoch ever reaches a counter or the store.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

import msgspec

from pipeline.errors import DecodeError

SCHEMA_VERSION = 1
EARLIEST = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
LATEST = datetime.fromisoformat("2100-01-01T00:00:00+00:00")
"""The sane range of ``occurred_at`` (UTC): earlier or later is an impossible value."""
_OUT_OF_RANGE = "occurred_at"

NOT_JSON = "not_json"
TOO_DEEP = "too_deep"

AwareTime = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with an offset")]
Count = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
Money = Annotated[int, msgspec.Meta(ge=0, le=100_000_000_000, description="VND")]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]

Channel = Literal["direct", "online", "postal"]
Outcome = Literal["approved", "rejected", "withdrawn"]
PaymentMethod = Literal["online_national", "online_provincial", "cash", "bank_counter"]
ONLINE_PAYMENT_METHODS = frozenset({"online_national", "online_provincial"})


class Event(msgspec.Struct, frozen=True, tag_field="type"):
    """Fields every v1 event carries.

    No ``__post_init__``: a Python call per decoded event costs more than msgspec's whole
    decode. The range of ``occurred_at`` is checked by ``decode_timed``, which also returns the
    time in epoch ms so that the worker converts it once per event.
    """

    event_id: Ident
    schema: Literal[1]
    occurred_at: AwareTime
    unit_code: Code
    dossier_id: Ident
    procedure_code: Code

    @property
    def type(self) -> str:
        return TYPE_NAMES.get(type(self)) or str(self.__struct_config__.tag)

    @property
    def ts_ms(self) -> int:
        """``occurred_at`` in epoch ms (computed on each read: the hot path keeps the value
        ``decode_timed`` returns instead)."""
        return to_ms(self.occurred_at)


class DossierReceived(Event, frozen=True, tag="dossier.received"):
    channel: Channel
    due_at: AwareTime
    fee_amount: Money
    applicant_type: Literal["citizen", "organization"]


class DossierDigitized(Event, frozen=True, tag="dossier.digitized", omit_defaults=True):
    components: Count
    reused_components: Count
    from_data_store: bool
    from_population_data: bool = False
    """Optional since v1.1: data taken from the population database / VNeID (766 item 3.5).
    Absent means false, so v1 producers stay valid; it is encoded only when true."""


class DossierSynced(Event, frozen=True, tag="dossier.synced"):
    pass


class DossierSupplementRequested(Event, frozen=True, tag="dossier.supplement_requested"):
    reason: Annotated[str, msgspec.Meta(max_length=2000)]


class DossierCompleted(Event, frozen=True, tag="dossier.completed"):
    outcome: Outcome


class DossierResultIssued(Event, frozen=True, tag="dossier.result_issued"):
    electronic: bool
    digitized: bool


class DossierRated(Event, frozen=True, tag="dossier.rated"):
    satisfied: bool


class PaymentSucceeded(Event, frozen=True, tag="payment.succeeded"):
    amount: Money
    method: PaymentMethod


class PaymentFailed(Event, frozen=True, tag="payment.failed"):
    amount: Money
    method: PaymentMethod


class FeedbackReceived(Event, frozen=True, tag="feedback.received"):
    feedback_id: Ident
    due_at: AwareTime


class FeedbackResolved(Event, frozen=True, tag="feedback.resolved"):
    feedback_id: Ident


class FeedbackRated(Event, frozen=True, tag="feedback.rated"):
    feedback_id: Ident
    satisfied: bool


AnyEvent = (
    DossierReceived
    | DossierDigitized
    | DossierSynced
    | DossierSupplementRequested
    | DossierCompleted
    | DossierResultIssued
    | DossierRated
    | PaymentSucceeded
    | PaymentFailed
    | FeedbackReceived
    | FeedbackResolved
    | FeedbackRated
)
EVENT_TYPES: dict[str, type[Event]] = {
    str(cls.__struct_config__.tag): cls
    for cls in AnyEvent.__args__  # type: ignore[attr-defined]
}
TYPE_NAMES: dict[type, str] = {cls: name for name, cls in EVENT_TYPES.items()}
"""Event class -> its ``type`` tag."""

_decoder = msgspec.json.Decoder(AnyEvent)
_loose_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (sub-millisecond digits are dropped, rounding down).

    Calendar arithmetic on the fields plus the offset of the time zone in ms, looked up once
    per tzinfo object (msgspec shares one per offset): about half the cost of subtracting the
    epoch as a datetime, which this equals whenever the offset is a whole number of ms (any
    RFC 3339 offset). Other offsets take the exact datetime path.
    """
    offset_ms = _OFFSET_MS.get(moment.tzinfo)
    if offset_ms is None:
        offset_ms = _offset_ms(moment)
        if offset_ms is None:
            return (moment - _EPOCH) // _MILLISECOND
    return (
        ((moment.toordinal() - _EPOCH_ORDINAL) * 86_400
         + moment.hour * 3_600 + moment.minute * 60 + moment.second) * 1_000
        + moment.microsecond // 1_000
        - offset_ms
    )  # fmt: skip


def _offset_ms(moment: datetime) -> int | None:
    """The UTC offset of ``moment`` in ms, remembered by tzinfo when it is fixed and whole;
    None when it has sub-millisecond parts (or no offset, which msgspec never decodes)."""
    offset = moment.utcoffset()
    if offset is None or offset % _MILLISECOND:
        return None
    if isinstance(moment.tzinfo, timezone) and len(_OFFSET_MS) < 1_000:
        _OFFSET_MS[moment.tzinfo] = offset // _MILLISECOND
    return offset // _MILLISECOND


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
_EPOCH_ORDINAL = _EPOCH.toordinal()
_MILLISECOND = timedelta(milliseconds=1)
_OFFSET_MS: dict[object, int] = {}
"""Fixed tzinfo (``datetime.timezone``) -> its offset in ms; a zone with daylight saving time
changes offset with the date, so only fixed zones are remembered."""
_EARLIEST_MS = to_ms(EARLIEST)
_LATEST_MS = to_ms(LATEST)
"""Both bounds are whole milliseconds, so comparing the floored ms is comparing the datetimes."""


def decode_event(raw: bytes | str) -> AnyEvent:
    """Decode one JSON message into its typed event (``decode_timed`` without the time)."""
    return decode_timed(raw)[0]


def decode_timed(raw: bytes | str) -> tuple[AnyEvent, int]:
    """Decode one JSON message into its typed event and its ``occurred_at`` in epoch ms.

    Raises DecodeError (and nothing else) for any input that is not a valid v1 event: the
    error names the field and the reason, plus the event's id and type when they are readable.
    The whole message must be UTF-8, unknown fields included (JSON is UTF-8, and the archive
    keeps the message as text), and nested less deep than the decoder's recursion limit.
    """
    try:
        if isinstance(raw, bytes) and not raw.isascii():
            raw.decode()  # strict: also refuses overlong forms and encoded surrogates
        event = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise _describe(raw, str(exc)) from None
    except msgspec.DecodeError as exc:
        raise DecodeError(f"not JSON: {exc}", kind=NOT_JSON) from None
    except UnicodeError as exc:  # bytes that are not UTF-8, or a str with lone surrogates
        raise DecodeError(f"not UTF-8: {exc}", kind=NOT_JSON) from None
    except RecursionError:
        raise DecodeError("JSON nested too deep", kind=TOO_DEEP) from None
    ts_ms = to_ms(event.occurred_at)
    if not _EARLIEST_MS <= ts_ms < _LATEST_MS:  # the same as comparing the datetimes
        raise DecodeError(
            f"{event.occurred_at.isoformat()} is outside [{EARLIEST.date()}, {LATEST.date()})",
            field=_OUT_OF_RANGE,
            event_id=event.event_id,
            event_type=event.type,
            kind="impossible_value",
        )
    return event, ts_ms


def encode_event(event: Event) -> bytes:
    """The canonical JSON bytes of an event (``type`` first, then fields in contract order)."""
    return _encoder.encode(event)


def schema() -> dict[str, object]:
    """The JSON Schema of contract v1, generated from the structs above."""
    document = msgspec.json.schema(AnyEvent)
    document["$id"] = "https://chiso766.example/schema/events-v1.json"
    document["title"] = "chiso766 event contract v1"
    return document


def _describe(raw: bytes | str, message: str) -> DecodeError:
    """Turn a msgspec validation message into a DecodeError naming field, id and type."""
    field = None
    reason = message
    if " - at `$." in message:
        reason, _, path = message.rpartition(" - at `$.")
        field = path.rstrip("`")
    elif message.startswith("Object missing required field"):
        field = message.split("`")[1] if "`" in message else None
    event_id = event_type = None
    try:
        loose = _loose_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        loose = None
    if isinstance(loose, dict):
        event_id = loose.get("event_id") if isinstance(loose.get("event_id"), str) else None
        event_type = loose.get("type") if isinstance(loose.get("type"), str) else None
    else:
        return DecodeError("not a JSON object", kind="not_object")
    kind = "invalid"
    if field == "type" or (field is None and "type" in message and event_type not in EVENT_TYPES):
        field = "type"
        if event_type is not None:
            kind, reason = "unknown_type", f"unknown event type {event_type!r}"
        elif "type" in loose:
            kind, reason = "wrong_type", f"expected a string, got {type(loose['type']).__name__}"
        else:
            kind, reason = "missing_field", "missing field"
    elif message.startswith("Object missing required field"):
        kind = "missing_field"
    elif message.startswith("Expected") and ", got `" in message:
        kind = "wrong_type"
    else:
        kind = "impossible_value"
    return DecodeError(reason, field=field, event_id=event_id, event_type=event_type, kind=kind)
