"""`chiso766 report`: the leaders' report as one offline HTML file, or served live on loopback."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import click

from dashboards.report.model import Report, build_report, previous_bounds, trend_step
from dashboards.report.page import render_page
from dashboards.report.server import ReportServer, digest_of
from pipeline.cli.options import parse_time_option, with_settings
from pipeline.reference import Reference, load_reference
from pipeline.settings import Settings
from pipeline.windows import period_bounds, rfc3339, to_local
from sinks.asof import state_as_of
from sinks.reader import require_results, stepped_rows, stream_time_ms, summed_rows
from sinks.store import Store, open_store

DEFAULT_PORT = 8766


@dataclass(frozen=True)
class PeriodChoice:
    """A calendar period label (``2024-06``), explicit bounds, or None: the month of the newest
    stored event (what a live page wants)."""

    label: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None

    def resolve(self, stored_until_ms: int | None) -> tuple[str, int, int]:
        """(label, start_ms, end_ms); raises click.ClickException when nothing is stored yet
        and no period was given."""
        if self.start_ms is not None and self.end_ms is not None:
            label = self.label or f"{rfc3339(self.start_ms)}/{rfc3339(self.end_ms)}"
            return label, self.start_ms, self.end_ms
        if self.label is not None:
            return (self.label, *period_bounds(self.label))
        if stored_until_ms is None:
            raise click.ClickException("no events stored yet; give --period or --from/--to")
        month = f"{to_local(stored_until_ms):%Y-%m}"
        return (month, *period_bounds(month))


def read_report(
    store: Store, database: str, reference: Reference, unit_code: str, period: PeriodChoice
) -> Report:
    """Read what the report needs from the store and build it (four queries)."""
    stored_until = stream_time_ms(store, database)
    label, start_ms, end_ms = period.resolve(stored_until)
    summed = summed_rows(store, database, start_ms, end_ms)
    stepped = stepped_rows(store, database, start_ms, end_ms, trend_step(start_ms, end_ms))
    previous = summed_rows(store, database, *previous_bounds(start_ms, end_ms))
    # The score as `chiso766 score` gives it: as of the period end, or now while it runs.
    as_of_ms = min(end_ms, int(time.time() * 1000))
    state = state_as_of(store, database, start_ms, end_ms, as_of_ms)
    return build_report(
        reference, unit_code, label, start_ms, end_ms, summed, stepped, stored_until, previous,
        state=state, as_of_ms=as_of_ms,
    )  # fmt: skip


def page_of(report: Report, live: bool) -> tuple[str, str]:
    """(version, HTML): the version is a digest of the report's data."""
    version = digest_of(report)
    return version, render_page(report, version=version, live=live)


def _period(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            period_bounds(value)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
    return value


@click.command("report")
@click.option("--period", callback=_period, metavar="PERIOD",
              help="A month (2024-06), quarter (2024-Q2) or year (2024), Vietnam time. "
                   "Default: the month of the newest stored event.")  # fmt: skip
@click.option(
    "--from",
    "from_ms",
    callback=parse_time_option,
    help="Start (inclusive): 2024-06-03 or RFC 3339.",
)
@click.option(
    "--to", "to_ms", callback=parse_time_option, help="End (exclusive): 2024-06-06 or RFC 3339."
)
@click.option("--unit", "unit_code", help="Report on one unit and the units below it, e.g. H70.21.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the page to this .html file.")  # fmt: skip
@click.option("--serve", is_flag=True, help="Serve the page live on 127.0.0.1 instead.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, help="Port for --serve.")
@with_settings
def report(
    settings: Settings,
    period: str | None,
    from_ms: int | None,
    to_ms: int | None,
    unit_code: str | None,
    out: Path | None,
    serve: bool,
    port: int,
) -> None:
    """The leaders' report: headline rates with trends, the 766 score, points at stake, the
    weakest units and rankings per level, Vietnamese first.

    --out writes one self-contained HTML file (styles and SVG charts inline, no request to
    the network): open it in any browser, print it, mail it. --serve shows the same page on
    http://127.0.0.1:PORT/ and the page refreshes itself as new rows are stored (it polls
    version.json every few seconds). Every figure is sum(numerator) / sum(denominator) over
    the period, as `chiso766 rates` prints it.

    With the embedded store, only one process can open the data directory: stop the worker
    first, use --store server, or run `chiso766 demo --serve`, which serves from the worker.

    \b
    Examples:
      chiso766 report --period 2024-06 --out out/report-2024-06.html
      chiso766 report --from 2024-06-03 --to 2024-06-06 --unit H70.21 --out district.html
      chiso766 report --serve --store server              live, this month
      chiso766 report --serve --port 8800 --period 2024-Q2
    """
    if serve == (out is not None):
        raise click.UsageError("give --out FILE.html or --serve")
    if (from_ms is None) != (to_ms is None):
        raise click.UsageError("--from and --to go together")
    if period and from_ms is not None:
        raise click.UsageError("give --period or --from/--to, not both")
    if from_ms is not None and to_ms is not None and from_ms >= to_ms:
        raise click.BadParameter("must be after --from", param_hint="--to")
    reference = load_reference(settings)
    code = unit_code or reference.root.code
    if not reference.has_unit(code):
        raise click.BadParameter(f"unknown unit {code!r}", param_hint="--unit")
    choice = PeriodChoice(period, from_ms, to_ms)
    store = open_store(settings)
    try:
        require_results(store, settings.database, settings.namespace)
        if serve:
            _serve(store, settings, reference, code, choice, port)
            return
        assert out is not None  # checked above
        report_value = read_report(store, settings.database, reference, code, choice)
    finally:
        store.close()
    _, html = page_of(report_value, live=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    click.echo(
        f"wrote {out} ({len(html.encode()) // 1024} KiB): {report_value.unit_name}, "
        f"{rfc3339(report_value.start_ms)} → {rfc3339(report_value.end_ms)}"
    )


def _serve(
    store: Store,
    settings: Settings,
    reference: Reference,
    code: str,
    choice: PeriodChoice,
    port: int,
) -> None:
    def snapshot() -> tuple[str, str]:
        return page_of(read_report(store, settings.database, reference, code, choice), live=True)

    try:
        server = ReportServer(snapshot, port)
    except OSError as error:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from None
    click.echo(f"serving the report on {server.url} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
