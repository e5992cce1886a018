"""Generated days loaded into a store through the worker's own core (no broker), for report tests.

``python -m tests.report_data FILE.jsonl --namespace NS --store embedded --chdb-path DIR`` loads
a file in a process of its own, so the embedded data directory is free again for the CLI
processes the tests run afterwards (chdb admits one process per directory).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from pipeline.generator.noise import Noise
from pipeline.generator.profile import profile_named
from pipeline.generator.stream import generate_batches
from pipeline.reference import Reference, load_reference
from pipeline.settings import Settings
from sinks import hourly, load, schema
from sinks.store import open_store


def generated_lines(
    reference: Reference, start: date, days: int, seed: int = 766, profile: str = "small"
) -> list[bytes]:
    """``days`` days of the province from ``start``, with duplicates, disorder and bad lines."""
    noise = Noise(duplicates=0.03, disorder=0.05, bad_fraction=0.005)
    batches = generate_batches(reference, seed=seed, start=start, days=days,
                               profile=profile_named(profile), noise=noise)  # fmt: skip
    return [line.encode() for batch in batches for line in batch.lines]


def load_lines(settings: Settings, reference: Reference, lines: Sequence[bytes]) -> None:
    """Process ``lines`` in batches as the worker does and store the rows, then fill the hourly
    aggregates. History from a file: no record timestamp, so only the contract's time range
    applies."""
    store = open_store(settings)
    try:
        schema.migrate(store, settings.database)
        load.load_lines(store, settings.database, lines, reference)
        hourly.refresh_all(store, settings.database)
    finally:
        store.close()


def main(argv: Sequence[str]) -> None:
    path, *flags = argv
    options = dict(zip(flags[::2], flags[1::2], strict=True))
    settings = Settings.resolve(
        {"namespace": options["--namespace"], "store": options.get("--store", "embedded"),
         "chdb_path": options.get("--chdb-path"),
         "clickhouse_port": int(options["--clickhouse-port"]) if "--clickhouse-port" in options else None}
    )  # fmt: skip
    lines = Path(path).read_bytes().splitlines()
    load_lines(settings, load_reference(settings), lines)


if __name__ == "__main__":
    main(sys.argv[1:])
