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
    DossierRated,
    DossierReceived,
    DossierResultIssued,
    DossierSupplementRequested,
    DossierSynced,
    FeedbackRated,
    FeedbackReceived,
    FeedbackResolved,
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


# --- the 766 score's as-of counts ---------------------------------------------------------------
#
# Independent rules for the counts that depend on a moment ``as_of_ms`` (T). Facts with a time
# at or after T are not known yet. Per dossier (grouped by dossier_id, counted in the unit of
# its winning reception, only when that reception is in [start, min(end, T))):
#
# - requests = the distinct times of ``dossier.supplement_requested`` before T;
# - on_time: two or more requests -> no. One request -> the handling ended at the request, or
#   at the completion if the completion (before T) came earlier; on time iff that end <= due_at.
#   No request: completed before T -> completion <= due_at; else due_at >= J, where J (the
#   moment a pending dossier is judged) is T unless a projection asks for the period end;
# - online_dossiers: channel online and (procedure's result is not a document, or some
#   ``dossier.result_issued`` before T is electronic); digitized_with_result: some ``dossier.digitized``
#   has components >= 1 and the same e-result condition; data_store / population_data: some
#   ``dossier.digitized`` has from_data_store / from_population_data true; synced: some
#   ``dossier.synced`` (the flags are "ever", whatever their time);
# - dossier_satisfied: on_time, no ``feedback.received`` before T and no ``dossier.rated`` with
#   satisfied false before T;
# - complaints: the dossier's complaint is its earliest ``feedback.received`` (by time, then
#   due time), counted when that is in [start, min(end, T)); answered = the earliest
#   ``feedback.resolved`` of the dossier; feedback_on_time: answered before T -> answer <=
#   due_at, else due_at >= J; feedback_satisfied: on time and no ``feedback.rated`` with
#   satisfied false before T;
# - procedures seen: per unit, the procedure codes of dossiers received online / with a fee
#   > 0 / with a fee > 0 and an online ``payment.succeeded``.

ASOF_KEYS = (
    "on_time",
    "online_dossiers",
    "digitized_with_result",
    "data_store",
    "population_data",
    "dossier_satisfied",
)


@dataclass
class AsOfCounts:
    """Leaf unit -> key -> [numerator, denominator]; unit -> procedures seen, per kind."""

    counts: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    online: dict[str, set[str]] = field(default_factory=dict)
    with_fee: dict[str, set[str]] = field(default_factory=dict)
    paid_online: dict[str, set[str]] = field(default_factory=dict)

    def add(self, unit: str, key: str, hit: bool) -> None:
        pair = self.counts.setdefault(unit, {}).setdefault(key, [0, 0])
        pair[0] += int(hit)
        pair[1] += 1


def as_of_counts(
    events: Iterable[AnyEvent],
    *,
    start_ms: int,
    end_ms: int,
    as_of_ms: int,
    result_is_document: Mapping[str, bool],
    judge_ms: int | None = None,
) -> AsOfCounts:
    """The as-of counts of accepted, distinct events (rules above)."""
    t = as_of_ms
    judge = t if judge_ms is None else judge_ms
    stop = min(end_ms, t)
    by_dossier: dict[str, list[AnyEvent]] = defaultdict(list)
    for event in events:
        by_dossier[event.dossier_id].append(event)
    out = AsOfCounts()
    for dossier in by_dossier.values():
        receptions = [e for e in dossier if isinstance(e, DossierReceived)]
        if not receptions:
            continue
        first = min(receptions, key=lambda e: (e.ts_ms, e.event_id))
        unit = first.unit_code
        due = _ms(first.due_at)
        is_doc = result_is_document[first.procedure_code]
        has_e_result = any(
            isinstance(e, DossierResultIssued) and e.electronic and e.ts_ms < t for e in dossier
        )
        complaints = [e for e in dossier if isinstance(e, FeedbackReceived)]
        if start_ms <= first.ts_ms < stop:
            requests = sorted(
                {
                    e.ts_ms
                    for e in dossier
                    if isinstance(e, DossierSupplementRequested) and e.ts_ms < t
                }
            )
            completions = [e for e in dossier if isinstance(e, DossierCompleted) and e.ts_ms < t]
            done_ms = min((e.ts_ms, e.event_id) for e in completions)[0] if completions else None
            if len(requests) >= 2:
                on_time = False
            elif len(requests) == 1:
                end = requests[0] if done_ms is None else min(done_ms, requests[0])
                on_time = end <= due
            elif done_ms is not None:
                on_time = done_ms <= due
            else:
                on_time = due >= judge
            digitized = [e for e in dossier if isinstance(e, DossierDigitized)]
            result_ok = not is_doc or has_e_result
            unhappy = any(isinstance(e, DossierRated) and not e.satisfied and e.ts_ms < t
                          for e in dossier)  # fmt: skip
            complained = any(e.ts_ms < t for e in complaints)
            out.add(unit, "on_time", on_time)
            out.add(unit, "online_dossiers", first.channel == "online" and result_ok)
            out.add(unit, "digitized_with_result",
                    any(e.components >= 1 for e in digitized) and result_ok)  # fmt: skip
            out.add(unit, "data_store", any(e.from_data_store for e in digitized))
            out.add(unit, "population_data", any(e.from_population_data for e in digitized))
            out.add(unit, "dossier_satisfied", on_time and not complained and not unhappy)
            code = first.procedure_code
            if first.channel == "online":
                out.online.setdefault(unit, set()).add(code)
            if first.fee_amount > 0:
                out.with_fee.setdefault(unit, set()).add(code)
                if any(isinstance(e, PaymentSucceeded) and e.method in ONLINE_METHODS
                       for e in dossier):  # fmt: skip
                    out.paid_online.setdefault(unit, set()).add(code)
        if complaints:
            complaint = min(complaints, key=lambda e: (e.ts_ms, _ms(e.due_at)))
            if start_ms <= complaint.ts_ms < stop:
                answers = [e.ts_ms for e in dossier if isinstance(e, FeedbackResolved)]
                answered = min(answers) if answers else None
                fb_due = _ms(complaint.due_at)
                if answered is not None and answered < t:
                    fb_on_time = answered <= fb_due
                else:
                    fb_on_time = fb_due >= judge
                fb_unhappy = any(isinstance(e, FeedbackRated) and not e.satisfied and e.ts_ms < t
                                 for e in dossier)  # fmt: skip
                out.add(unit, "feedback_on_time", fb_on_time)
                out.add(unit, "feedback_satisfied", fb_on_time and not fb_unhappy)
    return out


def _ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
