"""In-process benchmark of the worker's own per-event cost: decode/validate/fold, then store.

No Kafka: generated province days are read from a file, cut into fetch-sized batches and fed to
``BatchProcessor.process`` and ``ResultWriter.write`` exactly as the worker does. Prints CPU-µs
per event for each step and for both together, on the chosen store, with the baseline of the
same run: decoding alone (the msgspec contract decode, which the processor cannot go below).

    .venv/bin/python benchmarks/bench_process.py                    # chdb, 2 province days
    .venv/bin/python benchmarks/bench_process.py --store server     # ClickHouse server
    .venv/bin/python benchmarks/bench_process.py --no-store         # processing only
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from pipeline.events import decode_event
from pipeline.processing import Incoming, processor_for
from pipeline.reference import load_reference
from pipeline.settings import Settings
from sinks.store import open_store
from sinks.writer import ResultWriter
from streams.entry import ensure_schema

REPO = Path(__file__).resolve().parents[1]


def generated(days: int, folder: Path) -> list[bytes]:
    out = folder / "events.jsonl"
    subprocess.run([sys.executable, "-m", "pipeline", "generate", "--profile", "province",
                    "--start", "2024-06-03", "--days", str(days), "--out", str(out),
                    "--duplicates", "0.02", "--disorder", "0.02", "--no-progress"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return out.read_bytes().splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2000, help="messages per fetch")
    parser.add_argument("--no-store", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        lines = generated(args.days, Path(folder))
        record_ms = 1_717_400_000_000 + 20 * 86_400_000  # within the horizon of every event
        messages = [
            Incoming(raw, f"bench[0]@{offset}", record_ms) for offset, raw in enumerate(lines)
        ]
        batches = [messages[i : i + args.batch] for i in range(0, len(messages), args.batch)]
        settings = Settings().replace(
            namespace=f"bench-process-{uuid.uuid4().hex[:6]}",
            store=args.store,
            chdb_path=str(Path(folder) / "chdb"),
        )
        reference = load_reference(settings)
        processor = processor_for(reference, settings.late_horizon_days)
        writer = None
        if not args.no_store:
            store = open_store(settings)
            ensure_schema(store, settings.database)
            writer = ResultWriter(store, settings.database, max_attempts=1)

        cpu0 = time.process_time()
        for message in messages:
            with contextlib.suppress(Exception):
                decode_event(message.raw or b"")
        decode_s = time.process_time() - cpu0

        process_s = write_s = 0.0
        wall0 = time.monotonic()
        for batch in batches:
            cpu0 = time.process_time()
            result = processor.process(batch)
            cpu1 = time.process_time()
            if writer is not None:
                writer.write(result, int(time.time() * 1000))
            process_s += cpu1 - cpu0
            write_s += time.process_time() - cpu1
        wall_s = time.monotonic() - wall0
        count = len(messages)

        def per_event(seconds: float) -> str:
            return f"{seconds * 1e6 / count:6.1f} CPU-µs/event"

        print(f"events         : {count:,} in {len(batches)} batches of {args.batch}")
        print(f"decode only    : {per_event(decode_s)}   (baseline: the contract decode)")
        print(f"process        : {per_event(process_s)}")
        if writer is not None:
            print(f"write ({args.store:8}): {per_event(write_s)}")
        print(f"process + write: {per_event(process_s + write_s)}   {count / wall_s:,.0f} events/s")
        if writer is not None and args.store == "server":
            store.execute(f"DROP DATABASE IF EXISTS {settings.database}")


if __name__ == "__main__":
    main()
