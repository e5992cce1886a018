"""The oracle: a plain batch recomputation of the hourly indicator counts from a raw event log.

It is written from the rules below, independently of the stream code, so that tests can demand
that the streaming pipeline's stored hourly counts equal these exactly (DESIGN.md §6).

Input: an iterable of messages (bytes or str), one JSON event each, in any order, possibly with
bad lines, duplicates and re-sent facts.

Acceptance. A message is accepted when, checked in this order:

1. it decodes as a v1 event (``pipeline.events.decode_event``); otherwise it is rejected with the
   decoder's kind (``not_json``, ``not_object``, ``unknown_type``, ``missing_field``,
   ``wrong_type``, ``impossible_value``);
2. its ``unit_code`` is a known unit (skipped when ``units`` is ``None``); else ``unknown_unit``;
3. its ``procedure_code`` is a key of ``result_is_document``; else ``unknown_procedure``;
4. its ``occurred_at`` is at most one day after ``now_ms`` (exactly one day is still accepted);
   else ``future_timestamp``.

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
MAX_FUTURE_MS = 86_400_000
VIETNAM = timezone(timedelta(hours=7))

UNKNOWN_UNIT = "unknown_unit"
UNKNOWN_PROCEDURE = "unknown_procedure"
FUTURE_TIMESTAMP = "future_timestamp"

HourKey = tuple[str, str, str]
"""(unit_code, indicator, bucket_start as RFC 3339 with +07:00)."""
SemanticCheck = Callable[[AnyEvent, int], DecodeError | None]
"""Shared contract validation after decoding: (event, now_ms) -> the rejection, or None."""


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
    lines: Iterable[bytes | str],
    *,
    units: Set[str] | None,
    result_is_document: Mapping[str, bool],
    now_ms: int,
    semantic_check: SemanticCheck | None = None,
) -> OracleResult:
    """Recompute the hourly indicator counts of a raw event log (rules in the module docstring).

    ``semantic_check`` (optional) is the shared contract validation that the pipeline applies
    after decoding (e.g. ``pipeline.validation.problem_of`` bound to the reference); it returns
    the rejection's DecodeError or None, and replaces the built-in unit/procedure/future checks.

    ``units`` is the set of known unit codes (``None``: do not check units);
    ``result_is_document`` maps every known procedure code to whether its result is a document;
    ``now_ms`` is the reference "now" in epoch milliseconds for the future-timestamp check.
    Never raises for bad input: it is counted in ``rejected``.
    """
    events, rejected = accepted_events(
        lines,
        units=units,
        known_procedures=result_is_document.keys(),
        now_ms=now_ms,
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
    lines: Iterable[bytes | str],
    *,
    units: Set[str] | None,
    known_procedures: Set[str],
    now_ms: int,
    semantic_check: SemanticCheck | None = None,
) -> tuple[list[AnyEvent], Counter[str]]:
    """The distinct accepted events (one per event_id) and the rejection counts by kind."""
    rejected: Counter[str] = Counter()
    by_id: dict[str, AnyEvent] = {}
    for line in lines:
        try:
            event = decode_event(line)
        except DecodeError as exc:
            rejected[exc.kind] += 1
            continue
        if semantic_check is not None:
            problem = semantic_check(event, now_ms)
            if problem is not None:
                rejected[problem.kind] += 1
            else:
                _keep_one_per_id(by_id, event)
            continue
        if units is not None and event.unit_code not in units:
            rejected[UNKNOWN_UNIT] += 1
        elif event.procedure_code not in known_procedures:
            rejected[UNKNOWN_PROCEDURE] += 1
        elif event.ts_ms > now_ms + MAX_FUTURE_MS:
            rejected[FUTURE_TIMESTAMP] += 1
        else:
            _keep_one_per_id(by_id, event)
    return list(by_id.values()), rejected


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
