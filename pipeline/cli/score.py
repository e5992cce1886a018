"""`chiso766 score`: the 766 score per unit and group for a period, and where effort pays most."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from pipeline.cli.options import chosen_units, json_flag, with_settings
from pipeline.rates import INDICATORS
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
from pipeline.scoring.pipeline_inputs import PIPELINE_TO_766
from pipeline.scoring.score import GroupScore, NotAvailable
from pipeline.settings import Settings
from pipeline.windows import period_bounds, rfc3339
from sinks.reader import require_results, summed_rows
from sinks.store import open_store

NOT_AVAILABLE = "chưa có dữ liệu / not available"
_TO_PIPELINE = {indicator_id: key for key, indicator_id in PIPELINE_TO_766.items()}
_DEFAULT_TARGETS = ", ".join(f"{k}={v:g}" for k, v in full_points_targets().items())
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
@click.option("--unit", "unit_code", help="One unit, e.g. H70.21 (its counts include every unit below it).")  # fmt: skip
@click.option("--level", help="Every unit of a level: province, department, district, commune.")
@click.option("--at-stake", "show_stake", is_flag=True,
              help="Rank units by the province points they would add by reaching --target rates.")  # fmt: skip
@click.option("--target", "targets", multiple=True, callback=_targets, metavar="INDICATOR=PCT",
              help=f"With --at-stake: a target rate, repeatable (default {_DEFAULT_TARGETS}).")  # fmt: skip
@json_flag
@with_settings
def score(
    settings: Settings,
    period: Period,
    unit_code: str | None,
    level: str | None,
    show_stake: bool,
    targets: dict[str, float],
    as_json: bool,
) -> None:
    """Show the Decision 766 score (out of 100) per unit and score group for a period.

    Scores come from the pipeline's own counts in ClickHouse: dossiers by reception time
    (e-results by completion time), in Vietnam time, rolled up the unit hierarchy. Ranks
    compare units of the same level (ties share a rank).

    The pipeline does not have every input yet (on-time handling, complaints and ratings,
    the national procedure database): those indicators show as "chưa có dữ liệu / not
    available" with the reason, never as 0. So the points are "available points / available
    maximum" (e.g. 21.63 / 30), and a group with a missing indicator shows only its part.

    By default: the province and every unit directly under it (departments and districts).
    --unit adds the unit's indicator-by-indicator breakdown.

    --at-stake answers "where does effort pay most": for each unit, the points the province
    would gain if that unit alone reached the target rates, largest first, with the extra
    dossiers each needs. Default targets are the rates that earn full 766 points in the
    scoring engine, not the province's current rates; --target sets one (0 leaves it out).

    \b
    Examples:
      chiso766 score --period 2024-06                     province, departments, districts
      chiso766 score --period 2024-Q2 --level commune     every commune, ranked
      chiso766 score --period 2024 --unit H70.21 --json   one district, all indicators
      chiso766 score --period 2024-06 --at-stake          where effort pays most
      chiso766 score --period 2024-06 --at-stake --level commune --target online_payment=80
    """
    label, start_ms, end_ms = period
    if unit_code and level:
        raise click.UsageError("give --unit or --level, not both")
    if targets and not show_stake:
        raise click.UsageError("--target applies to --at-stake only")
    reference = load_reference(settings)
    codes = _chosen_units(reference, unit_code, level, include_root=not show_stake)
    store = open_store(settings)
    try:
        require_results(store, settings.database, settings.namespace)
        rows = summed_rows(store, settings.database, start_ms, end_ms)
    finally:
        store.close()
    scores = score_period(rows, start_ms, end_ms, reference)
    if not scores.has_counts:
        raise click.ClickException(
            f"no indicator counts stored in {settings.database} ({settings.store} store) "
            f"for {label} ({rfc3339(start_ms)} to {rfc3339(end_ms)})"
        )
    if scores.unknown_units:
        click.echo(f"warning: counts of units not in the reference are left out: "
                   f"{', '.join(scores.unknown_units)}", err=True)  # fmt: skip
    header: dict[str, object] = {
        "period": label,
        "from": rfc3339(start_ms),
        "to": rfc3339(end_ms),
        "namespace": settings.namespace,
        "units_not_in_reference": list(scores.unknown_units),
    }
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
    _print_scores(reference, scores, ordered, f"{label}: {header['from']} → {header['to']}")


def _chosen_units(
    reference: Reference, unit_code: str | None, level: str | None, *, include_root: bool
) -> list[str]:
    chosen = chosen_units(reference, unit_code, level)
    if chosen is not None:
        return chosen
    root = reference.root.code
    return [root, *reference.children(root)] if include_root else list(reference.children(root))


# --- score ------------------------------------------------------------------------------------


def _print_scores(
    reference: Reference, scores: PeriodScores, codes: list[str], caption: str
) -> None:
    console = Console()
    table = Table(title="Chỉ số 766 — điểm theo đơn vị / score by unit", caption=caption)
    table.add_column("Đơn vị / unit")
    table.add_column("Hạng / rank", justify="right")
    table.add_column("Điểm / points\n(có dữ liệu)", justify="right")
    for group in scores.units[codes[0]].card.groups:
        table.add_column(f"{group.group.name_vi}\n[dim]{group.group.code} /{group.max_points:g}[/]",
                         justify="right")  # fmt: skip
    for code in codes:
        unit = scores.units[code]
        idle = all(c.denominator == 0 for c in unit.counts.values())
        table.add_row(
            f"{reference.unit(code).name}\n[dim]{code}[/]",
            f"{unit.rank}/{unit.rank_of}\n[dim]{unit.level}[/]",
            f"[bold]{unit.card.available_points:.2f}[/] / {unit.card.available_max:g}"
            + ("\nkhông có hồ sơ\nno dossiers" if idle else ""),
            *(_group_cell(g) for g in unit.card.groups),
            style="dim" if idle else None,
        )
    console.print(table)
    card = scores.units[codes[0]].card
    console.print(
        f"Điểm chỉ gồm các chỉ tiêu pipeline tính được: {card.available_max:g} / "
        f"{card.max_points:g} điểm. Points cover only what the pipeline computes "
        f"({card.available_max:g} of {card.max_points:g}); * = group incomplete, its "
        "available part only."
    )
    if len(codes) == 1:
        console.print(_indicator_table(scores.units[codes[0]]))
        return
    console.print(f"[bold]{NOT_AVAILABLE}[/]:")
    for group in card.groups:
        for indicator in group.indicators:
            if indicator.indicator.is_scored and isinstance(indicator.points, NotAvailable):
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
            note = f"{getattr(counts, 'numerator', '')}/{getattr(counts, 'denominator', '')}"
            table.add_row(name, rate, f"{score.points:.2f} / {score.max_points:g}",
                          f"{note} ({_TO_PIPELINE[score.id]})")  # fmt: skip
    return table


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
        table.add_column(f"{INDICATORS.get(key, key)}\n[dim]{key}[/]", justify="right")
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
