"""``chiso766 dead-letters list / redrive``: what was rejected and why; send what now passes back in."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import click
from kafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from pipeline import broker
from pipeline.cli.options import json_flag, parse_time_option, with_settings
from pipeline.cli.reference import reference_dir_option, reference_for
from pipeline.errors import StackError
from pipeline.redrive import RedrivePlan, plan_redrive
from pipeline.settings import Settings
from pipeline.windows import rfc3339
from sinks import schema
from sinks.dead_letters import Letter, letters, mark_redriven
from sinks.reader import require_results
from sinks.store import Store, open_store


def _filters(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--since",
        "since_ms",
        callback=parse_time_option,
        help="Only letters recorded at or after this time.",
    )(command)
    return click.option("--kind", help="Only letters of this kind, e.g. unknown_unit.")(command)


@click.group("dead-letters")
def dead_letters() -> None:
    """Rejected messages of the namespace: list them, or send those that now pass back in.

    A dead letter is a message the worker (or a replay into this namespace) rejected, kept
    with its original bytes, its kind (not_json, unknown_unit, far_future, ...) and the
    reason. Each rejected message is one letter, however often it was rejected.
    """


@dead_letters.command("list")
@_filters
@click.option("--all", "include_redriven", is_flag=True, help="Include letters already redriven.")
@click.option("--raw", "only_raw", is_flag=True,
              help="Print only the original messages, one per line (e.g. to fix and re-ingest).")  # fmt: skip
@json_flag
@with_settings
def list_letters(
    settings: Settings,
    kind: str | None,
    since_ms: int | None,
    include_redriven: bool,
    only_raw: bool,
    as_json: bool,
) -> None:
    """List open dead letters, oldest first: when, kind, where from, why.

    --json prints one object: {"count", "by_kind": {kind: n}, "letters": [{"letter_id",
    "recorded_at", "kind", "source", "reason", "raw", "redriven_at"}]}, raw being the
    original message.

    \b
    Examples:
      chiso766 dead-letters list
      chiso766 dead-letters list --kind unknown_unit --since 2024-06-01 --json
      chiso766 dead-letters list --kind not_json --raw > rejected.jsonl
    """
    store = open_store(settings)
    try:
        require_results(store, settings.database, settings.namespace)
        found = letters(
            store,
            settings.database,
            kind=kind,
            since_ms=since_ms,
            include_redriven=include_redriven,
        )
    finally:
        store.close()
    if only_raw:
        for letter in found:
            sys.stdout.write(letter.raw + "\n")
        return
    by_kind = dict(sorted(Counter(letter.kind for letter in found).items()))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "count": len(found),
                    "by_kind": by_kind,
                    "letters": [_letter_json(letter) for letter in found],
                },
                ensure_ascii=False,
            )
        )
        return
    table = Table(title=f"{len(found):,} dead letters in {settings.namespace}")
    for column in ("recorded", "kind", "source", "reason"):
        table.add_column(column)
    if include_redriven:
        table.add_column("redriven")
    for letter in found:
        cells = [rfc3339(letter.recorded_ms), letter.kind, letter.source, letter.reason]
        if include_redriven:
            cells.append(rfc3339(letter.redriven_ms) if letter.redriven_ms else "")
        table.add_row(*cells)
    Console().print(table)
    if by_kind:
        click.echo(", ".join(f"{k} {n:,}" for k, n in by_kind.items()))


def _letter_json(letter: Letter) -> dict[str, object]:
    return {
        "letter_id": str(letter.letter_id),
        "recorded_at": rfc3339(letter.recorded_ms),
        "kind": letter.kind,
        "source": letter.source,
        "reason": letter.reason,
        "raw": letter.raw,
        "raw_base64": letter.raw_base64 or None,
        "redriven_at": rfc3339(letter.redriven_ms) if letter.redriven_ms else None,
    }


@dead_letters.command("redrive")
@_filters
@click.option("--dry-run", is_flag=True, help="Only say what would be sent; send and mark nothing.")
@reference_dir_option
@json_flag
@with_settings
def redrive(
    settings: Settings,
    kind: str | None,
    since_ms: int | None,
    dry_run: bool,
    reference_dir: str | None,
    as_json: bool,
) -> None:
    """Send open dead letters that today's rules accept back to the input topics.

    Each open letter is checked again, as `ingest` checks a line, against the reference data
    (--reference-dir or CHISO766_REFERENCE_DIR: give the one the workers now use). One that
    passes is sent byte for byte to its input topic, keyed by its dossier, with its own
    occurred_at as the record time, and then marked redriven, so it is neither listed nor sent
    again. One that still fails stays an open letter. Workers count a re-sent event once
    even if it arrives twice, so a redrive interrupted before marking can simply be repeated.

    --json prints {"letters", "resent", "still_failing": {kind: n}, "topics": {topic: n},
    "dry_run"}.

    \b
    Examples:
      chiso766 dead-letters redrive --kind unknown_unit --reference-dir ./reference-2024-07
      chiso766 dead-letters redrive --since 2024-06-01 --dry-run --json
    """
    reference = reference_for(settings, reference_dir)
    now_ms = int(time.time() * 1000)
    store = open_store(settings)
    try:
        require_results(store, settings.database, settings.namespace)
        found = letters(store, settings.database, kind=kind, since_ms=since_ms)
        plan = plan_redrive(
            ((letter, letter.raw_bytes) for letter in found),
            reference,
            now_ms,
            settings.late_horizon_days,
        )
        if not dry_run and plan.resend:
            schema.migrate(store, settings.database)  # the marks table (migration 7)
            _send(settings, store, plan, now_ms)
    finally:
        store.close()
    still = dict(sorted(Counter(problem.kind for _, problem in plan.still_failing).items()))
    topics = dict(sorted(Counter(settings.topic(r.topic) for r in plan.resend).items()))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "letters": len(found),
                    "resent": len(plan.resend),
                    "still_failing": still,
                    "topics": topics,
                    "dry_run": dry_run,
                }
            )
        )
        return
    verb = "would send" if dry_run else "sent"
    click.echo(
        f"{len(found):,} open letters: {verb} {len(plan.resend):,} back to the input topics"
        + (f" ({', '.join(f'{t} {n:,}' for t, n in topics.items())})" if topics else "")
        + f"; {len(plan.still_failing):,} still fail"
        + (f" ({', '.join(f'{k} {n:,}' for k, n in still.items())})" if still else "")
    )
    for letter, problem in plan.still_failing[:3]:
        click.echo(f"  {letter.source}: {problem.kind}: {problem}")


def _send(settings: Settings, store: Store, plan: RedrivePlan[Letter], now_ms: int) -> None:
    """Produce every re-sent message (acks from all replicas), then mark the letters."""
    broker.ensure_topics(settings, broker.INPUT_TOPICS)
    producer = broker.new_producer(settings, acks="all", linger_ms=5)
    try:
        futures = [
            producer.send(
                settings.topic(r.topic), key=r.key, value=r.value, timestamp_ms=r.record_ms
            )
            for r in plan.resend
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    except KafkaError as exc:
        raise StackError(
            f"re-sending dead letters to Kafka at {settings.bootstrap_servers}: {exc}"
        ) from exc
    finally:
        producer.close()
    mark_redriven(
        store, settings.database, [(r.letter, settings.topic(r.topic)) for r in plan.resend], now_ms
    )
