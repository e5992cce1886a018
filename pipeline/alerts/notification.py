"""What an alert says: the JSON sent to the webhook and the alerts topic, in Vietnamese and English."""

from __future__ import annotations

from urllib.parse import quote

from pipeline.alerts.state import Transition
from pipeline.rates import INDICATORS
from pipeline.windows import DAY_MS, HOUR_MS, rfc3339, to_local

DASHBOARD_UID = "chiso766-unit"
SCHEMA = 1


def dashboard_url(grafana_url: str, unit_code: str, at_ms: int) -> str:
    """The unit's Grafana dashboard around the alert: the day before it to an hour after."""
    return (
        f"{grafana_url.rstrip('/')}/d/{DASHBOARD_UID}?var-unit={quote(unit_code)}"
        f"&from={at_ms - DAY_MS}&to={at_ms + HOUR_MS}"
    )


def notification(
    transition: Transition, unit_name: str, namespace: str, grafana_url: str
) -> dict[str, object]:
    """The alert as one JSON object (schema 1, documented in docs/alerts.md)."""
    t = transition
    return {
        "schema": SCHEMA,
        "idempotency_key": t.key,
        "namespace": namespace,
        "rule": t.rule,
        "kind": t.kind,
        "severity": t.severity,
        "state": t.state,
        "unit_code": t.unit_code,
        "unit_name": unit_name,
        "indicator": t.indicator,
        "at": rfc3339(t.at_ms),
        "value": t.value,
        "baseline": t.baseline,
        "denominator": t.denominator,
        "dashboard_url": dashboard_url(grafana_url, t.unit_code, t.at_ms),
        "message_vi": message_vi(t, unit_name),
        "message_en": message_en(t, unit_name),
    }


def message_vi(t: Transition, unit_name: str) -> str:
    when = to_local(t.at_ms).strftime("%H:%M %d/%m/%Y")
    head = "[CẢNH BÁO]" if t.state == "firing" else "[ĐÃ KHÔI PHỤC]"
    if t.kind == "stalled":
        what = f"không nhận được sự kiện nào từ {t.indicator} trong {_number(t.value)} phút giờ hành chính"
        if t.state != "firing":
            what = f"đã nhận lại sự kiện từ {t.indicator}"
        return f"{head} {unit_name}: {what} (lúc {when})."
    if t.kind == "dead_letter_surge":
        return f"{head} {unit_name}: tỷ lệ thông điệp lỗi {_percent(t.value)} trên {t.denominator} thông điệp (lúc {when})."
    label = INDICATORS.get(t.indicator, t.indicator)
    verb = "giảm còn" if t.state == "firing" else "đã trở lại"
    usual = f", mức thường lệ {_percent(t.baseline)}" if t.baseline is not None else ""
    return f"{head} {label} của {unit_name} {verb} {_percent(t.value)} ({t.denominator} hồ sơ{usual}) lúc {when}."


def message_en(t: Transition, unit_name: str) -> str:
    when = to_local(t.at_ms).strftime("%Y-%m-%d %H:%M")
    head = "[FIRING]" if t.state == "firing" else "[RESOLVED]"
    if t.kind == "stalled":
        what = f"no event from {t.indicator} for {_number(t.value)} office minutes"
        if t.state != "firing":
            what = f"events from {t.indicator} are arriving again"
        return f"{head} {unit_name}: {what} (at {when})."
    if t.kind == "dead_letter_surge":
        return f"{head} {unit_name}: {_percent(t.value)} of {t.denominator} messages were dead letters (at {when})."
    label = t.indicator.replace("_", " ").capitalize() + " rate"
    verb = "fell to" if t.state == "firing" else "is back at"
    usual = f", usually {_percent(t.baseline)}" if t.baseline is not None else ""
    return f"{head} {label} at {unit_name} {verb} {_percent(t.value)} ({t.denominator} dossiers{usual}) at {when}."


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"
