"""Render a :class:`~dashboards.report.model.Report` to one self-contained HTML page.

Pure: a Report in, a string out. Vietnamese first, English beside it. Styles and charts are
inline; the page names no URL, so it opens offline, prints and mails as one file. Every figure
carries its counts (``data-numerator``/``data-denominator``) so scripts and tests can check it.
With ``live=True`` a few lines of inline script poll ``version.json`` and swap the page body
when newer rows are stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

from dashboards.report.charts import group_chart, rate_chart, status_of
from dashboards.report.model import Report, StakeLine, UnitLine
from dashboards.report.style import CSS
from pipeline.rates import INDICATOR_NAMES_EN, INDICATORS, Counts
from pipeline.windows import rfc3339, to_local

LEVELS: dict[str, tuple[str, str]] = {
    "province": ("Tỉnh", "province"),
    "department": ("Sở, ban, ngành", "departments"),
    "district": ("Cấp huyện", "districts"),
    "commune": ("Cấp xã", "communes"),
}
STATUS: dict[str, tuple[str, str]] = {
    "good": ("Đạt mục tiêu", "at target"),
    "warn": ("Gần đạt (≥ 80% mục tiêu)", "within 80% of target"),
    "bad": ("Chưa đạt", "below target"),
    "none": ("Chưa có hồ sơ", "no dossiers"),
}
POLL_S = 5

_LIVE_SCRIPT = """
(function () {
  var shown = document.body.getAttribute("data-version");
  function swap(html) {
    var next = new DOMParser().parseFromString(html, "text/html");
    document.body.innerHTML = next.body.innerHTML;
    document.body.setAttribute("data-version", next.body.getAttribute("data-version"));
    shown = next.body.getAttribute("data-version");
  }
  function poll() {
    fetch("version.json", {cache: "no-store"}).then(function (r) { return r.json(); })
      .then(function (v) {
        if (v.version !== shown) {
          return fetch("./", {cache: "no-store"}).then(function (r) { return r.text(); }).then(swap);
        }
      }).catch(function () {}).then(function () { setTimeout(poll, %d); });
  }
  setTimeout(poll, %d);
})();
"""


def render_page(report: Report, *, version: str = "", live: bool = False) -> str:
    """The whole HTML document. ``version`` identifies the stored data shown (the live page
    compares it with ``version.json``); ``live`` adds the polling script and a live badge."""
    title = f"Chỉ số 766 — {report.unit_name} — {period_text(report)}"
    script = f"<script>{_LIVE_SCRIPT % (POLL_S * 1000, POLL_S * 1000)}</script>" if live else ""
    return (
        '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f'<body data-version="{escape(version)}">'
        f"{_header(report, live)}<main>"
        f"{_headline(report)}{_score(report)}{_stakes(report)}{_weakest(report)}"
        f"{_rankings(report)}{_footer(report)}</main>{script}</body></html>\n"
    )


# --- numbers, Vietnamese style (decimal comma, dot thousands) ----------------------------------


def pct_text(counts: Counts) -> str:
    """``45,3%`` (one decimal), or ``–`` when there is nothing to divide."""
    return "–" if counts.rate is None else f"{100 * counts.rate:.1f}%".replace(".", ",")


def int_text(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def points_text(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def period_text(report: Report) -> str:
    """``Tháng 06/2024 (01/06/2024 – 30/06/2024)``, ``Quý 2/2024 (…)``, ``Năm 2024 (…)``,
    ``03/06/2024 – 05/06/2024`` or ``Ngày 03/06/2024``."""
    label = report.period_label
    first, last = to_local(report.start_ms), to_local(report.end_ms - 1)
    days = f"{first:%d/%m/%Y} – {last:%d/%m/%Y}"
    if len(label) == 7 and label[4] == "-" and label[5:].isdigit():
        return f"Tháng {label[5:]}/{label[:4]} ({days})"
    if "-Q" in label.upper():
        return f"Quý {label[-1]}/{label[:4]} ({days})"
    if len(label) == 4 and label.isdigit():
        return f"Năm {label} ({days})"
    return f"Ngày {first:%d/%m/%Y}" if first.date() == last.date() else days


# --- sections ----------------------------------------------------------------------------------


def _header(report: Report, live: bool) -> str:
    level_vi, _ = LEVELS.get(report.unit_level, (report.unit_level, report.unit_level))
    stored = (
        f"{to_local(report.stored_until_ms):%H:%M %d/%m/%Y}"
        if report.stored_until_ms is not None
        else "chưa có / none yet"
    )
    badge = '<span class="live">TRỰC TIẾP / LIVE</span>' if live else ""
    return (
        '<header class="top"><div class="kicker">Chỉ số 766 · Quyết định 766/QĐ-TTg · '
        f"{escape(report.province)}</div><h1>{escape(report.unit_name)} {badge}</h1>"
        '<div><span class="en">Leaders\' report — Decision 766 service-delivery indicators</span></div>'
        f'<div class="meta"><span title="{rfc3339(report.start_ms)} → {rfc3339(report.end_ms)}">'
        f"Kỳ / period: <b>{period_text(report)}</b></span>"
        f"<span>Cấp / level: {escape(level_vi)} ({escape(report.unit_code)})</span>"
        f'<span>Dữ liệu đến / data up to: <b class="stored-until">{stored}</b></span></div></header>'
    )


def _headline(report: Report) -> str:
    cards = []
    trends = {t.indicator: t for t in report.trends}
    for indicator in report.indicators:
        counts = report.headline[indicator]
        target = report.targets_pct.get(indicator)
        status = status_of(counts, target)
        label_vi, label_en = STATUS[status]
        target_text = f"Mục tiêu 766 / target: {target:g}%" if target is not None else ""
        chart = rate_chart(
            indicator,
            f"{INDICATORS[indicator]} / {INDICATOR_NAMES_EN[indicator]}",
            trends[indicator].points,
            report.step,
            target,
            status,
        )
        cards.append(
            f'<article class="card {status}">'
            f"<h3>{escape(INDICATORS[indicator])}"
            f'<span class="en">{escape(INDICATOR_NAMES_EN[indicator])}</span></h3>'
            f'<div class="figure-row">{_figure(report.unit_code, indicator, counts, "big")}'
            f'<span class="badge {status}">{label_vi} <span class="en">· {label_en}</span></span></div>'
            f'<div class="counts">{int_text(counts.numerator)} / {int_text(counts.denominator)} hồ sơ'
            f" · {target_text}</div>{_change(counts, report.previous[indicator])}{chart}</article>"
        )
    return (
        '<section id="headline"><h2>Tỷ lệ chính <span class="en">Headline rates</span></h2>'
        f'{_legend()}<div class="cards">{"".join(cards)}</div></section>'
    )


def _change(now: Counts, before: Counts) -> str:
    """``▲ +2,1 điểm % so với kỳ trước (55,5%)``, or that the period before has no dossiers."""
    if before.rate is None:
        return (
            '<div class="change flat">Kỳ trước: chưa có hồ sơ '
            '<span class="en">· previous period: no dossiers</span></div>'
        )
    if now.rate is None:
        return f'<div class="change flat">Kỳ trước / previous: {pct_text(before)}</div>'
    delta = 100 * (now.rate - before.rate)
    arrow, css = (
        ("▲", "up") if delta >= 0.05 else ("▼", "down") if delta <= -0.05 else ("■", "flat")
    )
    delta_text = f"{delta:+.1f}".replace(".", ",")
    return (
        f'<div class="change {css}">{arrow} {delta_text} điểm % so với kỳ trước '
        f'({pct_text(before)})<span class="en"> · vs previous</span></div>'
    )


def _figure(unit: str, indicator: str, counts: Counts, css: str) -> str:
    return (
        f'<span class="{css} figure" data-unit="{escape(unit)}" data-indicator="{indicator}" '
        f'data-numerator="{counts.numerator}" data-denominator="{counts.denominator}">'
        f"{pct_text(counts)}</span>"
    )


def _legend() -> str:
    return (
        '<div class="legend">'
        + "".join(
            f'<span class="badge {key}">{vi} <span class="en">· {en}</span></span>'
            for key, (vi, en) in STATUS.items()
        )
        + "</div>"
    )


def _score(report: Report) -> str:
    level_vi, level_en = LEVELS.get(report.unit_level, (report.unit_level, report.unit_level))
    missing = [code for g in report.groups for code in g.missing]
    bars = [
        (g.code, g.name, g.available_points, g.available_max, g.max_points) for g in report.groups
    ]
    chart = group_chart(bars) + group_chart(bars, narrow=True)
    rank = (
        f"Hạng / rank <b>{report.rank}</b> / {report.rank_of} ({escape(level_vi.lower())} / {level_en})"
        if report.rank_of > 1
        else ""
    )
    return (
        '<section id="score"><h2>Điểm Chỉ số 766 <span class="en">766 score</span></h2>'
        '<div class="score"><div>'
        f'<div><span class="big score-points" data-points="{report.available_points:.2f}">'
        f"{points_text(report.available_points)}</span>"
        f'<span class="of"> / {report.available_max:g} điểm</span></div>'
        f'<div class="counts">trên tổng {report.max_points:g} điểm; tính được {report.available_max:g}'
        f' điểm từ dữ liệu hiện có <span class="en">(of {report.max_points:g}; the pipeline computes '
        f"{report.available_max:g} points' worth of indicators)</span></div>"
        f'<p class="note">{rank}</p></div>{chart}</div>'
        f'<p class="note">Chưa tính được / not computable yet: {escape(", ".join(missing))} '
        "— cần dữ liệu ngoài luồng sự kiện (CSDL quốc gia về TTHC, kho dữ liệu…) / need inputs "
        "outside the event stream; never counted as 0.</p></section>"
    )


def _stakes(report: Report) -> str:
    if not report.stakes:
        return ""
    keys = [k for k in report.indicators if k in report.targets_pct]
    head = "".join(f'<th>{escape(INDICATORS[k])}<span class="en">{k}</span></th>' for k in keys)
    rows = "".join(_stake_row(i, s, keys) for i, s in enumerate(report.stakes, start=1))
    return (
        '<section id="stakes"><h2>Điểm có thể tăng <span class="en">Points at stake</span></h2>'
        f'<p class="note">Nếu riêng từng đơn vị đạt mục tiêu, {escape(report.unit_name)} tăng thêm '
        f"bao nhiêu điểm; nếu tất cả cùng đạt: <b>+{points_text(report.gain_if_all)}</b>. "
        '<span class="en">Points gained if that unit alone reached the targets (they do not add '
        "up); +n = extra dossiers needed.</span></p>"
        '<div class="panel"><table><thead><tr><th>#</th><th>Đơn vị<span class="en">unit</span></th>'
        f'<th>Điểm tăng<span class="en">gain</span></th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _stake_row(position: int, stake: StakeLine, keys: Iterable[str]) -> str:
    cells = []
    for key in keys:
        gain, needed = stake.by_indicator.get(key, (0.0, 0))
        css = "cell" if gain >= 0.005 else "cell none"
        cells.append(
            f'<td class="{css}">+{points_text(gain)}<small>+{int_text(needed)} hồ sơ</small></td>'
            if needed
            else '<td class="cell none">–</td>'
        )
    return (
        f'<tr data-unit="{escape(stake.code)}" data-gain="{stake.gain_points:.4f}">'
        f'<td class="rank">{position}</td><td class="name">{escape(stake.name)}'
        f'<span class="code">{escape(stake.code)}</span></td>'
        f'<td class="gain">+{points_text(stake.gain_points)}</td>{"".join(cells)}</tr>'
    )


def _weakest(report: Report) -> str:
    if not report.weakest:
        return ""
    return (
        '<section id="weakest"><h2>Đơn vị thấp nhất <span class="en">Weakest units</span></h2>'
        '<p class="note">Trung bình bốn tỷ lệ chính, chỉ tính tỷ lệ có từ 10 hồ sơ. '
        '<span class="en">Mean of the four headline rates, rates with at least 10 dossiers.</span></p>'
        f"{_unit_table(report, report.weakest, 'weakest')}</section>"
    )


def _rankings(report: Report) -> str:
    if not report.rankings:
        return ""
    blocks = []
    for level, lines in report.rankings:
        vi, en = LEVELS.get(level, (level, level))
        blocks.append(
            f'<h3 class="level">{escape(vi)} <span class="en">{escape(en)} · {len(lines)}</span></h3>'
            f"{_unit_table(report, lines, 'ranking-' + level)}"
        )
    return (
        '<section id="rankings"><h2>Xếp hạng theo điểm 766 <span class="en">Rankings by 766 '
        "score, per level</span></h2>" + "".join(blocks) + "</section>"
    )


def _unit_table(report: Report, lines: Iterable[UnitLine], table_id: str) -> str:
    head = "".join(
        f'<th>{escape(INDICATORS[i])}<span class="en">{i}</span></th>' for i in report.indicators
    )
    rows = []
    for line in lines:
        cells = "".join(
            _rate_cell(line.code, i, line.counts[i], report.targets_pct) for i in report.indicators
        )
        rows.append(
            f'<tr><td class="rank">{line.rank}</td><td class="name">{escape(line.name)}'
            f'<span class="code">{escape(line.code)}</span></td>'
            f"<td>{points_text(line.available_points)}</td>{cells}</tr>"
        )
    return (
        f'<div class="panel"><table id="{table_id}"><thead><tr><th>Hạng<span class="en">rank</span></th>'
        '<th>Đơn vị<span class="en">unit</span></th>'
        f'<th>Điểm<span class="en">points</span></th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _rate_cell(unit: str, indicator: str, counts: Counts, targets: Mapping[str, float]) -> str:
    status = status_of(counts, targets.get(indicator))
    return (
        f'<td class="cell {status}">{_figure(unit, indicator, counts, "rate")}'
        f"<small>{int_text(counts.numerator)}/{int_text(counts.denominator)}</small></td>"
    )


def _footer(report: Report) -> str:
    targets = ", ".join(f"{k} {v:g}%" for k, v in report.targets_pct.items())
    return (
        "<footer><p>Mỗi tỷ lệ = tổng tử số / tổng mẫu số trên các giờ của kỳ (không lấy trung bình "
        "các tỷ lệ); đơn vị cấp trên gồm mọi đơn vị cấp dưới. Giờ Việt Nam (UTC+7). "
        '<span class="en">Each rate is sum(numerator) / sum(denominator) over the hours of the '
        "period, never an average of rates; a unit includes every unit below it. Times are "
        "Vietnam time.</span></p>"
        f"<p>Mục tiêu (mức đạt điểm tối đa theo 766) / targets (full 766 points): {escape(targets)}."
        "</p><p>chiso766 report</p></footer>"
    )
