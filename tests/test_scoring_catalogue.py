"""Catalogue items (1.1-1.3, 3.6, 3.7, 4.1, 4.2, 4.4, 4.5) by hand, and the reference columns."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from pipeline.errors import ReferenceDataError
from pipeline.reference import Procedure, Reference, Unit, load_reference
from pipeline.scoring.catalogue import (
    Activity,
    catalogue_counts,
    day_start_ms,
    is_made_public_on_time,
    is_published_on_time,
    scopes,
    working_days_between,
)
from pipeline.scoring.rules import Counts
from pipeline.windows import period_bounds


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def proc(code: str, **kw: object) -> Procedure:
    base: dict[str, object] = dict(
        name=code, field="f", online_level="full", fee_bearing=False, result_is_document=True,
        full_process_eligible=True, level="commune",
    )  # fmt: skip
    base.update(kw)
    return Procedure(code=code, **base)  # type: ignore[arg-type]


REFERENCE = Reference(
    province="Test",
    units=(
        Unit("P", "Tỉnh", "province", None, date(2024, 6, 1)),
        Unit("D", "Sở", "department", "P", None),
        Unit("X", "Huyện", "district", "P", date(2024, 6, 30)),
        Unit("X1", "Xã 1", "commune", "X", date(2024, 7, 1)),
        Unit("X2", "Xã 2", "commune", "X", date(2024, 5, 2)),
    ),
    procedures=(
        # published 3 June, effective 20 June: 13 working days of lead; public the next day
        proc(
            "c1",
            fee_bearing=True,
            published_on=date(2024, 6, 3),
            effective_on=date(2024, 6, 20),
            public_on=date(2024, 6, 4),
            record_complete=True,
            population_data_on=date(2024, 6, 10),
        ),
        # published Friday 14 June, effective Monday 17: 1 working day; public after 10
        proc(
            "c2",
            online_level="partial",
            full_process_eligible=False,
            published_on=date(2024, 6, 14),
            effective_on=date(2024, 6, 17),
            public_on=date(2024, 6, 28),
        ),
        proc(
            "d1",
            level="department",
            agency="D",
            online_level="none",
            fee_bearing=True,
            full_process_eligible=False,
            published_on=date(2024, 7, 1),
            effective_on=date(2024, 8, 1),
            public_on=date(2024, 7, 2),
            record_complete=True,
        ),
    ),  # fmt: skip
    has_catalogue=True,
    has_certified_copy_register=True,
)
JUNE = period_bounds("2024-06")


@pytest.mark.parametrize(
    ("first", "last", "days"),
    [
        (date(2024, 6, 3), date(2024, 6, 20), 13),
        (date(2024, 6, 14), date(2024, 6, 17), 1),  # Friday to Monday
        (date(2024, 6, 17), date(2024, 6, 14), -1),
        (date(2024, 6, 3), date(2024, 6, 3), 0),
        # Tết 2024: 8-14 February are holidays; 7 Feb (Wed) -> 16 Feb (Fri) is 15 and 16 only
        (date(2024, 2, 7), date(2024, 2, 16), 2),
        # 29 Apr (bridge day), 30 Apr and 1 May off: 2 and 3 May only
        (date(2024, 4, 26), date(2024, 5, 3), 2),
        (date(2024, 5, 3), date(2024, 5, 6), 2),  # Saturday 4 May was worked for 29 Apr
        # 2023 is outside the exact table: the law's estimate, Tết 20-26 January
        (date(2023, 1, 19), date(2023, 1, 27), 1),
    ],
)
def test_working_days_between(first: date, last: date, days: int) -> None:
    assert working_days_between(first, last) == days


def test_publication_and_make_public_rules() -> None:
    c1, c2, d1 = REFERENCE.procedures
    assert is_published_on_time(c1) and not is_published_on_time(c2)
    assert is_made_public_on_time(c1, JUNE[1]) and not is_made_public_on_time(c2, JUNE[1])
    # not public yet as of the start of 4 June
    assert not is_made_public_on_time(c1, day_start_ms(date(2024, 6, 4)))
    assert is_made_public_on_time(c1, day_start_ms(date(2024, 6, 4)) + 1)
    assert is_published_on_time(d1)


def test_scopes_follow_the_hierarchy() -> None:
    by_unit = {code: [p.code for p in procs] for code, procs in scopes(REFERENCE).items()}
    assert by_unit == {"P": ["c1", "c2", "d1"], "D": ["d1"], "X": ["c1", "c2"],
                       "X1": ["c1", "c2"], "X2": ["c1", "c2"]}  # fmt: skip


def test_june_counts_by_hand() -> None:
    activity = {
        "X1": Activity(online=frozenset({"c1"}), with_fee=frozenset({"c1"})),
        "X2": Activity(online=frozenset({"c2"}), paid_online=frozenset({"c1"})),
    }
    counts = catalogue_counts(REFERENCE, *JUNE, JUNE[1], activity)
    x = counts["X"]
    assert x == {
        "published_on_time": Counts(1, 2),
        "made_public_on_time": Counts(1, 2),
        "complete_records": Counts(1, 2),
        "population_data_procedures": Counts(1, 2),
        "e_certified_copy_units": Counts(2, 3),  # X (30 June) and X2; X1 starts 1 July
        "online_services": Counts(2, 2),
        "online_services_used": Counts(2, 2),  # c1 at X1, c2 at X2
        "fee_procedures_with_fee": Counts(1, 1),
        "fee_procedures_paid_online": Counts(1, 1),
    }
    assert counts["X1"]["online_services_used"] == Counts(1, 2)
    assert counts["X1"]["e_certified_copy_units"] == Counts(0, 1)
    d = counts["D"]
    # d1 is published in July: nothing to publish in June (0 of 0); not public in June yet
    assert d["published_on_time"] == Counts(0, 0)
    assert d["complete_records"] == Counts(0, 0)
    assert d["online_services"] == Counts(0, 1)
    assert d["fee_procedures_with_fee"] == Counts(0, 1)
    assert counts["P"]["e_certified_copy_units"] == Counts(3, 5)
    assert counts["P"]["fee_procedures_with_fee"] == Counts(1, 2)


def test_as_of_mid_june_and_without_activity() -> None:
    counts = catalogue_counts(REFERENCE, *JUNE, ms("2024-06-12T12:00:00+07:00"), None)
    x = counts["X"]
    assert x["published_on_time"] == Counts(1, 1)  # c2's decision (14 June) is not known yet
    assert x["made_public_on_time"] == Counts(1, 1)
    assert x["population_data_procedures"] == Counts(1, 2)
    assert x["e_certified_copy_units"] == Counts(1, 3)  # X2 only
    assert "online_services_used" not in x


def _write(folder: Path, units: str, procedures: str) -> Path:
    folder.mkdir()
    (folder / "units.csv").write_text(units, encoding="utf-8")
    (folder / "procedures.csv").write_text(procedures, encoding="utf-8")
    return folder


UNITS = "code,name,level,parent\nP,Tỉnh,province,\nX,Xã,commune,P\n"
HEAD = "code,name,field,online_level,fee_bearing,result_is_document,full_process_eligible"


def test_catalogue_columns_are_read_and_optional(tmp_path: Path) -> None:
    plain = load_reference(_write(tmp_path / "a", UNITS, f"{HEAD}\n1,A,f,full,no,yes,yes\n"))
    assert not plain.has_catalogue and not plain.has_certified_copy_register
    full = load_reference(_write(
        tmp_path / "b",
        "code,name,level,parent,e_certified_copy_on\nP,Tỉnh,province,,\nX,Xã,commune,P,2024-01-02\n",
        f"{HEAD},published_on,effective_on,public_on,record_complete,population_data_on\n"
        "1,A,f,full,no,yes,yes,2024-06-03,2024-06-20,,true,\n",
    ))  # fmt: skip
    assert full.has_catalogue and full.has_certified_copy_register
    (p,) = full.procedures
    assert (p.published_on, p.public_on, p.record_complete) == (date(2024, 6, 3), None, True)
    assert full.unit("X").e_certified_copy_on == date(2024, 1, 2)
    assert full.to_json()["procedures"][0]["published_on"] == "2024-06-03"


@pytest.mark.parametrize(
    ("extra", "row", "message"),
    [
        (",published_on", ",2024-06-03", "catalogue columns come together"),
        (",published_on,effective_on,public_on,record_complete,population_data_on",
         ",2024-13-01,,,true,", "expected a date"),
    ],
)  # fmt: skip
def test_bad_catalogue_columns_name_file_and_line(
    tmp_path: Path, extra: str, row: str, message: str
) -> None:
    folder = _write(tmp_path / "c", UNITS, f"{HEAD}{extra}\n1,A,f,full,no,yes,yes{row}\n")
    with pytest.raises(ReferenceDataError, match=message):
        load_reference(folder)


def test_the_demo_province_has_the_catalogue() -> None:
    reference = load_reference()
    assert reference.has_catalogue and reference.has_certified_copy_register
    assert all(p.published_on is not None for p in reference.procedures)
    assert all(u.e_certified_copy_on is not None for u in reference.units)  # 122 of 122
