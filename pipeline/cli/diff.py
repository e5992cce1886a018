"""``chiso766 diff``: compare this namespace's hourly counts with another's; exit 1 when they differ."""

from __future__ import annotations

import json

import click

from pipeline.cli.options import json_flag, parse_time_option, with_settings
from pipeline.diff import Difference, IndicatorSummary, compare
from pipeline.rates import Counts
from pipeline.settings import Settings
from pipeline.windows import rfc3339
from sinks.reader import hourly_rows, require_results
from sinks.store import open_store

EARLIEST_MS = 0
LATEST_MS = 4_102_444_800_000
"""2100-01-01: the default end of the compared range."""


@click.command("diff")
@click.option("--against", required=True, metavar="NAMESPACE",
              help="The other namespace (e.g. a replay's --into).")  # fmt: skip
@click.option(
    "--from", "from_ms", callback=parse_time_option, help="First hour compared (inclusive)."
)
@click.option(
    "--to", "to_ms", callback=parse_time_option, help="End of the compared range (exclusive)."
)
@json_flag
@with_settings
def diff(
    settings: Settings, against: str, from_ms: int | None, to_ms: int | None, as_json: bool
) -> int:
    """Compare the hourly counts of --namespace with those of --against, bucket by bucket.

    Every (unit, indicator, hour) whose numerator or denominator differs is printed with both
    sides (a bucket missing on one side is 0/0 there), followed by a summary per indicator:
    totals and rates on each side and how many buckets differ. Like diff(1), the exit status
    is 0 when there are no differences, 1 when there are, and 2 on error (unknown namespace,
    bad flag). Both namespaces must be in the same store (--store).

    --json prints one object: {"namespace", "against", "from", "to", "equal", "differences":
    [{"unit_code", "indicator", "bucket_start", "ours": {numerator, denominator}, "theirs":
    {...}}], "summary": {indicator: {"buckets", "differing", "ours", "theirs"}}}.

    \b
    Examples:
      chiso766 diff --namespace prod --against audit-2024-03 --from 2024-03-01 --to 2024-04-01
      chiso766 diff --against replay-check --json | jq '.summary'
    """
    other = settings.replace(namespace=against)  # checks the name: ConfigError -> exit 2
    start_ms = EARLIEST_MS if from_ms is None else from_ms
    end_ms = LATEST_MS if to_ms is None else to_ms
    if start_ms >= end_ms:
        raise click.BadParameter("--from must be before --to", param_hint="--from")
    store = open_store(settings)
    try:
        require_results(store, settings.database, settings.namespace)
        require_results(store, other.database, other.namespace)
        ours = hourly_rows(store, settings.database, start_ms, end_ms)
        theirs = hourly_rows(store, other.database, start_ms, end_ms)
    finally:
        store.close()
    differences, summary = compare(ours, theirs)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "namespace": settings.namespace,
                    "against": against,
                    "from": rfc3339(start_ms) if from_ms is not None else None,
                    "to": rfc3339(end_ms) if to_ms is not None else None,
                    "equal": not differences,
                    "differences": [_difference_json(d) for d in differences],
                    "summary": {i: _summary_json(s) for i, s in summary.items()},
                }
            )
        )
    else:
        _print(settings.namespace, against, differences, summary)
    return 1 if differences else 0


def _counts_json(counts: Counts) -> dict[str, int]:
    return {"numerator": counts.numerator, "denominator": counts.denominator}


def _difference_json(difference: Difference) -> dict[str, object]:
    return {
        "unit_code": difference.unit_code,
        "indicator": difference.indicator,
        "bucket_start": rfc3339(difference.bucket_start_ms),
        "ours": _counts_json(difference.ours),
        "theirs": _counts_json(difference.theirs),
    }


def _summary_json(summary: IndicatorSummary) -> dict[str, object]:
    return {
        "buckets": summary.buckets,
        "differing": summary.differing,
        "ours": _counts_json(summary.ours),
        "theirs": _counts_json(summary.theirs),
    }


def _fraction(counts: Counts) -> str:
    rate = f" ({100 * counts.rate:.2f}%)" if counts.rate is not None else ""
    return f"{counts.numerator:,}/{counts.denominator:,}{rate}"


def _print(
    ours: str,
    theirs: str,
    differences: list[Difference],
    summary: dict[str, IndicatorSummary],
) -> None:
    if differences:
        click.echo(f"{'unit':<12} {'indicator':<15} {'hour':<25} {ours:>16} {theirs:>16}")
        for d in differences:
            click.echo(
                f"{d.unit_code:<12} {d.indicator:<15} {rfc3339(d.bucket_start_ms):<25} "
                f"{d.ours.numerator:>7}/{d.ours.denominator:<8} "
                f"{d.theirs.numerator:>7}/{d.theirs.denominator:<8}"
            )
        click.echo("")
    for indicator, per in summary.items():
        click.echo(
            f"{indicator:<15} {per.differing:,} of {per.buckets:,} buckets differ; "
            f"{ours} {_fraction(per.ours)}, {theirs} {_fraction(per.theirs)}"
        )
    verdict = f"{len(differences):,} buckets differ" if differences else "no differences"
    click.echo(f"{ours} vs {theirs}: {verdict}")
