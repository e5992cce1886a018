"""`chiso766 alerts`: run the rate-drop evaluator live, list firing alerts, show history, backtest rules."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import click

from pipeline.alerts.evaluate import Evaluator
from pipeline.alerts.notification import notification
from pipeline.alerts.rules import RuleSet, load_rules
from pipeline.alerts.state import FIRING, PENDING, Transition
from pipeline.cli.options import json_flag, parse_time_option, with_settings
from pipeline.errors import Chiso766Error
from pipeline.reference import Reference, load_reference
from pipeline.settings import Settings
from pipeline.windows import rfc3339
from sinks import alert_store, schema
from sinks.alert_runner import backtest as run_backtest
from sinks.alert_runner import deliver, evaluate_due
from sinks.alert_store import StoredEvent
from sinks.reader import require_results, stream_time_ms
from sinks.replays import notifications_muted
from sinks.store import Store, open_store

_rules_option = click.option(
    "--rules", "rules_file", type=click.Path(dir_okay=False),
    help="Rules file (YAML); default: the rules shipped with chiso766.",
)  # fmt: skip


@click.group()
def alerts() -> None:
    """Alerts when a unit's rate drops: rules, live evaluation, history and backtests.

    \b
    Examples:
      chiso766 alerts run                       evaluate as data arrives; Ctrl-C stops
      chiso766 alerts list --json               what is firing now
      chiso766 alerts backtest --from 2024-05-06 --to 2024-06-10 --json
    """


def _load(settings: Settings, rules_file: str | None) -> tuple[Reference, RuleSet]:
    reference = load_reference(settings)
    return reference, load_rules(rules_file, reference.unit_codes, reference.levels)


@alerts.command()
@_rules_option
@click.option("--clock", type=click.Choice(["stream", "wall"]), default="stream", show_default=True,
              help="'stream': evaluate up to the newest stored event time (replays, history); "
                   "'wall': up to now (production, where a feed that stops entirely must alert).")  # fmt: skip
@click.option("--since", "since_ms", callback=parse_time_option,
              help="First instant to evaluate when nothing was evaluated before (default: the current hour).")  # fmt: skip
@click.option("--interval", "interval_s", default=60.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds between checks for newly closed hours.")  # fmt: skip
@click.option("--once", is_flag=True, help="Evaluate what is due, deliver, and exit.")
@click.option("--notify/--no-notify", default=None,
              help="Post to the webhook (CHISO766_ALERT_WEBHOOK). Default: yes if set, except in a replay namespace.")  # fmt: skip
@with_settings
def run(
    settings: Settings,
    rules_file: str | None,
    clock: str,
    since_ms: int | None,
    interval_s: float,
    once: bool,
    notify: bool | None,
) -> None:
    """Evaluate the rules live, hour by hour of event time, and deliver what fires or resolves.

    Each closed hour is judged once; states, transitions and progress are kept in ClickHouse
    (alert_state, alert_events, alert_progress), so a restart continues where it stopped and
    never fires twice. Transitions go to the {namespace}.alerts topic and, with a webhook, as
    JSON notifications (retried with backoff under one idempotency key).

    \b
    Examples:
      chiso766 alerts run --once --since 2024-06-03
      CHISO766_ALERT_WEBHOOK=https://chat.example/hook chiso766 alerts run --clock wall
    """
    reference, ruleset = _load(settings, rules_file)
    store = open_store(settings)
    schema.migrate(store, settings.database)
    follow_replays = notify is None
    if notify is None:
        notify = bool(settings.alert_webhook)
    if notify and not settings.alert_webhook:
        raise click.UsageError("--notify needs CHISO766_ALERT_WEBHOOK (the webhook URL)")
    evaluator = Evaluator(ruleset, reference)
    from sinks.alert_topic import AlertTopic
    from sinks.webhook import Webhook

    topic = AlertTopic(settings)
    webhook = Webhook(settings.alert_webhook) if notify else None

    def payload(event: StoredEvent) -> dict[str, object]:
        t = event.transition
        return notification(
            t, _unit_name(reference, t.unit_code), settings.namespace, settings.grafana_url
        )

    def publish(events: Sequence[StoredEvent]) -> None:
        topic.publish([payload(e) for e in events])

    def send(event: StoredEvent) -> None:
        assert webhook is not None
        webhook.send(payload(event))

    def skip(event: StoredEvent) -> None:
        """A transition while a replay without --notify runs (or in a namespace a replay
        created) is recorded and published, but nobody is called about it, now or later."""

    try:
        while True:
            now = int(time.time() * 1000)
            clock_ms = now if clock == "wall" else stream_time_ms(store, settings.database)
            if clock_ms is not None:
                for t in evaluate_due(store, settings.database, evaluator, clock_ms, since_ms):
                    click.echo(json.dumps(_transition_json(t), ensure_ascii=False))
            muted = follow_replays and notifications_muted(store, settings.database, now)
            try:
                deliver(store, settings.database, publish,
                        (skip if muted else send) if webhook else None,
                        lambda: int(time.time() * 1000))  # fmt: skip
            except Chiso766Error as error:
                if once:
                    raise
                # Undelivered transitions stay in alert_events; the next round retries them.
                click.echo(f"chiso766 alerts: delivery failed, retrying later: {error}", err=True)
            if once:
                return
            time.sleep(interval_s)
    finally:
        topic.close()


@alerts.command(name="list")
@json_flag
@with_settings
def list_alerts(settings: Settings, as_json: bool) -> None:
    """What is firing (and pending) now, from the stored alert state.

    \b
    Examples:
      chiso766 alerts list
      chiso766 alerts list --json
    """
    reference = load_reference(settings)
    store = _results(settings)
    states = [s for s in alert_store.load_states(store, settings.database).values() if s.is_active]
    states.sort(key=lambda s: (s.state != FIRING, s.since_ms, s.rule, s.unit_code))
    for s in states:
        row = {"rule": s.rule, "unit_code": s.unit_code, "unit_name": _unit_name(reference, s.unit_code),
               "state": s.state, "since": rfc3339(s.since_ms), "value": s.value, "baseline": s.baseline,
               "denominator": s.denominator}  # fmt: skip
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            mark = "FIRING " if s.state == FIRING else "pending" if s.state == PENDING else s.state
            click.echo(f"{mark}  {row['since']}  {s.rule:28} {s.unit_code:12} {row['unit_name']}  "
                       f"value {_pct(s.value)} baseline {_pct(s.baseline)} n={s.denominator}")  # fmt: skip
    if not states and not as_json:
        click.echo("nothing is firing")


@alerts.command()
@click.option(
    "--since",
    "since_ms",
    callback=parse_time_option,
    help="Only transitions at or after this time.",
)
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1), help="The newest N."
)
@json_flag
@with_settings
def history(settings: Settings, since_ms: int | None, limit: int, as_json: bool) -> None:
    """Past transitions (fired, resolved) with their delivery times, oldest first.

    \b
    Examples:
      chiso766 alerts history --since 2024-06-01
      chiso766 alerts history --limit 10 --json
    """
    store = _results(settings)
    for event in alert_store.load_events(store, settings.database, since_ms=since_ms, limit=limit):
        row = _transition_json(event.transition)
        if as_json:
            click.echo(
                json.dumps(
                    {**row, "published": event.published_ms > 0, "notified": event.notified_ms > 0}
                )
            )
        else:
            click.echo(f"{row['at']}  {row['state']:8} {row['rule']:28} {row['unit_code']:12} "
                       f"value {_pct(event.transition.value)} baseline {_pct(event.transition.baseline)}")  # fmt: skip


@alerts.command()
@click.option(
    "--from",
    "from_ms",
    callback=parse_time_option,
    required=True,
    help="First instant (ISO 8601 or a date).",
)
@click.option(
    "--to", "to_ms", callback=parse_time_option, required=True, help="Last instant (inclusive)."
)
@_rules_option
@json_flag
@with_settings
def backtest(
    settings: Settings, from_ms: int, to_ms: int, rules_file: str | None, as_json: bool
) -> None:
    """Evaluate rules over stored history as if live; print every transition. Writes nothing.

    Use it to tune a rules file before enabling it: the same data gives the same alerts as
    the live evaluator.

    \b
    Examples:
      chiso766 alerts backtest --from 2024-05-06 --to 2024-06-10 --json
      chiso766 alerts backtest --from 2024-06-03T08:00:00+07:00 --to 2024-06-04 --rules mine.yaml
    """
    if to_ms < from_ms:
        raise click.BadParameter("--to must not be before --from", param_hint="--to")
    reference, ruleset = _load(settings, rules_file)
    store = _results(settings)
    transitions = run_backtest(
        store, settings.database, Evaluator(ruleset, reference), from_ms, to_ms
    )
    for t in transitions:
        row = _transition_json(t)
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(f"{row['at']}  {t.state:8} {t.rule:28} {t.unit_code:12} "
                       f"value {_pct(t.value)} baseline {_pct(t.baseline)} n={t.denominator}")  # fmt: skip
    if not as_json:
        click.echo(f"{len(transitions)} transitions")


def _results(settings: Settings) -> Store:
    store = open_store(settings)
    require_results(store, settings.database, settings.namespace)
    if schema.current_version(store, settings.database) < 5:
        schema.migrate(store, settings.database)
    return store


def _transition_json(t: Transition) -> dict[str, object]:
    return {"rule": t.rule, "unit_code": t.unit_code, "indicator": t.indicator, "state": t.state,
            "at": rfc3339(t.at_ms), "value": t.value, "baseline": t.baseline, "denominator": t.denominator}  # fmt: skip


def _unit_name(reference: Reference, code: str) -> str:
    return reference.unit(code).name if reference.has_unit(code) else code


def _pct(value: float | None) -> str:
    """A rate as a percentage; minutes (stalled feeds) as they are."""
    if value is None:
        return "–"
    return f"{100 * value:.1f}%" if value <= 1 else f"{value:g} min"
