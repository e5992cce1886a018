"""Calibration check: the 766 score of a generated province against the seed (88.2 in 2024, 67.9 in January).

Generates a stretch of the province profile, folds every dossier's events into its state in
memory (the worker's decision core, ``sinks/load.load_folded``), stores one snapshot per dossier
in an embedded store, and prints the province's six groups and total for each period asked,
beside the seed's published figure. Figures for January come from a run that stops at the end
of January (the flags that are not clocks count whenever they arrived).

Run from the repository root (a full year of the province profile takes a while; the machine's
load matters):

    .venv/bin/python benchmarks/score_calibration.py --start 2024-01-01 --days 31 --period 2024-01
    .venv/bin/python benchmarks/score_calibration.py --start 2024-01-01 --days 366 \\
        --period 2024 --period 2024-01
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date

from pipeline.generator import generate_lines
from pipeline.reference import load_reference
from pipeline.scoring.period import score_period
from pipeline.scoring.score import NotAvailable
from pipeline.scoring.state_inputs import state_counts
from pipeline.settings import Settings
from pipeline.windows import period_bounds
from sinks import schema
from sinks.asof import dossier_rows, feedback_rows
from sinks.hourly import refresh_all
from sinks.load import load_folded
from sinks.reader import summed_rows
from sinks.store import open_store

SEED = {"2024": 88.2, "2024-01": 67.9}
"""The province's published 2024 total and the January figure it implies (spec section 6)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--profile", default="province")
    parser.add_argument("--seed", type=int, default=766)
    parser.add_argument("--period", action="append", default=[])
    args = parser.parse_args()
    periods = args.period or ["2024-01"]
    reference = load_reference()
    folder = tempfile.mkdtemp(prefix="chiso766-calibration-")
    settings = Settings.resolve({"chdb_path": folder}).replace(
        namespace="calibration", store="embedded"
    )
    store = open_store(settings)
    schema.migrate(store, settings.database)
    began = time.monotonic()
    lines = generate_lines(
        reference, seed=args.seed, start=args.start, days=args.days, profile=args.profile
    )
    accepted = load_folded(store, settings.database, lines, reference)
    refresh_all(store, settings.database)
    loaded_s = time.monotonic() - began
    print(f"{args.profile} profile, {args.days} days from {args.start}: {accepted:,} events "
          f"loaded in {loaded_s:.0f} s ({accepted / loaded_s:,.0f} events/s)")  # fmt: skip
    for period in periods:
        start_ms, end_ms = period_bounds(period)
        began = time.monotonic()
        rows = summed_rows(store, settings.database, start_ms, end_ms)
        state = state_counts(
            dossier_rows(store, settings.database, start_ms, end_ms, end_ms),
            feedback_rows(store, settings.database, start_ms, end_ms, end_ms),
        )
        scores = score_period(rows, start_ms, end_ms, reference, state=state)
        scored_s = time.monotonic() - began
        card = scores.units[reference.root.code].card
        total = card.total if not isinstance(card.total, NotAvailable) else card.available_points
        seed = SEED.get(period)
        print(f"\n{period}: total {total:.2f}" + (f"  (seed {seed}, diff {total - seed:+.2f})"
              if seed is not None else "") + f"  [read and scored in {scored_s:.1f} s]")  # fmt: skip
        for group in card.groups:
            parts = ", ".join(
                f"{s.id} {s.points:.2f}"
                + (f" ({s.rate_pct:.1f}%)" if s.rate_pct is not None else "")
                for s in group.indicators
                if s.indicator.is_scored and isinstance(s.points, float)
            )
            print(
                f"  {group.group.code} {group.available_points:6.2f} / {group.max_points:g}: {parts}"
            )
    store.close()


if __name__ == "__main__":
    main()
