"""Inline SVG charts for the report (a rate over time, points per score group), drawn by hand.

Pure: values in, an ``<svg>`` string out; no JavaScript and no fonts or files from anywhere, so
the page prints, mails and opens offline. Sizes are in the viewBox; CSS scales the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from pipeline.rates import Counts
from pipeline.windows import to_local

WIDTH, HEIGHT = 320, 150
LEFT, RIGHT, TOP, BOTTOM = 34, 8, 10, 34
_STEP_AXIS = {"hour": "giờ / hour", "day": "ngày / day", "month": "tháng / month"}


def status_of(counts: Counts, target_pct: float | None) -> str:
    """``good`` at or above the 766 target, ``warn`` within 80% of it, ``bad`` below, ``none``
    when there is nothing to divide or no target."""
    if counts.rate is None or target_pct is None:
        return "none"
    pct = 100 * counts.rate
    if pct >= target_pct:
        return "good"
    return "warn" if pct >= 0.8 * target_pct else "bad"


def tick_label(step: str, start_ms: int) -> str:
    """The x-axis label of a step start: ``08h``, ``03/06`` or ``06/2024`` (Vietnam time)."""
    moment = to_local(start_ms)
    if step == "hour":
        return f"{moment:%Hh}"
    return f"{moment:%d/%m}" if step == "day" else f"{moment:%m/%Y}"


def rate_chart(
    indicator: str,
    title: str,
    points: Sequence[tuple[int, Counts]],
    step: str,
    target_pct: float | None,
    status: str,
) -> str:
    """A line of the rate (0-100%) per step with the target as a dashed line.

    Steps with nothing received break the line (no invented zero). The ``<svg>`` carries
    ``data-indicator`` and ``data-points`` (steps drawn) for tests and scripts."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(1, len(points))

    def x_of(index: int) -> float:
        return LEFT + (plot_w * (index + 0.5) / count)

    def y_of(pct: float) -> float:
        return TOP + plot_h * (1 - pct / 100)

    parts: list[str] = []
    for pct in (0, 25, 50, 75, 100):
        y = y_of(pct)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{pct}%</text>'
        )
    if target_pct is not None:
        y = y_of(target_pct)
        parts.append(
            f'<line class="target" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}">'
            f"<title>Mục tiêu / target {target_pct:g}%</title></line>"
        )
    segments: list[list[tuple[float, float]]] = [[]]
    drawn = 0
    for index, (_, counts) in enumerate(points):
        if counts.rate is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append((x_of(index), y_of(100 * counts.rate)))
        drawn += 1
    for segment in (s for s in segments if s):
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(segment)
        )
        if len(segment) > 1:
            base = y_of(0)
            area = f"{path} L{segment[-1][0]:.1f},{base:.1f} L{segment[0][0]:.1f},{base:.1f} Z"
            parts.append(f'<path class="area" d="{area}"/>')
        parts.append(f'<path class="line" d="{path}"/>')
        if len(segment) <= 40:
            parts.extend(
                f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="2"/>' for x, y in segment
            )
    for index in _tick_indexes(len(points)):
        x = x_of(index)
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 13}" text-anchor="middle">'
            f"{tick_label(step, points[index][0])}</text>"
        )
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y_of(0):.1f}" y2="{y_of(0):.1f}"/>'
        f'<text class="axis-label" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" '
        f'text-anchor="middle">{_STEP_AXIS[step]}</text>'
        f'<text class="axis-label" x="9" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 9 {TOP + plot_h / 2:.1f})">tỷ lệ / rate</text></svg>'
    )
    head = (
        f'<svg class="chart rate-chart {status}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'data-indicator="{indicator}" data-points="{drawn}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    )
    return head + "".join(parts)


def group_chart(
    groups: Sequence[tuple[str, str, float, float, float]], narrow: bool = False
) -> str:
    """Horizontal bars, one per 766 group: (code, name, points, available max, max points).

    The bar's full length is the group's maximum; the light part is what the pipeline can
    compute, the solid part the points earned. A group the pipeline cannot compute at all
    shows ``–``, never 0. ``narrow`` puts each label above its bar (for phones)."""
    width = 360 if narrow else 760
    label_w = 0 if narrow else 210
    row_h = 44 if narrow else 30
    bar_y = 20 if narrow else 4
    height = row_h * len(groups) + 24
    scale = (width - label_w - (125 if narrow else 140)) / max((g[4] for g in groups), default=1)
    layout = "narrow" if narrow else "wide"
    parts = [
        f'<svg class="chart group-chart {layout}" viewBox="0 0 {width} {height}" role="img" '
        f'data-points="{len(groups)}" xmlns="http://www.w3.org/2000/svg">'
        "<title>Điểm theo nhóm chỉ số / points by score group</title>"
    ]
    for row, (code, name, points, available_max, max_points) in enumerate(groups):
        y = 4 + row * row_h
        label = (
            f'<text class="bar-label" x="0" y="{y + 13}">{escape(name)}</text>'
            if narrow
            else f'<text class="bar-label" x="{label_w - 6}" y="{y + 17}" text-anchor="end">'
            f"{escape(_short(name, 30))}</text>"
        )
        top = y + bar_y
        parts.append(
            label + f'<rect class="bar-max" x="{label_w}" y="{top}" '
            f'width="{max_points * scale:.1f}" height="18" rx="3"/>'
            f'<rect class="bar-available" x="{label_w}" y="{top}" '
            f'width="{available_max * scale:.1f}" height="18" rx="3"/>'
            f'<rect class="bar-points" x="{label_w}" y="{top}" width="{points * scale:.1f}" '
            f'height="18" rx="3" data-group="{escape(code)}"/>'
            f'<text class="bar-value" x="{label_w + max_points * scale + 6:.1f}" y="{top + 14}">'
            f"{_group_value(points, available_max, max_points)}</text>"
        )
    legend = (
        "điểm · (…) tối đa · – chưa tính được"
        if narrow
        else "điểm / points · (…) tối đa / max · – chưa tính được / not computable"
    )
    parts.append(f'<text class="axis-label" x="{label_w}" y="{height - 4}">{legend}</text></svg>')
    return "".join(parts)


def _group_value(points: float, available_max: float, max_points: float) -> str:
    """``6,00 / 18``; ``9,47 / 12 (22)`` when part is not computable; ``– / 20`` when none is."""
    if not available_max:
        return f"– / {max_points:g}"
    if available_max < max_points:
        return f"{_points(points)} / {available_max:g} ({max_points:g})"
    return f"{_points(points)} / {max_points:g}"


def _points(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def _short(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _tick_indexes(count: int) -> list[int]:
    """At most six evenly spread labels, always the first and the last step."""
    if count <= 6:
        return list(range(count))
    last = count - 1
    return sorted({round(last * k / 5) for k in range(6)})
