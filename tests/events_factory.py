"""Small builders of v1 event JSON lines for tests (one dict per event, encoded to bytes)."""

from __future__ import annotations

import json
from typing import Any

UNIT = "H70.07"
DOC_PROCEDURE = "1.000002"  # result is a document in the demo province reference


def event(
    event_type: str, event_id: str, dossier_id: str, at: str, **fields: Any
) -> dict[str, Any]:
    base = {
        "type": event_type,
        "event_id": event_id,
        "schema": 1,
        "occurred_at": at,
        "unit_code": fields.pop("unit_code", UNIT),
        "dossier_id": dossier_id,
        "procedure_code": fields.pop("procedure_code", DOC_PROCEDURE),
    }
    base.update(fields)
    return base


def received(
    event_id: str, dossier_id: str, at: str, channel: str = "online", fee: int = 0, **kw: Any
) -> dict[str, Any]:
    return event("dossier.received", event_id, dossier_id, at, channel=channel,
                 due_at=kw.pop("due_at", "2030-01-01T00:00:00+07:00"), fee_amount=fee,
                 applicant_type="citizen", **kw)  # fmt: skip


def line(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()
