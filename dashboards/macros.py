"""Expand a panel's SQL the way Grafana and the ClickHouse plugin (v4.20) do, without Grafana.

Two passes, in Grafana's order:

1. Dashboard variables, as Grafana's frontend does before sending the query: ``$name``,
   ``${name}``, ``${name:format}`` and ``[[name]]``. A single value goes in as is (the
   plugin's own formatter), ``:singlequote`` quotes it (``'`` escaped as ``\\'``), ``:raw`` as
   is. Names starting with ``__`` are Grafana's and the plugin's, left to pass 2. Unlike
   Grafana, which leaves an unknown variable in the text, this raises: a dashboard of ours
   must only use variables it defines.
2. The plugin's backend macros (``pkg/macros`` on top of grafana/macropro): comments are
   blanked first (``--``, ``/* */``, aware of '...', "...", backticks with backslash escapes and
   $tag$ quotes), then each macro name, longest first, is replaced wherever it is not followed
   by a name character; an argument list must follow immediately, split on top-level commas.

``$__fromTime`` and ``$__toTime`` become ``toDateTime(<unix seconds>)``, ``$__timeFilter(c)``
``c >= toDateTime(from) AND c <= toDateTime(to)`` (inclusive), ``$__interval_s`` the interval
in whole seconds (at least 1). With ``portable=True`` the macros ClickHouse 18.16 cannot run
(``toStartOfInterval``, ``DateTime64``, window functions) raise instead of expanding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.errors import Chiso766Error


class MacroError(Chiso766Error):
    """A query that Grafana or the plugin would reject, or that would not run on 18.16."""


@dataclass(frozen=True)
class TimeRange:
    """The dashboard's time range and Grafana's computed interval, in epoch milliseconds."""

    from_ms: int
    to_ms: int
    interval_ms: int = 3_600_000


NOT_PORTABLE = {
    "timeInterval": "toStartOfInterval",
    "timeInterval_ms": "toStartOfInterval and toDateTime64",
    "timeGroup": "toStartOfInterval",
    "timeFilter_ms": "fromUnixTimestamp64Milli",
    "fromTime_ms": "fromUnixTimestamp64Milli",
    "toTime_ms": "fromUnixTimestamp64Milli",
}
"""Macros whose expansion ClickHouse 18.16 cannot run, and the function it lacks."""
STATEMENT_MACROS = ("columns", "rateColumns", "perSecondColumns", "increaseColumns", "lttb")
FRONTEND_MACROS = ("conditionalAll", "adHocFilters")

_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)


def expand(
    sql: str, time_range: TimeRange, variables: Mapping[str, str], portable: bool = True
) -> str:
    """The SQL the plugin would send to ClickHouse. Raises MacroError for an unknown variable,
    a bad macro call, or (``portable``) a macro 18.16 cannot run."""
    return expand_macros(expand_variables(sql, variables), time_range, portable)


def expand_variables(sql: str, variables: Mapping[str, str]) -> str:
    for macro in FRONTEND_MACROS:
        if f"$__{macro}" in sql:
            raise MacroError(f"$__{macro} is expanded by Grafana's frontend only; not supported")

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name.startswith("__"):
            return match.group(0)
        if match.group(5):
            raise MacroError(f"{match.group(0)}: variable fields are not supported")
        if name not in variables:
            raise MacroError(f"{match.group(0)}: no such dashboard variable")
        value = variables[name]
        if fmt is None or fmt == "raw":
            return value
        if fmt == "singlequote":
            return "'" + value.replace("'", "\\'") + "'"
        raise MacroError(f"{match.group(0)}: format {fmt!r} is not supported")

    return _VARIABLE.sub(replace, sql)


def expand_macros(sql: str, time_range: TimeRange, portable: bool = True) -> str:
    for name in STATEMENT_MACROS:
        if _find(sql, "$__" + name) >= 0:
            raise MacroError(
                f"$__{name} rewrites the statement with window functions; not supported"
            )
    macros = _macros(time_range)
    text = strip_comments(sql)
    for name in sorted(macros, key=lambda n: (-len(n), n)):
        token = "$__" + name
        if _find(text, token) < 0:
            continue
        if portable and name in NOT_PORTABLE:
            raise MacroError(
                f"{token} expands to {NOT_PORTABLE[name]}, which ClickHouse 18.16 lacks"
            )
        text = _replace_macro(text, token, name, macros[name])
    return text


def strip_comments(sql: str) -> str:
    """Blank ``--`` and ``/* */`` comments (same length), leaving quoted text untouched."""
    out: list[str] = []
    i = 0
    while i < len(sql):
        c = sql[i]
        if c in "'\"`":
            j = _scan_quoted(sql, i)
            out.append(sql[i:j])
            i = j
            continue
        if c == "$":
            end = _dollar_quote_end(sql, i)
            if end >= 0:
                out.append(sql[i:end])
                i = end
                continue
        if sql.startswith("--", i):
            j = i
            while j < len(sql) and sql[j] not in "\r\n":
                j += 1
            out.append(" " * (j - i))
            i = j
            continue
        if sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = len(sql) if j < 0 else j + 2
            out.append(" " * (j - i))
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out)


# --- the plugin's macro functions --------------------------------------------------------

MacroFunc = Callable[[list[str]], str]


def _macros(tr: TimeRange) -> dict[str, MacroFunc]:
    from_s, to_s = tr.from_ms // 1000, tr.to_ms // 1000
    interval_s = max(tr.interval_ms // 1000, 1)

    def date_time(seconds: int) -> str:
        return f"toDateTime({seconds})"

    def date(seconds: int) -> str:
        return f"toDate('{datetime.fromtimestamp(seconds, UTC):%Y-%m-%d}')"

    def one(name: str, build: Callable[[str], str]) -> MacroFunc:
        def call(args: list[str]) -> str:
            if len(args) != 1:
                raise MacroError(f"$__{name} expected 1 argument(s), received {len(args)}")
            return build(args[0])

        return call

    def date_time_filter(args: list[str]) -> str:
        if len(args) != 2:
            raise MacroError(f"$__dateTimeFilter expected 2 argument(s), received {len(args)}")
        d, t = args
        return (
            f"({d} >= {date(from_s)} AND {d} <= {date(to_s)}) AND "
            f"({t} >= {date_time(from_s)} AND {t} <= {date_time(to_s)})"
        )

    def interval(_args: list[str]) -> str:
        ms = tr.interval_ms
        for unit_ms, suffix in ((3_600_000, "h"), (60_000, "m"), (1000, "s")):
            if ms and ms % unit_ms == 0:
                return f"{ms // unit_ms}{suffix}"
        return f"{ms}ms" if ms else "0s"

    def unsupported(name: str, lacks: str) -> MacroFunc:
        def call(_args: list[str]) -> str:
            raise MacroError(f"$__{name} needs {lacks}; not expanded here")

        return call

    return {
        "fromTime": lambda _a: date_time(from_s),
        "toTime": lambda _a: date_time(to_s),
        "timeFilter": one(
            "timeFilter", lambda c: f"{c} >= {date_time(from_s)} AND {c} <= {date_time(to_s)}"
        ),
        "timeFrom": one("timeFrom", lambda c: f"{c} >= {date_time(from_s)}"),
        "timeTo": one("timeTo", lambda c: f"{c} <= {date_time(to_s)}"),
        "dateFilter": one("dateFilter", lambda c: f"{c} >= {date(from_s)} AND {c} <= {date(to_s)}"),
        "dateTimeFilter": date_time_filter,
        "dt": date_time_filter,
        "interval_s": lambda _a: str(interval_s),
        "interval": interval,
        "interval_ms": lambda _a: str(tr.interval_ms),
        "timeInterval": one(
            "timeInterval",
            lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {interval_s} second)",
        ),
        "timeInterval_ms": one(
            "timeInterval_ms",
            lambda c: (
                f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {max(tr.interval_ms, 1)} millisecond)"
            ),
        ),
        "timeFilter_ms": one(
            "timeFilter_ms",
            lambda c: (
                f"{c} >= fromUnixTimestamp64Milli({tr.from_ms}) AND {c} <= fromUnixTimestamp64Milli({tr.to_ms})"
            ),
        ),
        "fromTime_ms": lambda _a: f"fromUnixTimestamp64Milli({tr.from_ms})",
        "toTime_ms": lambda _a: f"fromUnixTimestamp64Milli({tr.to_ms})",
        "timeGroup": unsupported("timeGroup", "a Go duration parser and toStartOfInterval"),
        "table": unsupported("table", "the builder's table"),
        "column": unsupported("column", "the builder's column"),
    }


def _is_name_char(c: str) -> bool:
    return c == "_" or c.isascii() and c.isalnum()


def _find(text: str, token: str, start: int = 0) -> int:
    """Index of ``token`` not followed by a name character, or -1."""
    while True:
        i = text.find(token, start)
        if i < 0:
            return -1
        after = i + len(token)
        if after >= len(text) or not _is_name_char(text[after]):
            return i
        start = after


def _replace_macro(text: str, token: str, name: str, fn: MacroFunc) -> str:
    out: list[str] = []
    rest = text
    while True:
        i = _find(rest, token)
        if i < 0:
            out.append(rest)
            return "".join(out)
        out.append(rest[:i])
        rest = rest[i + len(token) :]
        raw = ""
        if rest.startswith("("):
            end = _closing_paren(rest)
            if end >= 0:
                raw, rest = rest[1:end], rest[end + 1 :]
        out.append(fn(_split_args(raw, name)))


def _closing_paren(s: str) -> int:
    depth = 0
    i = 0
    while i < len(s):
        c = s[i]
        if c in "'\"":
            i = _scan_quoted(s, i, backslash=False)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _split_args(raw: str, name: str) -> list[str]:
    raw = raw.strip()
    if not raw:
        return []
    args, depth, start, i = [], 0, 0, 0
    while i < len(raw):
        c = raw[i]
        if c in "'\"":
            i = _scan_quoted(raw, i, backslash=False)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                raise MacroError(f"$__{name}: unexpected ')' at position {i}")
            depth -= 1
        elif c == "," and depth == 0:
            args.append(raw[start:i].strip())
            start = i + 1
        i += 1
    if depth:
        raise MacroError(f"$__{name}: unbalanced parentheses in arguments")
    args.append(raw[start:].strip())
    return args


def _scan_quoted(s: str, pos: int, backslash: bool = True) -> int:
    """Index just after the quoted text starting at ``pos`` (doubled quotes and, in ClickHouse
    strings, backslash escapes stay inside); the end of ``s`` when unterminated."""
    quote = s[pos]
    j = pos + 1
    while j < len(s):
        if backslash and s[j] == "\\":
            j += 2
            continue
        if s[j] == quote:
            if j + 1 < len(s) and s[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return len(s)


def _dollar_quote_end(s: str, pos: int) -> int:
    j = pos + 1
    while j < len(s) and s[j] != "$":
        if not _is_name_char(s[j]):
            return -1
        j += 1
    if j >= len(s):
        return -1
    tag = s[pos : j + 1]
    close = s.find(tag, j + 1)
    return -1 if close < 0 else close + len(tag)
