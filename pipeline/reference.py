"""Reference data of a province: its units (with their hierarchy) and its administrative procedures.

The data are two CSV files in one folder, ``units.csv`` and ``procedures.csv``; the demo
province (Bình Phước) ships in ``pipeline/reference_data/binh-phuoc``. ``load_reference`` reads
and checks them and returns an immutable ``Reference`` with the lookups the validator, the
generator and the worker need. Any problem raises ``ReferenceDataError`` naming file and line.

units.csv columns: ``code,name,level,parent`` (``parent`` empty for the one root).
procedures.csv columns: ``code,name,field,online_level,fee_bearing,result_is_document,
full_process_eligible`` and, optionally for the generator, ``level`` (the unit level that
handles it), ``agency`` (the handling unit's code), ``due_days`` (statutory working days) and
``fee_vnd`` (the usual fee). Booleans are ``true``/``false`` (also ``1``/``0``, ``yes``/``no``).

Catalogue columns for the 766 transparency, digitisation and online groups (optional, but all
of them or none): ``published_on`` (date of the publication decision), ``effective_on`` (date
its legal basis takes effect), ``public_on`` (date made public on the national procedure
database; empty: not yet), ``record_complete`` (the published record has every mandatory part)
and ``population_data_on`` (date connected to the population database; empty: not connected).
units.csv may carry ``e_certified_copy_on`` (date the unit started issuing e-certified copies
from originals; empty: not yet). Dates are ``YYYY-MM-DD``, Vietnam calendar days.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal

from pipeline.errors import ReferenceDataError
from pipeline.settings import Settings

DEMO_PROVINCE_DIR = Path(__file__).resolve().parent / "reference_data" / "binh-phuoc"
UNITS_FILE = "units.csv"
PROCEDURES_FILE = "procedures.csv"

OnlineLevel = Literal["full", "partial", "none"]
ONLINE_LEVELS: tuple[OnlineLevel, ...] = ("full", "partial", "none")
UNIT_COLUMNS = ("code", "name", "level", "parent")
LEVEL_NAMES: dict[str, tuple[str, str]] = {
    "province": ("Tỉnh", "Province"),
    "department": ("Sở, ban, ngành", "Departments"),
    "district": ("Huyện, thị xã, thành phố", "Districts"),
    "commune": ("Xã, phường, thị trấn", "Communes"),
}
"""Unit level -> (Vietnamese, English) label for people; another province's own levels show as is."""
PROCEDURE_COLUMNS = (
    "code",
    "name",
    "field",
    "online_level",
    "fee_bearing",
    "result_is_document",
    "full_process_eligible",
)
CATALOGUE_COLUMNS = (
    "published_on",
    "effective_on",
    "public_on",
    "record_complete",
    "population_data_on",
)
CERTIFIED_COPY_COLUMN = "e_certified_copy_on"
DEFAULT_DUE_DAYS = 10
DEFAULT_FEE_VND = 50_000
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass(frozen=True)
class Unit:
    """An agency that receives dossiers: a department, a district, a commune or ward, the province."""

    code: str
    name: str
    level: str
    parent: str | None
    e_certified_copy_on: date | None = None
    """First day the unit issues e-certified copies from originals (766 item 3.7); None: not yet."""


@dataclass(frozen=True)
class Procedure:
    """An administrative procedure (thủ tục hành chính) as published for the province."""

    code: str
    name: str
    field: str
    online_level: OnlineLevel
    fee_bearing: bool
    result_is_document: bool
    full_process_eligible: bool
    level: str = ""
    """The unit level that handles it (``department``, ``district``, ``commune``); empty: any."""
    agency: str = ""
    """The code of the one unit that handles it; empty: every unit of ``level``."""
    due_days: int = DEFAULT_DUE_DAYS
    """Statutory handling time in working days (0: within the day)."""
    fee_vnd: int = 0
    """The usual fee in VND (0 when not fee-bearing)."""
    published_on: date | None = None
    """Date of the publication decision (quyết định công bố), 766 items 1.1 and 1.2."""
    effective_on: date | None = None
    """Date the procedure's legal basis takes effect (1.1: publish 5 working days before)."""
    public_on: date | None = None
    """Date made public on the national procedure database (1.2, 1.3); None: not yet."""
    record_complete: bool = False
    """The public record has every mandatory part (1.3)."""
    population_data_on: date | None = None
    """Date connected to the population database for handling (3.6); None: not connected."""

    @property
    def is_online(self) -> bool:
        return self.online_level != "none"

    def is_handled_by(self, unit_level: str, unit_code: str) -> bool:
        """Whether a unit receives dossiers of this procedure (by its ``agency`` and ``level``)."""
        if self.agency:
            return self.agency == unit_code
        return self.level in ("", unit_level)


