"""Unit tests of the oracle itself: small hand-written event logs, each a short story."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.oracle import OracleResult, recompute

UNITS = {"H44.07", "H44.08"}
RESULT_IS_DOCUMENT = {"P-DOC": True, "P-NODOC": False}
NOW = "2024-06-10T00:00:00+07:00"

DEFAULT_FIELDS: dict[str, dict[str, object]] = {
    "dossier.received": {
        "channel": "direct",
        "due_at": "2024-06-20T17:00:00+07:00",
        "fee_amount": 0,
        "applicant_type": "citizen",
    },
    "dossier.digitized": {"components": 0, "reused_components": 0, "from_data_store": False},
    "dossier.synced": {},
    "dossier.supplement_requested": {"reason": "thiếu giấy tờ"},
    "dossier.completed": {"outcome": "approved"},
    "dossier.result_issued": {"electronic": False, "digitized": False},
    "dossier.rated": {"satisfied": True},
    "payment.succeeded": {"amount": 50_000, "method": "cash"},
    "payment.failed": {"amount": 50_000, "method": "cash"},
    "feedback.received": {"feedback_id": "F1", "due_at": "2024-06-20T17:00:00+07:00"},
    "feedback.resolved": {"feedback_id": "F1"},
    "feedback.rated": {"feedback_id": "F1", "satisfied": True},
}


def event(
    type_: str,
    event_id: str,
    occurred_at: str,
    *,
    dossier: str = "D1",
    unit: str = "H44.07",
    procedure: str = "P-DOC",
    **fields: object,
) -> bytes:
    """One event as a JSON line with every field contract v1 requires for its type."""
    body: dict[str, object] = {
        "event_id": event_id,
        "type": type_,
        "schema": 1,
        "occurred_at": occurred_at,
        "unit_code": unit,
        "dossier_id": dossier,
        "procedure_code": procedure,
    }
    body.update(DEFAULT_FIELDS[type_])
    body.update(fields)
    return json.dumps(body, ensure_ascii=False).encode()


def without(line: bytes, field: str) -> bytes:
    body = json.loads(line)
    del body[field]
    return json.dumps(body).encode()


def ms(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339).timestamp() * 1000)


def run(
    lines: Sequence[bytes | str | None], *, now: str = NOW, units: set[str] | None = UNITS
) -> OracleResult:
    return recompute(lines, units=units, result_is_document=RESULT_IS_DOCUMENT, record_ms=ms(now))


def received_only(
    unit: str,
    bucket: str,
    *,
    den: int = 1,
    online_filing: int = 0,
    digitization: int = 0,
    data_reuse: int = 0,
    portal_sync: int = 0,
) -> dict[tuple[str, str, str], tuple[int, int]]:
    """The four received-anchored indicators every received dossier contributes to."""
    return {
        (unit, "online_filing", bucket): (online_filing, den),
        (unit, "digitization", bucket): (digitization, den),
        (unit, "data_reuse", bucket): (data_reuse, den),
        (unit, "portal_sync", bucket): (portal_sync, den),
    }


H08 = "2024-06-03T08:00:00+07:00"
H09 = "2024-06-03T09:00:00+07:00"

STORIES = [
    pytest.param(
        [event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", channel="online")],
        received_only("H44.07", H08, online_filing=1),
        id="online reception at 08:15 counts in the 08:00 bucket",
    ),
    pytest.param(
        [event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", channel="postal")],
        received_only("H44.07", H08),
        id="postal reception is not online filing",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:59:59.999+07:00", dossier="D1"),
            event("dossier.received", "e2", "2024-06-03T09:00:00+07:00", dossier="D2"),
        ],
        {**received_only("H44.07", H08), **received_only("H44.07", H09)},
        id="the last millisecond of an hour and the first of the next",
    ),
    pytest.param(
        [event("dossier.received", "e1", "2024-06-02T17:30:00Z")],
        received_only("H44.07", "2024-06-03T00:00:00+07:00"),
        id="a UTC timestamp is bucketed by the Vietnam hour, across midnight",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:10:00+07:00", dossier="D1"),
            event("dossier.received", "e2", "2024-06-03T08:40:00+07:00", dossier="D2"),
            event("dossier.received", "e3", "2024-06-03T08:50:00+07:00", dossier="D3"),
            event("dossier.synced", "e4", "2024-06-03T11:00:00+07:00", dossier="D2"),
            event(
                "dossier.received", "e5", "2024-06-03T08:20:00+07:00", dossier="D4", unit="H44.08"
            ),
        ],
        {**received_only("H44.07", H08, den=3, portal_sync=1), **received_only("H44.08", H08)},
        id="dossiers of one unit and hour add up; another unit is its own row",
    ),
    pytest.param(
        [
            event("payment.succeeded", "e1", "2024-06-03T07:50:00+07:00", method="online_national"),
            event("dossier.received", "e2", "2024-06-03T08:10:00+07:00", fee_amount=50_000),
        ],
        {**received_only("H44.07", H08), ("H44.07", "online_payment", H08): (1, 1)},
        id="payment arrives before reception",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:10:00+07:00", fee_amount=50_000),
            event(
                "payment.succeeded", "e2", "2024-06-05T10:00:00+07:00", method="online_provincial"
            ),
        ],
        {**received_only("H44.07", H08), ("H44.07", "online_payment", H08): (1, 1)},
        id="payment days later still counts in the reception hour",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:10:00+07:00", fee_amount=50_000),
            event("payment.succeeded", "e2", "2024-06-03T08:20:00+07:00", method="cash"),
            event("payment.succeeded", "e3", "2024-06-03T08:21:00+07:00", method="bank_counter"),
            event("payment.failed", "e4", "2024-06-03T08:22:00+07:00", method="online_national"),
        ],
        {**received_only("H44.07", H08), ("H44.07", "online_payment", H08): (0, 1)},
        id="cash, bank counter and a failed online payment are not online payment",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:10:00+07:00", fee_amount=0),
            event("payment.succeeded", "e2", "2024-06-03T08:20:00+07:00", method="online_national"),
        ],
        received_only("H44.07", H08),
        id="fee 0 is not in the online payment denominator",
    ),
    pytest.param(
        [
            event("payment.succeeded", "e1", "2024-06-03T08:20:00+07:00", method="online_national"),
            event("dossier.digitized", "e2", "2024-06-03T08:21:00+07:00", components=2),
            event("dossier.synced", "e3", "2024-06-03T08:22:00+07:00"),
            event("dossier.completed", "e4", "2024-06-03T09:00:00+07:00"),
            event("dossier.result_issued", "e5", "2024-06-03T09:01:00+07:00", electronic=True),
        ],
        {},
        id="a dossier never received counts nowhere",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:10:00+07:00", channel="online"),
            event("dossier.received", "e1", "2024-06-03T08:10:00+07:00", channel="online"),
            event("dossier.synced", "e2", "2024-06-03T08:30:00+07:00"),
            event("dossier.synced", "e2", "2024-06-03T08:30:00+07:00"),
        ],
        received_only("H44.07", H08, online_filing=1, portal_sync=1),
        id="duplicate event id counts once",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:10:00+07:00", channel="online"),
            event("dossier.received", "e9", "2024-06-03T09:30:00+07:00", channel="online"),
            event("dossier.synced", "e2", "2024-06-03T08:30:00+07:00"),
            event("dossier.synced", "e3", "2024-06-03T08:31:00+07:00"),
            event("dossier.digitized", "e4", "2024-06-03T08:32:00+07:00", components=3),
            event("dossier.digitized", "e5", "2024-06-03T08:33:00+07:00", components=3),
        ],
        received_only("H44.07", H08, online_filing=1, portal_sync=1, digitization=1),
        id="same facts re-sent under new ids count once",
    ),
    pytest.param(
        [
            event("dossier.received", "e7", "2024-06-03T09:10:00+07:00", unit="H44.08"),
            event("dossier.received", "e8", "2024-06-03T08:30:00+07:00", channel="online"),
        ],
        received_only("H44.07", H08, online_filing=1),
        id="two received events: the earlier one wins unit, channel and hour",
    ),
    pytest.param(
        [
            event("dossier.received", "e-b", "2024-06-03T08:30:00+07:00", channel="online"),
            event("dossier.received", "e-a", "2024-06-03T08:30:00+07:00", unit="H44.08"),
        ],
        received_only("H44.08", H08),
        id="two received events at the same time: the smaller event id wins",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:30:00.000+07:00", unit="H44.08"),
            event("dossier.received", "e0", "2024-06-03T08:30:00.0004+07:00"),
        ],
        received_only("H44.07", H08),
        id="times compare in whole milliseconds, then by event id",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:10:00+07:00", fee_amount=0),
            event("dossier.received", "e2", "2024-06-03T08:20:00+07:00", fee_amount=90_000),
            event("payment.succeeded", "e3", "2024-06-03T08:40:00+07:00", method="online_national"),
        ],
        received_only("H44.07", H08),
        id="the fee comes from the winning reception only",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:10:00+07:00"),
            event("dossier.digitized", "e2", "2024-06-03T08:11:00+07:00", components=0),
            event("dossier.digitized", "e3", "2024-06-03T08:12:00+07:00", reused_components=0),
        ],
        received_only("H44.07", H08),
        id="digitized events with zero components count for neither",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:10:00+07:00"),
            event("dossier.digitized", "e2", "2024-06-03T08:11:00+07:00", components=4),
            event("dossier.digitized", "e3", "2024-06-03T10:12:00+07:00", reused_components=1),
        ],
        received_only("H44.07", H08, digitization=1, data_reuse=1),
        id="digitization and reuse may come from different digitized events",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:10:00+07:00", dossier="D1"),
            event(
                "dossier.digitized",
                "e2",
                "2024-06-03T08:11:00+07:00",
                dossier="D1",
                components=2,
                reused_components=2,
            ),
            event("dossier.received", "e3", "2024-06-03T08:20:00+07:00", dossier="D2"),
            event(
                "dossier.digitized", "e4", "2024-06-03T08:21:00+07:00", dossier="D2", components=5
            ),
        ],
        received_only("H44.07", H08, den=2, digitization=2, data_reuse=1),
        id="reuse needs a reused component, digitization any component",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00"),
            event("dossier.completed", "e2", "2024-06-04T14:20:00+07:00"),
            event("dossier.result_issued", "e3", "2024-06-04T14:25:00+07:00", electronic=True),
        ],
        {
            **received_only("H44.07", H08),
            ("H44.07", "e_result", "2024-06-04T14:00:00+07:00"): (1, 1),
        },
        id="completion in another hour than reception anchors e_result",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00"),
            event("dossier.completed", "e2", "2024-06-03T09:20:00+07:00"),
            event("dossier.result_issued", "e3", "2024-06-03T09:25:00+07:00", electronic=False),
        ],
        {**received_only("H44.07", H08), ("H44.07", "e_result", H09): (0, 1)},
        id="paper result is in the denominator, not the numerator",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00"),
            event("dossier.completed", "e2", "2024-06-03T09:20:00+07:00", outcome="rejected"),
        ],
        {**received_only("H44.07", H08), ("H44.07", "e_result", H09): (0, 1)},
        id="rejected completion without a result is in the denominator",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00"),
            event("dossier.result_issued", "e2", "2024-06-03T09:00:00+07:00", electronic=True),
            event("dossier.completed", "e3", "2024-06-03T09:20:00+07:00"),
        ],
        {**received_only("H44.07", H08), ("H44.07", "e_result", H09): (1, 1)},
        id="result issued before the completion event still counts",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00"),
            event("dossier.result_issued", "e2", "2024-06-03T09:00:00+07:00", electronic=True),
        ],
        received_only("H44.07", H08),
        id="no completion, no e_result row",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00"),
            event("dossier.completed", "e2", "2024-06-03T09:20:00+07:00", outcome="withdrawn"),
            event("dossier.result_issued", "e3", "2024-06-03T09:25:00+07:00", electronic=True),
        ],
        received_only("H44.07", H08),
        id="withdrawn completion is not in e_result",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00"),
            event("dossier.completed", "e2", "2024-06-03T09:20:00+07:00", outcome="withdrawn"),
            event("dossier.completed", "e3", "2024-06-03T10:20:00+07:00", outcome="approved"),
            event("dossier.result_issued", "e4", "2024-06-03T10:25:00+07:00", electronic=True),
        ],
        received_only("H44.07", H08),
        id="the first completion decides: withdrawn, then approved later",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00"),
            event("dossier.completed", "e3", "2024-06-03T10:20:00+07:00", outcome="withdrawn"),
            event("dossier.completed", "e2", "2024-06-03T09:20:00+07:00", outcome="approved"),
            event("dossier.result_issued", "e4", "2024-06-03T10:25:00+07:00", electronic=True),
        ],
        {**received_only("H44.07", H08), ("H44.07", "e_result", H09): (1, 1)},
        id="the first completion decides: approved, then withdrawn later",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00"),
            event("dossier.completed", "c-b", "2024-06-03T09:20:00+07:00", outcome="withdrawn"),
            event("dossier.completed", "c-a", "2024-06-03T09:20:00+07:00", outcome="approved"),
        ],
        {**received_only("H44.07", H08), ("H44.07", "e_result", H09): (0, 1)},
        id="two completions at the same time: the smaller event id wins",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", procedure="P-NODOC"),
            event("dossier.completed", "e2", "2024-06-03T09:20:00+07:00", procedure="P-NODOC"),
            event("dossier.result_issued", "e3", "2024-06-03T09:25:00+07:00", electronic=True),
        ],
        received_only("H44.07", H08),
        id="non-document procedure is not in e_result",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", procedure="P-NODOC"),
            event("dossier.received", "e2", "2024-06-03T08:16:00+07:00", procedure="P-DOC"),
            event("dossier.completed", "e3", "2024-06-03T09:20:00+07:00", procedure="P-DOC"),
        ],
        received_only("H44.07", H08),
        id="the winning reception's procedure decides whether the result is a document",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", unit="H44.08"),
            event("dossier.completed", "e2", "2024-06-03T09:20:00+07:00", unit="H44.07"),
            event("dossier.result_issued", "e3", "2024-06-03T09:25:00+07:00", electronic=True),
        ],
        {**received_only("H44.08", H08), ("H44.08", "e_result", H09): (1, 1)},
        id="e_result counts in the reception's unit, whatever the completion names",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", fee_amount=20_000),
            event("dossier.supplement_requested", "e2", "2024-06-03T08:30:00+07:00"),
            event("dossier.rated", "e3", "2024-06-03T08:31:00+07:00", satisfied=False),
            event("feedback.received", "e4", "2024-06-03T08:32:00+07:00"),
            event("feedback.resolved", "e5", "2024-06-03T08:33:00+07:00"),
            event("feedback.rated", "e6", "2024-06-03T08:34:00+07:00"),
            event("payment.failed", "e7", "2024-06-03T08:35:00+07:00", method="online_national"),
        ],
        {**received_only("H44.07", H08), ("H44.07", "online_payment", H08): (0, 1)},
        id="supplements, ratings, feedback and failed payments change none of the six",
    ),
    pytest.param(
        [
            event(
                "dossier.received",
                "e1",
                "2024-06-03T08:15:00+07:00",
                unit="H99.99",
                channel="online",
            ),
            event("dossier.received", "e2", "2024-06-03T08:16:00+07:00", procedure="P-UNKNOWN"),
            event("dossier.received", "e3", "2024-06-20T08:16:00+07:00", dossier="D2"),
            b"{not json",
        ],
        {},
        id="rejected events count nowhere",
    ),
    pytest.param(
        [
            event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", fee_amount=20_000),
            event(
                "payment.succeeded",
                "e2",
                "2024-06-03T08:20:00+07:00",
                unit="H99.99",
                method="online_national",
            ),
            event("dossier.synced", "e3", "2024-06-03T08:21:00+07:00", procedure="P-UNKNOWN"),
        ],
        {**received_only("H44.07", H08), ("H44.07", "online_payment", H08): (0, 1)},
        id="a rejected follow-up event does not count for a known dossier",
    ),
]


@pytest.mark.parametrize(("lines", "expected"), STORIES)
def test_story(lines: list[bytes], expected: dict[tuple[str, str, str], tuple[int, int]]) -> None:
    assert run(lines).hourly == expected


REJECTIONS = [
    pytest.param(b"{not json", "not_json", id="not JSON"),
    pytest.param(b"", "not_json", id="empty line"),
    pytest.param(b"\xff\xfe", "not_json", id="not UTF-8"),
    pytest.param(b"[1, 2]", "not_object", id="a JSON array"),
    pytest.param(
        event("dossier.synced", "e1", "2024-06-03T08:15:00+07:00").replace(
            b'"dossier.synced"', b'"dossier.teleported"'
        ),
        "unknown_type",
        id="unknown type",
    ),
    pytest.param(
        without(event("dossier.received", "e1", "2024-06-03T08:15:00+07:00"), "fee_amount"),
        "missing_field",
        id="missing fee_amount",
    ),
    pytest.param(
        event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", fee_amount="0"),
        "wrong_type",
        id="fee_amount as a string",
    ),
    pytest.param(
        event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", fee_amount=-1),
        "impossible_value",
        id="negative fee",
    ),
    pytest.param(
        event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", unit="H99.99"),
        "unknown_unit",
        id="unknown unit",
    ),
    pytest.param(
        event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", procedure="P-UNKNOWN"),
        "unknown_procedure",
        id="unknown procedure",
    ),
    pytest.param(
        event("dossier.received", "e1", "2024-06-11T00:00:00.001+07:00"),
        "far_future",
        id="one millisecond more than a day after the record timestamp",
    ),
    pytest.param(
        event("dossier.received", "e1", "2024-06-11T08:00:00+07:00", unit="H99.99"),
        "far_future",
        id="a future timestamp is reported before an unknown unit",
    ),
    pytest.param(
        event("dossier.received", "e1", "2023-05-06T23:59:59.999+07:00"),
        "too_late",
        id="one millisecond more than 400 days before the record timestamp",
    ),
    pytest.param(None, "tombstone", id="a tombstone"),
]


@pytest.mark.parametrize(("line", "kind"), REJECTIONS)
def test_bad_line_is_rejected_by_kind(line: bytes | None, kind: str) -> None:
    result = run([line])
    assert result.rejected == {kind: 1}
    assert result.hourly == {}


def test_rejections_are_counted_per_line_including_repeats() -> None:
    lines = [
        b"{not json",
        b"{not json",
        event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", unit="H99.99"),
        event("dossier.received", "e2", "2024-06-03T08:15:00+07:00"),
    ]
    result = run(lines)
    assert result.rejected == {"not_json": 2, "unknown_unit": 1}
    assert result.hourly == received_only("H44.07", H08)


def test_exactly_one_day_after_now_is_accepted() -> None:
    lines = [event("dossier.received", "e1", "2024-06-11T00:00:00+07:00")]
    result = run(lines)
    assert result.rejected == {}
    assert result.hourly == received_only("H44.07", "2024-06-11T00:00:00+07:00")


def test_exactly_the_horizon_before_the_record_timestamp_is_accepted() -> None:
    lines = [event("dossier.received", "e1", "2023-05-07T00:00:00+07:00")]
    assert run(lines).rejected == {}
    assert recompute(
        lines, units=UNITS, result_is_document=RESULT_IS_DOCUMENT, record_ms=ms(NOW),
        late_horizon_days=399,
    ).rejected == {"too_late": 1}  # fmt: skip


def test_verdicts_use_each_records_own_timestamp_and_none_means_no_time_bound() -> None:
    line = event("dossier.received", "e1", "2022-01-01T08:00:00+07:00")
    future = event("dossier.received", "e2", "2090-01-01T08:00:00+07:00", dossier="D2")
    records = [
        (line, ms("2022-01-01T09:00:00+07:00")),  # loaded as history: counts
        (line, ms("2024-06-10T00:00:00+07:00")),  # the same bytes sent live today: too late
        (future, None),  # no record timestamp: only the contract's fixed range applies
    ]
    result = recompute(records, units=UNITS, result_is_document=RESULT_IS_DOCUMENT)
    assert result.rejected == {"too_late": 1}
    assert sum(den for (_, i, _), (_, den) in result.hourly.items() if i == "online_filing") == 2


def test_without_a_unit_list_any_unit_is_accepted() -> None:
    lines = [event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", unit="H99.99")]
    result = run(lines, units=None)
    assert result.rejected == {}
    assert result.hourly == received_only("H99.99", H08)


def test_an_empty_unit_list_knows_no_unit() -> None:
    lines = [event("dossier.received", "e1", "2024-06-03T08:15:00+07:00")]
    result = run(lines, units=set())
    assert result.rejected == {"unknown_unit": 1}
    assert result.hourly == {}


def test_str_lines_are_accepted_like_bytes() -> None:
    line = event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", channel="online")
    assert run([line.decode()]).hourly == run([line]).hourly


def test_same_id_with_conflicting_content_is_resolved_independently_of_order() -> None:
    online = event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", channel="online")
    direct = event("dossier.received", "e1", "2024-06-03T08:15:00+07:00", channel="direct")
    first = run([online, direct]).hourly
    assert first == run([direct, online]).hourly
    assert sum(den for _, den in first.values()) == 4


def test_rows_are_sorted_dicts_in_the_cli_shape() -> None:
    lines = [
        event("dossier.received", "e1", "2024-06-03T09:15:00+07:00", unit="H44.08"),
        event(
            "dossier.received",
            "e2",
            "2024-06-03T08:15:00+07:00",
            dossier="D2",
            channel="online",
            fee_amount=10_000,
        ),
        event("dossier.received", "e3", "2024-06-03T09:45:00+07:00", dossier="D3"),
    ]
    rows = run(lines).rows()
    assert rows[:6] == [
        {
            "unit_code": "H44.07",
            "indicator": "data_reuse",
            "bucket_start": H08,
            "numerator": 0,
            "denominator": 1,
        },
        {
            "unit_code": "H44.07",
            "indicator": "data_reuse",
            "bucket_start": H09,
            "numerator": 0,
            "denominator": 1,
        },
        {
            "unit_code": "H44.07",
            "indicator": "digitization",
            "bucket_start": H08,
            "numerator": 0,
            "denominator": 1,
        },
        {
            "unit_code": "H44.07",
            "indicator": "digitization",
            "bucket_start": H09,
            "numerator": 0,
            "denominator": 1,
        },
        {
            "unit_code": "H44.07",
            "indicator": "online_filing",
            "bucket_start": H08,
            "numerator": 1,
            "denominator": 1,
        },
        {
            "unit_code": "H44.07",
            "indicator": "online_filing",
            "bucket_start": H09,
            "numerator": 0,
            "denominator": 1,
        },
    ]
    assert len(rows) == 4 + 4 + 1 + 4
    assert rows[-1] == {
        "unit_code": "H44.08",
        "indicator": "portal_sync",
        "bucket_start": H09,
        "numerator": 0,
        "denominator": 1,
    }
    assert json.loads(json.dumps(rows)) == rows


# Property tier: random small logs over a few dossiers, units and hours.

TYPE_FIELDS: dict[str, st.SearchStrategy[dict[str, object]]] = {
    "dossier.received": st.fixed_dictionaries(
        {
            "channel": st.sampled_from(["direct", "online", "postal"]),
            "fee_amount": st.sampled_from([0, 15_000]),
        }
    ),
    "dossier.digitized": st.fixed_dictionaries(
        {"components": st.integers(0, 2), "reused_components": st.integers(0, 2)}
    ),
    "dossier.synced": st.just({}),
    "dossier.completed": st.fixed_dictionaries(
        {"outcome": st.sampled_from(["approved", "rejected", "withdrawn"])}
    ),
    "dossier.result_issued": st.fixed_dictionaries({"electronic": st.booleans()}),
    "payment.succeeded": st.fixed_dictionaries(
        {"method": st.sampled_from(["online_national", "online_provincial", "cash"])}
    ),
    "payment.failed": st.fixed_dictionaries({"method": st.just("online_national")}),
    "dossier.rated": st.just({}),
}


@st.composite
def event_logs(draw: st.DrawFn) -> list[bytes]:
    """A log of distinct events (unique ids) over 3 dossiers and 3 hours, plus some bad lines."""
    count = draw(st.integers(1, 14))
    lines = []
    for index in range(count):
        type_ = draw(st.sampled_from(sorted(TYPE_FIELDS)))
        minute = draw(st.integers(0, 179))
        lines.append(
            event(
                type_,
                f"e{draw(st.integers(0, 3))}-{index}",
                f"2024-06-03T{8 + minute // 60:02d}:{minute % 60:02d}:00+07:00",
                dossier=draw(st.sampled_from(["D1", "D2", "D3"])),
                unit=draw(st.sampled_from(["H44.07", "H44.08", "H99.99"])),
                procedure=draw(st.sampled_from(["P-DOC", "P-NODOC"])),
                **draw(TYPE_FIELDS[type_]),
            )
        )
    lines += draw(st.lists(st.sampled_from([b"", b"{", b"[]"]), max_size=2))
    return lines


@settings(max_examples=200, deadline=None)
@given(lines=event_logs(), data=st.data())
def test_order_and_duplicates_do_not_matter(lines: list[bytes], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(lines))
    duplicated = data.draw(st.lists(st.sampled_from(lines), max_size=5))
    expected = run(lines).hourly
    assert run(shuffled + duplicated).hourly == expected
    assert run(duplicated + shuffled).hourly == expected


@settings(max_examples=200, deadline=None)
@given(lines=event_logs(), data=st.data())
def test_a_fact_re_sent_under_a_new_id_changes_nothing(
    lines: list[bytes], data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(lines))
    try:
        body = json.loads(original)
    except json.JSONDecodeError:
        return
    if not isinstance(body, dict):
        return
    # Same time, an id that sorts after the original: it can never win a "smallest" contest.
    body["event_id"] += "~resent"
    resent = json.dumps(body, ensure_ascii=False).encode()
    assert run([*lines, resent]).hourly == run(lines).hourly


@settings(max_examples=200, deadline=None)
@given(lines=event_logs())
def test_counts_are_bounded_by_received_dossiers(lines: list[bytes]) -> None:
    result = run(lines)
    received_dossiers = {
        (body["dossier_id"])
        for body in (json.loads(line) for line in lines if line.startswith(b'{"'))
        if body["type"] == "dossier.received" and body["unit_code"] in UNITS
    }
    for (_, indicator, _), (numerator, denominator) in result.hourly.items():
        assert 0 <= numerator <= denominator
        assert indicator in {
            "online_filing",
            "online_payment",
            "digitization",
            "data_reuse",
            "portal_sync",
            "e_result",
        }
    filed = sum(den for (_, ind, _), (_, den) in result.hourly.items() if ind == "online_filing")
    assert filed == len(received_dossiers)
