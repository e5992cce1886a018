"""`chiso766 demo`: a realistic day of the demo province streamed live through the real worker."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import date, datetime

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pipeline import broker
from pipeline.cli.options import with_settings
from pipeline.generator.noise import Noise
from pipeline.generator.profile import profile_named
from pipeline.generator.stream import generate_batches
from pipeline.rates import HEADLINE, INDICATORS, Counts, UnitTotals, roll_up, totals, weakest
from pipeline.reference import Reference, load_reference
from pipeline.settings import Settings
from pipeline.validation import record_ms_for
from pipeline.windows import DAY_MS, parse_time
from sinks.reader import dead_letter_counts, summed_rows
from streams.worker import WorkerCounters

REFRESH_S = 1.0


@click.command()
@click.option("--date", "day", default="2024-06-03", show_default=True,
              help="The day to simulate (a Monday is the busiest).")  # fmt: skip
@click.option(
    "--seed", default=766, show_default=True, help="Generator seed (same seed, same day)."
)
@click.option("--rate", default=3000, show_default=True,
              help="Events per second sent to Kafka, so the table visibly fills (0: as fast as possible).")  # fmt: skip
@with_settings
def demo(settings: Settings, day: str, seed: int, rate: int) -> None:
    """Stream a realistic day of the demo province through Kafka and the worker, live.

    Starts the local Kafka if needed (the results go to the embedded ClickHouse, so no server
    is needed), generates one day of dossier, payment and feedback events for the 122 units of
    the demo province (with a few duplicates and bad lines, as real feeds have), sends them to
    Kafka and runs the Faust worker in this process. The table shows the four headline rates
    of the province and the five weakest units as the numbers come in. Finishes in about a
    minute; afterwards inspect the same data with `chiso766 rates --namespace <printed name>`.

    Example: chiso766 demo --date 2024-06-10 --rate 0
    """
    console = Console()
    if (
        settings.namespace == Settings().namespace
    ):  # a fresh namespace per run, unless one is asked for
        settings = settings.replace(namespace=f"demo-{datetime.now():%Y%m%d-%H%M%S}")
    try:
        simulated = date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter(f"{day!r}: expected YYYY-MM-DD", param_hint="--date") from None
    started = time.monotonic()
    if not settings.kafka_bootstrap:
        from pipeline.stack.kafka import LocalKafka

        with console.status("Starting the local Kafka (first time: Maven downloads the broker)…"):
            LocalKafka(settings).up()
    reference = load_reference(settings)
    with console.status(f"Generating {simulated} for {reference.province}…"):
        lines = day_messages(settings, reference, simulated, seed, int(time.time() * 1000))
    console.print(
        f"[bold]{len(lines):,}[/] events for {simulated} ({simulated:%A}) · namespace [cyan]{settings.namespace}[/] · "
        f"Kafka {settings.bootstrap_servers} · {settings.store} store"
    )
    from streams.entry import assemble

    worker = assemble(settings, reference=reference)
    sender = threading.Thread(target=_send, args=(settings, lines, rate), daemon=True)
    day_start = parse_time(day)
    view = _LiveView(console, reference, settings, len(lines))

    import faust

    runner = faust.Worker(worker.app, loglevel="error", quiet=True, redirect_stdouts=False)

    @worker.app.timer(REFRESH_S)
    async def refresh() -> None:
        rows = summed_rows(worker.store, settings.database, day_start, day_start + DAY_MS)
        done = worker.counters.messages >= len(lines)
        view.update(rows, worker.counters.messages, done)
        if done:
            view.finish(
                worker.counters,
                dead_letter_counts(worker.store, settings.database),
                time.monotonic() - started,
            )
            await runner.stop()

    @worker.app.task
    async def start_sending() -> None:
        sender.start()

    # The Faust worker ends by raising SystemExit; the demo goes on to print its summary.
    with view.live, contextlib.suppress(SystemExit):
        runner.execute_from_commandline()
    worker.dead_letters.close()
    view.print_summary()


Message = tuple[str, bytes, bytes, int]
"""(topic, key, value, record timestamp in epoch ms) ready to send."""


def day_messages(
    settings: Settings, reference: Reference, day: date, seed: int, now_ms: int
) -> list[Message]:
    """One day of the full-volume province, with a little of the mess real feeds have.

    Records carry the lines' simulated emission times (capped at ``now_ms``), so a past day
    sent today is judged as it was then: lateness is measured against the record timestamp.
    """
    noise = Noise(duplicates=0.02, disorder=0.05, bad_fraction=0.005)
    batches = generate_batches(
        reference, seed=seed, start=day, days=1, profile=profile_named("province"), noise=noise
    )
    return [
        (
            settings.topic(broker.topic_for_type(kind)),
            dossier_id.encode(),
            line.encode(),
            record_ms_for(emitted_s * 1000, now_ms),
        )
        for batch in batches
        for emitted_s, line, dossier_id, kind in batch.items
    ]


def _send(settings: Settings, messages: list[Message], rate: int) -> None:
    """Produce the messages, keyed by dossier, at about ``rate`` per second (0: no pacing)."""
    producer = broker.new_producer(settings)
    chunk = max(1, rate // 10) if rate else len(messages)
    try:
        for first in range(0, len(messages), chunk):
            tick = time.monotonic()
            for topic, key, value, timestamp_ms in messages[first : first + chunk]:
                producer.send(topic, key=key, value=value, timestamp_ms=timestamp_ms)
            if rate:
                time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
        producer.flush()
    finally:
        producer.close()


class _LiveView:
    """The live table: province headline rates and the five weakest units."""

    def __init__(
        self, console: Console, reference: Reference, settings: Settings, total: int
    ) -> None:
        self.console = console
        self.reference = reference
        self.settings = settings
        self.total = total
        self.parents = reference.ancestry
        self.leaves = [u.code for u in reference.units if not reference.children(u.code)]
        self.live = Live(self._render({}, 0, False), console=console, refresh_per_second=4)
        self.summary: list[str] = []

    def update(
        self, rows: list[tuple[str, str, int, int, int]], processed: int, done: bool
    ) -> None:
        rolled = roll_up(totals(rows, 0, 2**62), self.parents)
        self.live.update(self._render(rolled, processed, done))

    def finish(self, c: WorkerCounters, dead: dict[str, int], elapsed_s: float) -> None:
        self.summary = [
            f"Processed {c.messages:,} messages in {elapsed_s:.0f} s: {c.accepted:,} accepted, "
            f"{c.unchanged:,} changed nothing (duplicates, re-sent facts, other event types), "
            f"{c.dead_letters:,} dead-lettered {dead or ''}.",
            f"Look again: chiso766 rates --namespace {self.settings.namespace} --window 24h --level district",
        ]

    def print_summary(self) -> None:
        self.console.print()
        for line in self.summary:
            self.console.print(line)

    def _render(self, rolled: UnitTotals, processed: int, done: bool) -> Group:
        root = self.reference.root
        province = Table(title=f"{root.name} — chỉ số trong ngày / today", expand=False)
        for indicator in HEADLINE:
            province.add_column(INDICATORS[indicator], justify="center")
        province.add_row(
            *(_cell(rolled.get(root.code, {}).get(i, Counts()), big=True) for i in HEADLINE)
        )
        weak = Table(title="5 đơn vị thấp nhất / five weakest units")
        weak.add_column("Đơn vị / unit", min_width=34)
        for indicator in HEADLINE:
            weak.add_column(indicator, justify="right")
        for code in weakest(rolled, self.leaves):
            per = rolled.get(code, {})
            weak.add_row(
                f"{self.reference.unit(code).name} [dim]{code}[/]",
                *(_cell(per.get(i, Counts())) for i in HEADLINE),
            )
        state = "[green]done[/]" if done else "[yellow]streaming[/]"
        progress = Text.from_markup(f"{state} · {processed:,} / {self.total:,} messages processed")
        return Group(province, weak, progress)


def _cell(counts: Counts, big: bool = False) -> str:
    if counts.rate is None:
        return "[dim]–[/]"
    rate = f"[bold]{100 * counts.rate:.1f}%[/]" if big else f"{100 * counts.rate:.1f}%"
    return f"{rate}\n[dim]{counts.numerator:,}/{counts.denominator:,}[/]"