@dataclass(frozen=True)
class Reference:
    """One province's units and procedures, checked, with lookups. Build it with ``load_reference``."""

    province: str
    units: tuple[Unit, ...]
    procedures: tuple[Procedure, ...]
    source: str = field(default="", compare=False)
    has_catalogue: bool = False
    """procedures.csv carries the catalogue columns (otherwise 1.1-1.3 and 3.6 are unknown)."""
    has_certified_copy_register: bool = False
    """units.csv carries ``e_certified_copy_on`` (otherwise 3.7 is unknown)."""

    @cached_property
    def _units_by_code(self) -> dict[str, Unit]:
        return {u.code: u for u in self.units}

    @cached_property
    def _procedures_by_code(self) -> dict[str, Procedure]:
        return {p.code: p for p in self.procedures}

    @cached_property
    def unit_codes(self) -> frozenset[str]:
        return frozenset(self._units_by_code)

    @cached_property
    def procedure_codes(self) -> frozenset[str]:
        return frozenset(self._procedures_by_code)

    @cached_property
    def root(self) -> Unit:
        return next(u for u in self.units if u.parent is None)

    @cached_property
    def levels(self) -> tuple[str, ...]:
        """Unit levels in order of first appearance (root level first)."""
        return tuple(dict.fromkeys(u.level for u in self.units))

    @cached_property
    def result_is_document(self) -> Mapping[str, bool]:
        """procedure code -> whether its result is a document (the e_result denominator)."""
        return {p.code: p.result_is_document for p in self.procedures}

    def has_unit(self, code: str) -> bool:
        return code in self._units_by_code

    def has_procedure(self, code: str) -> bool:
        return code in self._procedures_by_code

    def unit(self, code: str) -> Unit:
        """The unit with this code; raises ReferenceDataError when there is none."""
        try:
            return self._units_by_code[code]
        except KeyError:
            raise ReferenceDataError(f"unknown unit {code!r} in {self.province}") from None

    def procedure(self, code: str) -> Procedure:
        """The procedure with this code; raises ReferenceDataError when there is none."""
        try:
            return self._procedures_by_code[code]
        except KeyError:
            raise ReferenceDataError(f"unknown procedure {code!r} in {self.province}") from None

    def ancestors(self, code: str) -> tuple[str, ...]:
        """The unit's roll-up chain: its parent, grandparent, ... up to the root (excluding itself)."""
        return self._ancestors[code]

    @property
    def ancestry(self) -> Mapping[str, tuple[str, ...]]:
        """unit code -> its roll-up chain (``ancestors``), for every unit."""
        return self._ancestors

    def roll_up(self, code: str) -> tuple[str, ...]:
        """The unit itself followed by its ancestors: every unit whose indicators include it."""
        return (code, *self._ancestors[code])

    def children(self, code: str) -> tuple[str, ...]:
        return self._children.get(code, ())

    def descendants(self, code: str) -> tuple[str, ...]:
        """Every unit below ``code`` (children, their children, ...), depth first."""
        out: list[str] = []
        stack = list(reversed(self.children(code)))
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(reversed(self.children(current)))
        return tuple(out)

    def units_at(self, level: str) -> tuple[Unit, ...]:
        return tuple(u for u in self.units if u.level == level)

    @cached_property
    def _ancestors(self) -> dict[str, tuple[str, ...]]:
        chains: dict[str, tuple[str, ...]] = {}
        for unit in self.units:
            chain: list[str] = []
            parent = unit.parent
            while parent is not None:
                chain.append(parent)
                parent = self._units_by_code[parent].parent
            chains[unit.code] = tuple(chain)
        return chains

    @cached_property
    def _children(self) -> dict[str, tuple[str, ...]]:
        grouped: dict[str, list[str]] = {}
        for unit in self.units:
            if unit.parent is not None:
                grouped.setdefault(unit.parent, []).append(unit.code)
        return {code: tuple(kids) for code, kids in grouped.items()}

    def to_json(self) -> dict[str, list[dict[str, object]]]:
        """{"units": [...], "procedures": [...]}, every column of both files."""
        return {
            "units": [
                {
                    "code": u.code,
                    "name": u.name,
                    "level": u.level,
                    "parent": u.parent,
                    "e_certified_copy_on": _iso(u.e_certified_copy_on),
                }
                for u in self.units
            ],
            "procedures": [
                {
                    "code": p.code,
                    "name": p.name,
                    "field": p.field,
                    "level": p.level,
                    "agency": p.agency or None,
                    "online_level": p.online_level,
                    "fee_bearing": p.fee_bearing,
                    "result_is_document": p.result_is_document,
                    "full_process_eligible": p.full_process_eligible,
                    "due_days": p.due_days,
                    "fee_vnd": p.fee_vnd,
                    "published_on": _iso(p.published_on),
                    "effective_on": _iso(p.effective_on),
                    "public_on": _iso(p.public_on),
                    "record_complete": p.record_complete,
                    "population_data_on": _iso(p.population_data_on),
                }
                for p in self.procedures
            ],
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def reference_dir(settings_or_path: Settings | str | Path | None) -> Path:
    """The folder to read: a path as given, ``settings.reference_dir``, or the demo province."""
    if isinstance(settings_or_path, Settings):
        return (
            Path(settings_or_path.reference_dir)
            if settings_or_path.reference_dir
            else DEMO_PROVINCE_DIR
        )
    if settings_or_path is None or str(settings_or_path) == "":
        return DEMO_PROVINCE_DIR
    return Path(settings_or_path)


def load_reference(settings_or_path: Settings | str | Path | None = None) -> Reference:
    """Read and check a province's units.csv and procedures.csv.

    Accepts Settings (uses ``reference_dir``; empty means the demo province), a folder path, or
    None (the demo province). Raises ReferenceDataError naming the file and line of the first
    problem: missing file or column, duplicate code, bad level or boolean, unknown parent or
    agency, no root or several, a cycle in the hierarchy.
    """
    folder = reference_dir(settings_or_path)
    unit_rows = _read_csv(folder / UNITS_FILE, UNIT_COLUMNS)
    procedure_rows = _read_csv(folder / PROCEDURES_FILE, PROCEDURE_COLUMNS)
    units = _parse_units(folder / UNITS_FILE, unit_rows)
    procedures = _parse_procedures(folder / PROCEDURES_FILE, procedure_rows, units)
    has_catalogue = _has_columns(folder / PROCEDURES_FILE, procedure_rows, CATALOGUE_COLUMNS)
    has_register = _has_columns(folder / UNITS_FILE, unit_rows, (CERTIFIED_COPY_COLUMN,))
    root = next(u for u in units if u.parent is None)
    return Reference(
        province=root.name,
        units=tuple(units),
        procedures=tuple(procedures),
        source=str(folder),
        has_catalogue=has_catalogue,
        has_certified_copy_register=has_register,
    )


def _has_columns(
    path: Path, rows: list[tuple[int, dict[str, str]]], columns: tuple[str, ...]
) -> bool:
    present = [c for c in columns if c in rows[0][1]]
    if present and len(present) != len(columns):
        missing = ", ".join(c for c in columns if c not in present)
        raise ReferenceDataError(f"{path}: catalogue columns come together; missing {missing}")
    return bool(present)


def _read_csv(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise ReferenceDataError(f"{path}: missing column(s) {', '.join(missing)}")
            rows = [
                (reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None})
                for row in reader
            ]
    except FileNotFoundError:
        raise ReferenceDataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReferenceDataError(f"{path}: cannot read: {exc}") from exc
    if not rows:
        raise ReferenceDataError(f"{path}: no rows")
    return rows


def _parse_units(path: Path, rows: list[tuple[int, dict[str, str]]]) -> list[Unit]:
    units: list[Unit] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        code, name, level = row["code"], row["name"], row["level"]
        where = f"{path}:{line}"
        if not code or not name or not level:
            raise ReferenceDataError(f"{where}: code, name and level must not be empty")
        if code in seen:
            raise ReferenceDataError(
                f"{where}: duplicate unit code {code!r} (first on line {seen[code]})"
            )
        seen[code] = line
        units.append(
            Unit(
                code=code,
                name=name,
                level=level,
                parent=row["parent"] or None,
                e_certified_copy_on=_day(
                    where, CERTIFIED_COPY_COLUMN, row.get(CERTIFIED_COPY_COLUMN, "")
                ),
            )
        )
    roots = [u.code for u in units if u.parent is None]
    if len(roots) != 1:
        raise ReferenceDataError(
            f"{path}: expected exactly one root unit (empty parent), found {roots}"
        )
    by_code = {u.code: u for u in units}
    for line, row in rows:
        parent = row["parent"]
        if parent and parent not in by_code:
            raise ReferenceDataError(
                f"{path}:{line}: unit {row['code']!r} has unknown parent {parent!r}"
            )
    for unit in units:
        steps, current = 0, unit
        while current.parent is not None:
            current = by_code[current.parent]
            steps += 1
            if steps > len(units):
                raise ReferenceDataError(f"{path}: the parents of {unit.code!r} form a cycle")
    return units


def _parse_procedures(
    path: Path, rows: list[tuple[int, dict[str, str]]], units: list[Unit]
) -> list[Procedure]:
    by_code = {u.code: u for u in units}
    levels = {u.level for u in units}
    seen: dict[str, int] = {}
    procedures: list[Procedure] = []
    for line, row in rows:
        where = f"{path}:{line}"
        code = row["code"]
        if not code or not row["name"]:
            raise ReferenceDataError(f"{where}: code and name must not be empty")
        if code in seen:
            raise ReferenceDataError(
                f"{where}: duplicate procedure code {code!r} (first on line {seen[code]})"
            )
        seen[code] = line
        online_level = row["online_level"]
        if online_level not in ONLINE_LEVELS:
            raise ReferenceDataError(
                f"{where}: online_level {online_level!r}: expected one of {', '.join(ONLINE_LEVELS)}"
            )
        fee_bearing = _boolean(where, "fee_bearing", row["fee_bearing"])
        eligible = _boolean(where, "full_process_eligible", row["full_process_eligible"])
        if online_level == "full" and not eligible:
            raise ReferenceDataError(
                f"{where}: a full-process procedure must be full_process_eligible"
            )
        level = row.get("level", "")
        if level and level not in levels:
            raise ReferenceDataError(f"{where}: level {level!r} is not a level of any unit")
        agency = row.get("agency", "")
        if agency and agency not in by_code:
            raise ReferenceDataError(f"{where}: agency {agency!r} is not a unit code")
        due_days = _whole(where, "due_days", row.get("due_days", ""), DEFAULT_DUE_DAYS)
        fee_vnd = _whole(
            where, "fee_vnd", row.get("fee_vnd", ""), DEFAULT_FEE_VND if fee_bearing else 0
        )
        if fee_bearing and fee_vnd <= 0:
            raise ReferenceDataError(f"{where}: a fee-bearing procedure needs fee_vnd > 0")
        procedures.append(
            Procedure(
                code=code,
                name=row["name"],
                field=row["field"],
                online_level=online_level,  # type: ignore[arg-type]
                fee_bearing=fee_bearing,
                result_is_document=_boolean(where, "result_is_document", row["result_is_document"]),
                full_process_eligible=eligible,
                level=level,
                agency=agency,
                due_days=due_days,
                fee_vnd=fee_vnd if fee_bearing else 0,
                published_on=_day(where, "published_on", row.get("published_on", "")),
                effective_on=_day(where, "effective_on", row.get("effective_on", "")),
                public_on=_day(where, "public_on", row.get("public_on", "")),
                record_complete=_boolean(
                    where, "record_complete", row.get("record_complete") or "false"
                ),
                population_data_on=_day(
                    where, "population_data_on", row.get("population_data_on", "")
                ),
            )
        )
    return procedures


def _day(where: str, column: str, raw: str) -> date | None:
    if raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ReferenceDataError(f"{where}: {column} {raw!r}: expected a date YYYY-MM-DD") from None


def _boolean(where: str, column: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ReferenceDataError(f"{where}: {column} {raw!r}: expected true or false")


def _whole(where: str, column: str, raw: str, default: int) -> int:
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ReferenceDataError(f"{where}: {column} {raw!r}: expected a whole number") from None
    if value < 0:
        raise ReferenceDataError(f"{where}: {column} {value}: must not be negative")
    return value
