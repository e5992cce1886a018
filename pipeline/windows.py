"""Hour buckets and rolling windows in Vietnam time (UTC+7, no daylight saving), in epoch ms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
VN_OFFSET_MS = 7 * HOUR_MS
VN = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")

WINDOWS: dict[str, str] = {
    "1h": "the hour that contains --as-of",
    "24h": "the 24 hour buckets up to and including --as-of's",
    "7d": "the 168 hour buckets up to --as-of",
    "30d": "the 720 hour buckets up to --as-of",
    "mtd": "month to date",
    "qtd": "quarter to date",
    "ytd": "year to date",
}
_ROLLING_HOURS = {"1h": 1, "24h": 24, "7d": 168, "30d": 720}


def bucket_of(ts_ms: int) -> int:
    """Start of the hour bucket holding ``ts_ms`` (UTC+7 hours start on UTC hours)."""
    return ts_ms - ts_ms % HOUR_MS


def window_bounds(window: str, as_of_ms: int) -> tuple[int, int]:
    """[start_ms, end_ms) of the buckets in ``window`` ending with the bucket of ``as_of_ms``.

    Raises KeyError for an unknown window name.
    """
    end_ms = bucket_of(as_of_ms) + HOUR_MS
    if window in _ROLLING_HOURS:
        return end_ms - _ROLLING_HOURS[window] * HOUR_MS, end_ms
    local = to_local(as_of_ms)
    if window == "mtd":
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif window == "qtd":
        month = 3 * ((local.month - 1) // 3) + 1
        start = local.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif window == "ytd":
        start = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        raise KeyError(window)
    return to_ms(start), end_ms


def period_bounds(period: str) -> tuple[int, int]:
    """[start_ms, end_ms) of a calendar period in Vietnam time: ``2024``, ``2024-Q2`` or ``2024-06``.

    Raises ValueError naming the expected forms.
    """
    try:
        if len(period) == 4:
            year = int(period)
            return day_start_ms(date(year, 1, 1)), day_start_ms(date(year + 1, 1, 1))
        year_text, _, rest = period.partition("-")
        year = int(year_text)
        if rest.upper().startswith("Q"):
            quarter = int(rest[1:])
            if not 1 <= quarter <= 4:
                raise ValueError
            first = date(year, 3 * quarter - 2, 1)
            after = date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
            return day_start_ms(first), day_start_ms(after)
        month = int(rest)
        first = date(year, month, 1)
        after = date(year + (month == 12), 1 if month == 12 else month + 1, 1)
        return day_start_ms(first), day_start_ms(after)
    except ValueError:
        raise ValueError(f"period {period!r}: expected YYYY, YYYY-Qn or YYYY-MM") from None


def parse_time(text: str) -> int:
    """Epoch ms of an RFC 3339 time with offset, or of a date (midnight, Vietnam time).

    Raises ValueError with the accepted forms.
    """
    try:
        if len(text) == 10:
            return day_start_ms(date.fromisoformat(text))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"time {text!r}: expected 2024-06-03 or 2024-06-03T08:00:00+07:00"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r}: give an offset, e.g. +07:00")
    return to_ms(moment)


def to_local(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, VN)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def rfc3339(ts_ms: int) -> str:
    """``2024-06-03T08:00:00+07:00`` (seconds precision, Vietnam offset)."""
    return to_local(ts_ms).isoformat(timespec="seconds")


def day_start_ms(day: date) -> int:
    """Epoch ms of local midnight (Vietnam) starting ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000) - VN_OFFSET_MS
