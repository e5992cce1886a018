"""Copy the province's reference data (units, procedures) into ClickHouse for panels and SQL roll-ups."""

from __future__ import annotations

import time
from datetime import date

from pipeline.reference import Reference
from sinks.schema import PROCEDURE_COLUMNS, UNIT_COLUMNS
from sinks.store import Store


def store_reference(store: Store, database: str, reference: Reference) -> None:
    """Write every unit and procedure with a new version; read ``units`` and ``procedures`` FINAL.

    Idempotent: rows of the same content only gain a newer version.
    """
    version = time.time_ns()
    store.insert(
        f"{database}.units",
        UNIT_COLUMNS,
        [
            (u.code, u.name, u.level, u.parent or "", version, _iso(u.e_certified_copy_on))
            for u in reference.units
        ],
    )
    store.insert(
        f"{database}.procedures",
        PROCEDURE_COLUMNS,
        [
            (
                p.code,
                p.name,
                p.field,
                p.online_level,
                int(p.fee_bearing),
                int(p.result_is_document),
                int(p.full_process_eligible),
                version,
                p.level,
                p.agency,
                _iso(p.published_on),
                _iso(p.effective_on),
                _iso(p.public_on),
                int(p.record_complete),
                _iso(p.population_data_on),
            )
            for p in reference.procedures
        ],
    )


def _iso(day: date | None) -> str:
    """Dates as ``YYYY-MM-DD`` text (portable to 18.16 without a Nullable Date); '' for none."""
    return day.isoformat() if day is not None else ""
