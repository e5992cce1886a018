"""`chiso766 score`: the 766 score per unit and group for a period, as of a moment; projections."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from pipeline.cli.options import chosen_units, json_flag, parse_time_option, with_settings
from pipeline.reference import Reference, load_reference
from pipeline.scoring.at_stake import UnitStake
from pipeline.scoring.period import (
    PeriodScores,
    UnitScore,
    full_points_targets,
    parse_target,
    score_period,
    stake_to_json,
    stakes,
    unit_to_json,
)
from pipeline.scoring.projection import Projection, project
from pipeline.scoring.score import GroupScore, NotAvailable
from pipeline.settings import Settings
from pipeline.windows import period_bounds, rfc3339
from sinks.asof import state_as_of
from sinks.reader import require_results, stream_time_ms, summed_rows
from sinks.store import open_store

NOT_AVAILABLE = "chưa có dữ liệu / not available"
_DEFAULT_TARGETS = ", ".join(f"{k}={v:g}" for k, v in full_points_targets().items())
_HOUR_MS = 3_600_000
Period = tuple[str, int, int]


def _period(_ctx: click.Context, _param: click.Parameter, value: str) -> Period:
    try:
        return (value, *period_bounds(value))
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _targets(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, float]:
    try:
        return dict(parse_target(text) for text in values)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command("score")
@click.option("--period", required=True, callback=_period, metavar="PERIOD",
              help="A month (2024-06), quarter (2024-Q2) or year (2024), Vietnam time.")  # fmt: skip
@click.option("--as-of", "as_of", callback=parse_time_option, metavar="TIME",
              help="Judge the clocks at this moment (default: the period end, or now while the "
                   "period runs; with --project: the newest stored event). "
                   "E.g. 2024-06-30T16:00:00+07:00.")  # fmt: skip
@click.option("--unit", "unit_code", help="One unit, e.g. H70.21 (its counts include every unit below it).")  # fmt: skip
@click.option("--level", help="Every unit of a level: province, department, district, commune.")
@click.option("--project", "show_projection", is_flag=True,
              help="Each unit's projected period-end score at its current pace, and the points at stake.")  # fmt: skip
@click.option("--at-stake", "show_stake", is_flag=True,
              help="Rank units by the province points they would add by reaching --target rates.")  # fmt: skip
@click.option("--target", "targets", multiple=True, callback=_targets, metavar="INDICATOR=PCT",
              help=f"With --at-stake: a target rate, repeatable (default {_DEFAULT_TARGETS}).")  # fmt: skip
@json_flag
@with_settings
def score(
    settings: Settings,
    period: Period,
    as_of: int | None,
    unit_code: str | None,
    level: str | None,
    show_projection: bool,
    show_stake: bool,
    targets: dict[str, float],
    as_json: bool,
) -> None:
    """Show the Decision 766 score (out of 100) per unit and score group for a period.

    All six groups: transparency (18), progress (20), digitisation (22), online services
    (12), online payment (10), satisfaction (18). Dossier rates come from the pipeline's
    counts in ClickHouse (by reception time, e-results by completion time, Vietnam time),
    rolled up the unit hierarchy; on-time handling and the satisfaction group are judged
    from the dossier state AS OF a moment (--as-of, default the period end): a pending
    dossier is on time until its due time passes. Transparency, items 3.6-3.7 and the
    online-service catalogue come from the reference data. An input that is truly absent
    shows "chưa có dữ liệu / not available" with the reason, never 0. Ranks compare units
    of the same level (ties share a rank).

    By default: the province and every unit directly under it (departments and districts).
    --unit adds the unit's indicator-by-indicator breakdown.

    --project: each unit's score now and projected to the period end at its current pace
    (pending dossiers falling due before the end are expected on time at the unit's current
    on-time rate), and the points at stake (what it is on course to lose), worst first.

    --at-stake answers "where does effort pays most": for each unit, the points the province
    would gain if that unit alone reached the target rates, largest first, with the extra
    dossiers each needs. Default targets are the rates that earn full 766 points.

    \b
    Examples:
      chiso766 score --period 2024-06                     province, departments, districts
      chiso766 score --period 2024-06 --as-of 2024-06-15  the score as it stood mid-month
      chiso766 score --period 2024-Q2 --level commune     every commune, ranked
      chiso766 score --period 2024 --unit H70.21 --json   one district, all indicators
      chiso766 score --period 2024-06 --project --level commune   month-end forecast
      chiso766 score --period 2024-06 --at-stake --level commune --target online_payment=80
    """
    label, start_ms, end_ms = period
    if unit_code and level:
        raise click.UsageError("give --unit or --level, not both")
    if targets and not show_stake:
        raise click.UsageError("--target applies to --at-stake only")
    if show_stake and show_projection:
        raise click.UsageError("give --project or --at-stake, not both")
    if as_of is not None and as_of <= start_ms:
        raise click.BadParameter(f"{rfc3339(as_of)} is not after the period start "
                                 f"{rfc3339(start_ms)}", param_hint="--as-of")  # fmt: skip
    reference = load_reference(settings)
    codes = _chosen_units(reference, unit_code, level, include_root=not show_stake)
    store = open_store(settings)
    try:
        require_results(store, settings.database, settings.namespace)
        if show_projection and as_of is None:
            newest = stream_time_ms(store, settings.database)
            if newest is None or newest < start_ms:
                raise click.ClickException(f"nothing stored for {label} yet: nothing to project")
            as_of = min(end_ms, newest + 1)
        # Default: the period end, or now for the running period (judging a pending dossier at
        # a future period end would call it overdue before its time).
        moment = min(end_ms, int(time.time() * 1000)) if as_of is None else min(as_of, end_ms)
        rows = summed_rows(store, settings.database, start_ms, min(end_ms, _hour_ceiling(moment)))
        now = state_as_of(store, settings.database, start_ms, end_ms, moment)
        at_end = (
            state_as_of(store, settings.database, start_ms, end_ms, moment, judge_ms=end_ms)
            if now is not None and show_projection
            else None
        )
    finally:
        store.close()
    header: dict[str, object] = {
        "period": label,
        "from": rfc3339(start_ms),
        "to": rfc3339(end_ms),
        "as_of": rfc3339(moment),
        "namespace": settings.namespace,
    }
    if show_projection:
        if now is None or at_end is None:
            raise click.ClickException(
                f"{settings.database} has no dossier clocks (schema before 4): run "
                "`chiso766 migrate` and replay the events to project"
            )
        projection = project(rows, start_ms, end_ms, moment, reference, now, at_end)
        _check_counts(projection.now, settings, label, start_ms, end_ms)
        _show_projection(reference, projection, codes, header, as_json)
        return
    scores = score_period(rows, start_ms, end_ms, reference, state=now, as_of_ms=moment)
    _check_counts(scores, settings, label, start_ms, end_ms)
    header["units_not_in_reference"] = list(scores.unknown_units)
    if show_stake:
        targets = {**full_points_targets(scores.counted), **targets}
        _show_stakes(reference, scores, codes, targets, header, as_json)
        return
    ordered = sorted(codes, key=lambda c: (reference.levels.index(scores.units[c].level),
                                           scores.units[c].rank, c))  # fmt: skip
    if as_json:
        units = [unit_to_json(scores.units[c], reference.unit(c).name) for c in ordered]
        click.echo(json.dumps({**header, "units": units}, ensure_ascii=False, indent=2))
        return
    _print_scores(reference, scores, ordered,
                  f"{label}: {header['from']} → {header['to']}, as of {header['as_of']}")  # fmt: skip


def _hour_ceiling(ts_ms: int) -> int:
    return -(-ts_ms // _HOUR_MS) * _HOUR_MS


def _check_counts(
    scores: PeriodScores, settings: Settings, label: str, start_ms: int, end_ms: int
) -> None:
    if not scores.has_counts:
        raise click.ClickException(
            f"no dossiers stored in {settings.database} ({settings.store} store) "
            f"for {label} ({rfc3339(start_ms)} to {rfc3339(end_ms)})"
        )
    if scores.unknown_units:
        click.echo(f"warning: counts of units not in the reference are left out: "
                   f"{', '.join(scores.unknown_units)}", err=True)  # fmt: skip


def _chosen_units(
    reference: Reference, unit_code: str | None, level: str | None, *, include_root: bool
) -> list[str]:
    chosen = chosen_units(reference, unit_code, level)
    if chosen is not None:
        return chosen
    root = reference.root.code
    return [root, *reference.children(root)] if include_root else list(reference.children(root))


# --- score ---------------------------------------------------------------------------------


def _print_scores(
    reference: Reference, scores: PeriodScores, codes: list[str], caption: str
) -> None:
    console = Console()
    table = Table(title="Chỉ số 766 — điểm theo đơn vị / score by unit", caption=caption)
    table.add_column("Đơn vị / unit")
    table.add_column("Hạng / rank", justify="right")
    table.add_column("Tổng / total\n[dim]/100[/]", justify="right")
    for group in scores.units[codes[0]].card.groups:
        table.add_column(f"{group.group.name_vi}\n[dim]{group.group.code} /{group.max_points:g}[/]",
                         justify="right")  # fmt: skip
    for code in codes:
        unit = scores.units[code]
        card = unit.card
        idle = all(c.denominator == 0 for k, c in unit.counts.items() if k == "portal_sync")
        total = (
            f"[bold]{card.total:.2f}[/]"
            if not isinstance(card.total, NotAvailable)
            else f"{card.available_points:.2f} / {card.available_max:g} *"
        )
        table.add_row(
            f"{reference.unit(code).name}\n[dim]{code}[/]",
            f"{unit.rank}/{unit.rank_of}\n[dim]{unit.level}[/]",
            total + ("\nkhông có hồ sơ\nno dossiers" if idle else ""),
            *(_group_cell(g) for g in card.groups),
            style="dim" if idle else None,
        )
    console.print(table)
    card = scores.units[codes[0]].card
    if len(codes) == 1:
        console.print(_indicator_table(scores.units[codes[0]]))
        return
    missing = [
        indicator
        for group in card.groups
        for indicator in group.indicators
        if indicator.indicator.is_scored and isinstance(indicator.points, NotAvailable)
    ]
    if missing:
        console.print(f"* = chỉ phần có dữ liệu / available part only. [bold]{NOT_AVAILABLE}[/]:")
        for indicator in missing:
            assert isinstance(indicator.points, NotAvailable)
            console.print(f"  {indicator.id} {indicator.indicator.name_vi}: "
                          f"[dim]{indicator.points.reason}[/]")  # fmt: skip


def _group_cell(group: GroupScore) -> str:
    if not isinstance(group.points, NotAvailable):
        return f"{group.points:.2f}"
    if group.available_max == 0:
        return "[dim]chưa có\ndữ liệu[/]"
    return f"{group.available_points:.2f} / {group.available_max:g} *"


def _indicator_table(unit: UnitScore) -> Table:
    table = Table(title="Theo chỉ tiêu / by indicator")
    table.add_column("Chỉ tiêu / indicator")
    table.add_column("Tỷ lệ / rate", justify="right")
    table.add_column("Điểm / points", justify="right")
    table.add_column("Ghi chú / note")
    for group in unit.card.groups:
        table.add_section()
        for score in (s for s in group.indicators if s.indicator.is_scored):
            name = f"{score.id} {score.indicator.name_vi}"
            if isinstance(score.points, NotAvailable):
                table.add_row(name, "–", f"[dim]–[/] / {score.max_points:g}",
                              f"[dim]{NOT_AVAILABLE}: {score.points.reason}[/]")  # fmt: skip
                continue
            rate = "–" if score.rate_pct is None else f"{score.rate_pct:.1f}%"
            counts = score.input
            if hasattr(counts, "numerator"):
                note = f"{getattr(counts, 'numerator', '')}/{getattr(counts, 'denominator', '')}"
            else:
                online = unit.counts.get("online_dossiers")
                note = (f"{online.numerator}/{online.denominator} online × sync rate"
                        if online is not None else "")  # fmt: skip
            table.add_row(name, rate, f"{score.points:.2f} / {score.max_points:g}", note)
    return table


# --- projection -------------------------------------------------------------------------------


def _show_projection(
    reference: Reference,
    projection: Projection,
    codes: list[str],
    header: dict[str, object],
    as_json: bool,
) -> None:
    records: list[dict[str, Any]] = []
    for code in codes:
        now, projected = projection.points(code)
        card = projection.projected.units[code].card
        losses = sorted(
            ((g.group.code, g.max_points - g.points) for g in card.groups
             if not isinstance(g.points, NotAvailable)),
            key=lambda item: -item[1],
        )  # fmt: skip
        records.append(
            {
                "unit_code": code,
                "name": reference.unit(code).name,
                "level": projection.now.units[code].level,
                "now": now,
                "projected": projected,
                "change": None if now is None or projected is None else round(projected - now, 2),
                "at_stake": None if projected is None else round(100 - projected, 2),
                "at_stake_by_group": {group: round(lost, 2) for group, lost in losses},
                "projected_rank": projection.projected.units[code].rank,
                "rank_of": projection.projected.units[code].rank_of,
            }
        )
    records.sort(
        key=lambda r: (-(r["at_stake"] if r["at_stake"] is not None else -1), r["unit_code"])
    )
    if as_json:
        click.echo(json.dumps({**header, "units": records}, ensure_ascii=False, indent=2))
        return
    console = Console()
    table = Table(
        title="Dự báo điểm cuối kỳ / projected period-end score",
        caption=f"{header['period']}: as of {header['as_of']}, projected to {header['to']}",
    )
    table.add_column("Đơn vị / unit")
    table.add_column("Hiện tại / now", justify="right")
    table.add_column("Dự báo / projected", justify="right")
    table.add_column("Hạng dự báo\n/ projected rank", justify="right")
    table.add_column("Điểm mất\n/ at stake", justify="right")
    table.add_column("Mất nhiều nhất ở / most lost in")
    for r in records:
        worst = ", ".join(f"{g} −{v:.2f}" for g, v in list(r["at_stake_by_group"].items())[:3]
                          if v > 0)  # fmt: skip
        table.add_row(
            f"{r['name']}\n[dim]{r['unit_code']}[/]",
            _points_text(r["now"]),
            f"[bold]{_points_text(r['projected'])}[/]",
            f"{r['projected_rank']}/{r['rank_of']}\n[dim]{r['level']}[/]",
            _points_text(r["at_stake"]),
            worst,
        )
    console.print(table)
    console.print(
        "Dự báo: tỷ lệ giữ như hiện tại; hồ sơ đang giải quyết đến hạn trước cuối kỳ được tính "
        "đúng hạn theo tỷ lệ đúng hạn hiện tại. Projected at the current pace: rates hold; "
        "pending dossiers falling due before the end finish on time at the current on-time rate."
    )


def _points_text(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else NOT_AVAILABLE


# --- at stake ---------------------------------------------------------------------------------


def _show_stakes(
    reference: Reference,
    scores: PeriodScores,
    codes: list[str],
    targets: dict[str, float],
    header: dict[str, object],
    as_json: bool,
) -> None:
    root = reference.root.code
    try:
        ranked = stakes(scores, codes, targets, root)
        (everyone,) = stakes(scores, [root], targets, root)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--target") from None
    province = scores.units[root]
    if as_json:
        click.echo(json.dumps({
            **header, "targets_pct": targets,
            "province": {"unit_code": root, "name": reference.root.name,
                         "available_points": province.card.available_points,
                         "available_max": province.card.available_max,
                         "gain_points_if_all_reach": round(everyone.gain_points, 4)},
            "units": [stake_to_json(s, scores.units[s.unit], reference.unit(s.unit).name, i)
                      for i, s in enumerate(ranked, 1)],
        }, ensure_ascii=False, indent=2))  # fmt: skip
        return
    console = Console()
    console.print(
        f"[bold]{reference.root.name}[/], {header['period']}: "
        f"{province.card.available_points:.2f} / {province.card.available_max:g} điểm có dữ liệu "
        f"(available); nếu mọi đơn vị đạt mục tiêu / if every unit reached the targets: "
        f"[bold]+{everyone.gain_points:.2f}[/]"
    )
    console.print("Mục tiêu / targets: " + ", ".join(f"{k} {v:g}%" for k, v in targets.items()))
    table = Table(title="Điểm tỉnh tăng thêm nếu đơn vị đạt mục tiêu / where effort pays most")
    table.add_column("#", justify="right")
    table.add_column("Đơn vị / unit")
    table.add_column("Điểm tăng\n/ gain", justify="right")
    keys = list(targets)
    for key in keys:
        table.add_column(key, justify="right")
    gaining = [stake for stake in ranked if stake.gain_points > 0]
    for position, stake in enumerate(gaining, start=1):
        table.add_row(
            str(position),
            f"{reference.unit(stake.unit).name}\n[dim]{stake.unit}[/]",
            f"[bold]+{stake.gain_points:.2f}[/]",
            *(_stake_cell(stake, key) for key in keys),
        )
    console.print(table)
    if len(gaining) < len(ranked):
        console.print(f"{len(ranked) - len(gaining)} đơn vị khác không tăng thêm điểm / other "
                      "units gain nothing at these targets (--json lists every unit).")  # fmt: skip
    console.print(
        "Điểm tăng: điểm của tỉnh (trên 100) nếu riêng đơn vị đó đạt mục tiêu; (+n hồ sơ) là số "
        "hồ sơ cần thêm. Gains are the province's points if that unit alone reached the "
        "targets; they do not add up across units. (+n hồ sơ) = extra dossiers needed."
    )


def _stake_cell(stake: UnitStake, key: str) -> str:
    needed = stake.numerator_needed.get(key, 0)
    if not needed:
        return "[dim]–[/]"
    return f"+{stake.by_indicator[key]:.2f}\n[dim]+{needed} hồ sơ[/]"
