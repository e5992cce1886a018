"""Write pipeline/schema/events-v1.json from the contract structs (``pipeline.events.schema()``).

Run after any change to pipeline/events.py:  .venv/bin/python tools/write_event_schema.py
tests/test_events.py fails while the committed file differs from the structs.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.events import schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "pipeline" / "schema" / "events-v1.json"


def render() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
