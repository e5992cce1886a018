"""The oracle: a plain batch recomputation of the hourly indicator counts from a raw event log.

It is written from the rules below, independently of the stream code, so that tests can demand
that the streaming pipeline's stored hourly counts equal these exactly (DESIGN.md §6).

Input: an iterable of Kafka records, in any order, possibly with bad lines, duplicates and
re-sent facts. A record is a message (bytes or str, one JSON event; None for a tombstone) or a
pair (message, record timestamp in epoch ms or None); a bare message takes the default record
timestamp given to ``recompute``.

Acceptance depends on the record alone. A record is accepted when, checked in this order:

1. it is not a tombstone; else ``tombstone``;
2. it decodes as a v1 event (``pipeline.events.decode_event``); otherwise it is rejected with the
   decoder's kind (``not_json``, ``too_deep``, ``not_object``, ``unknown_type``,
   ``missing_field``, ``wrong_type``, ``impossible_value``);
3. when it has a record timestamp R: its ``occurred_at`` is not more than ``late_horizon_days``
   days before R (exactly the horizon is still accepted), else ``too_late``; and not more than
   one day after R (exactly one day is still accepted), else ``far_future``; times are compared
   in whole milliseconds (sub-millisecond digits dropped). Without a record timestamp neither
   bound applies;
4. its ``unit_code`` is a known unit (skipped when ``units`` is ``None``); else ``unknown_unit``;
5. its ``procedure_code`` is a key of ``result_is_document``; else ``unknown_procedure``.

Rejected messages are counted by kind and never reach an indicator. Every message counts as one
attempt: a blank line is rejected as ``not_json``.

Facts are sets. Accepted events are deduplicated by ``event_id``; if one id arrives with two
different contents (a producer bug), the one with the smallest canonical encoding is kept, so
the result still does not depend on order. A fact re-sent under a new id changes nothing either,
because every rule below asks "is there at least one ..." or "which is the smallest ...".

Per dossier (events grouped by ``dossier_id``):

- The dossier counts only if it has at least one ``dossier.received``. The winning received event
  is the one with the smallest (occurred_at in epoch ms, event_id); it alone gives the dossier's
  unit, procedure, channel, fee and received time. Other events' unit and procedure are ignored.
- Each indicator is counted once per dossier, in the winning unit, in the hour bucket of its
  anchor time in Asia/Ho_Chi_Minh (UTC+7, no DST; buckets start on the hour):

  ==============  ====================================  ===================================  =========
  indicator       numerator                             denominator                          anchor
  ==============  ====================================  ===================================  =========
  online_filing   channel is ``online``                 every received dossier               received
  online_payment  a ``payment.succeeded`` with method   fee_amount > 0                       received
                  ``online_national``/``_provincial``
  digitization    a ``dossier.digitized`` with          every received dossier               received
                  components >= 1
  data_reuse      a ``dossier.digitized`` with          every received dossier               received
                  reused_components >= 1
  portal_sync     a ``dossier.synced``                  every received dossier               received
  e_result        a ``dossier.result_issued`` with      completion outcome is not            completion
                  electronic true                       ``withdrawn`` and the procedure's
                                                        result is a document
  ==============  ====================================  ===================================  =========

  The completion is the ``dossier.completed`` with the smallest (occurred_at ms, event_id).
  Numerators are counted only for dossiers in the denominator. Supplement requests, ratings,
  feedback and failed payments affect none of these six.
- A (unit, indicator, hour) appears in the output only when its denominator is > 0.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from pipeline.errors import DecodeError
from pipeline.events import (
    AnyEvent,
    DossierCompleted,
    DossierDigitized,
    DossierReceived,
    DossierResultIssued,
    DossierSynced,
    PaymentSucceeded,
    decode_event,
    encode_event,
)

INDICATORS = (
    "online_filing",
    "online_payment",
    "digitization",
    "data_reuse",
    "portal_sync",
    "e_result",
)
ONLINE_METHODS = frozenset({"online_national", "online_provincial"})
MAX_AHEAD = timedelta(days=1)
VIETNAM = timezone(timedelta(hours=7))

TOMBSTONE = "tombstone"
UNKNOWN_UNIT = "unknown_unit"
UNKNOWN_PROCEDURE = "unknown_procedure"
FAR_FUTURE = "far_future"
TOO_LATE = "too_late"

HourKey = tuple[str, str, str]
"""(unit_code, indicator, bucket_start as RFC 3339 with +07:00)."""
SemanticCheck = Callable[[AnyEvent], DecodeError | None]
"""Shared meaning checks after decoding (unit, procedure, values): the rejection, or None."""
Line = bytes | str | None
Record = Line | tuple[Line, int | None]


@dataclass(frozen=True)
class OracleResult:
    """Hourly (numerator, denominator) per (unit, indicator, bucket) and rejections by kind."""

    hourly: dict[HourKey, tuple[int, int]]
    rejected: Counter[str] = field(default_factory=Counter)

    def rows(self) -> list[dict[str, object]]:
        """The hourly counts as dicts, sorted by (unit_code, indicator, bucket_start).

        The shape is the one ``chiso766 rates --granularity hour --json`` prints per line.
        """
        return [
            {
                "unit_code": unit_code,
                "indicator": indicator,
                "bucket_start": bucket_start,
                "numerator": numerator,
                "denominator": denominator,
            }
            for (unit_code, indicator, bucket_start), (numerator, denominator) in sorted(
                self.hourly.items()
            )
        ]


def recompute(
    records: Iterable[Record],
    *,
    units: Set[str] | None,
    result_is_document: Mapping[str, bool],
    record_ms: int | None = None,
    late_horizon_days: int = 400,
    semantic_check: SemanticCheck | None = None,
) -> OracleResult:
    """Recompute the hourly indicator counts of a raw event log (rules in the module docstring).

    ``semantic_check`` (optional) is the shared meaning validation that the pipeline applies
    after decoding (e.g. ``pipeline.validation.meaning_problem`` bound to the reference); it
    returns the rejection's DecodeError or None, and replaces the built-in unit/procedure
    checks. The time checks are always the oracle's own.

    ``units`` is the set of known unit codes (``None``: do not check units);
    ``result_is_document`` maps every known procedure code to whether its result is a document;
    ``record_ms`` is the record timestamp (epoch ms, or None) of records given as bare messages.
    Never raises for bad input: it is counted in ``rejected``.
    """
    events, rejected = accepted_events(
        records,
        units=units,
        known_procedures=result_is_document.keys(),
        record_ms=record_ms,
        late_horizon_days=late_horizon_days,
        semantic_check=semantic_check,
    )
    by_dossier: dict[str, list[AnyEvent]] = defaultdict(list)
    for event in events:
        by_dossier[event.dossier_id].append(event)

    sums: dict[HourKey, list[int]] = defaultdict(lambda: [0, 0])
    for dossier_events in by_dossier.values():
        for unit_code, indicator, anchor_ms, in_numerator in dossier_counts(
            dossier_events, result_is_document
        ):
            counts = sums[(unit_code, indicator, bucket_start_of(anchor_ms))]
            counts[0] += int(in_numerator)
            counts[1] += 1
    hourly = {key: (num, den) for key, (num, den) in sums.items() if den > 0}
    return OracleResult(hourly=hourly, rejected=rejected)


def accepted_events(
    records: Iterable[Record],
    *,
    units: Set[str] | None,
    known_procedures: Set[str],
    record_ms: int | None = None,
    late_horizon_days: int = 400,
    semantic_check: SemanticCheck | None = None,
) -> tuple[list[AnyEvent], Counter[str]]:
    """The distinct accepted events (one per event_id) and the rejection counts by kind."""
    rejected: Counter[str] = Counter()
    by_id: dict[str, AnyEvent] = {}
    for record in records:
        verdict = rejection_of(
            record,
            units=units,
            known_procedures=known_procedures,
            record_ms=record_ms,
            late_horizon_days=late_horizon_days,
            semantic_check=semantic_check,
        )
        if isinstance(verdict, str):
            rejected[verdict] += 1
        else:
            _keep_one_per_id(by_id, verdict)
    return list(by_id.values()), rejected


def rejection_of(
    record: Record,
    *,
    units: Set[str] | None,
    known_procedures: Set[str],
    record_ms: int | None = None,
    late_horizon_days: int = 400,
    semantic_check: SemanticCheck | None = None,
) -> AnyEvent | str:
    """The accepted event of one record, or the kind of its rejection."""
    line, timestamp_ms = record if isinstance(record, tuple) else (record, record_ms)
    if line is None:
        return TOMBSTONE
    try:
        event = decode_event(line)
    except DecodeError as exc:
        return exc.kind
    if timestamp_ms is not None:
        recorded = datetime.fromtimestamp(0, UTC) + timedelta(milliseconds=timestamp_ms)
        occurred = event.occurred_at.replace(
            microsecond=event.occurred_at.microsecond // 1000 * 1000
        )
        if recorded - occurred > timedelta(days=late_horizon_days):
            return TOO_LATE
        if occurred - recorded > MAX_AHEAD:
            return FAR_FUTURE
    if semantic_check is not None:
        problem = semantic_check(event)
        return event if problem is None else problem.kind
    if units is not None and event.unit_code not in units:
        return UNKNOWN_UNIT
    if event.procedure_code not in known_procedures:
        return UNKNOWN_PROCEDURE
    return event


def _keep_one_per_id(by_id: dict[str, AnyEvent], event: AnyEvent) -> None:
    kept = by_id.get(event.event_id)
    if kept is None or encode_event(event) < encode_event(kept):
        by_id[event.event_id] = event


def dossier_counts(
    events: list[AnyEvent], result_is_document: Mapping[str, bool]
) -> list[tuple[str, str, int, bool]]:
    """What one dossier contributes: (unit_code, indicator, anchor_ms, in_numerator) per
    denominator it belongs to. Empty when the dossier has no received event."""
    received = [e for e in events if isinstance(e, DossierReceived)]
    if not received:
        return []
    winner = min(received, key=lambda e: (e.ts_ms, e.event_id))
    unit = winner.unit_code
    received_ms = winner.ts_ms

    digitized = [e for e in events if isinstance(e, DossierDigitized)]
    is_paid_online = any(
        isinstance(e, PaymentSucceeded) and e.method in ONLINE_METHODS for e in events
    )
    counts = [
        (unit, "online_filing", received_ms, winner.channel == "online"),
        (unit, "digitization", received_ms, any(e.components >= 1 for e in digitized)),
        (unit, "data_reuse", received_ms, any(e.reused_components >= 1 for e in digitized)),
        (unit, "portal_sync", received_ms, any(isinstance(e, DossierSynced) for e in events)),
    ]
    if winner.fee_amount > 0:
        counts.append((unit, "online_payment", received_ms, is_paid_online))

    completions = [e for e in events if isinstance(e, DossierCompleted)]
    if completions:
        completion = min(completions, key=lambda e: (e.ts_ms, e.event_id))
        if completion.outcome != "withdrawn" and result_is_document[winner.procedure_code]:
            has_e_result = any(isinstance(e, DossierResultIssued) and e.electronic for e in events)
            counts.append((unit, "e_result", completion.ts_ms, has_e_result))
    return counts


def bucket_start_of(ts_ms: int) -> str:
    """The start of the Asia/Ho_Chi_Minh hour containing ``ts_ms``, as RFC 3339 with +07:00."""
    moment = datetime.fromtimestamp(0, UTC) + timedelta(milliseconds=ts_ms)
    local = moment.astimezone(VIETNAM)
    return local.replace(minute=0, second=0, microsecond=0).isoformat()
