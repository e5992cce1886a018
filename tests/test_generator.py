"""The generator: reproducible bytes, valid contract events, a simulated year on the seed figures, its
trend, unit heterogeneity, realistic timing, incidents and noise.

Rates are recomputed here from the raw lines with the stdlib json module, independently of the
generator's own model: once per dossier, in the unit of its dossier.received, event_id
duplicates and re-sent facts counted once.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.cli.generate import generate as generate_command
from pipeline.errors import DecodeError
from pipeline.events import decode_event, encode_event
from pipeline.generator import (
    BAD_KINDS,
    PROFILES,
    Noise,
    generate_batches,
    generate_lines,
    parse_incident,
    write_jsonl,
)
from pipeline.reference import load_reference
from pipeline.validation import accept_event

REFERENCE = load_reference()
HORIZON_DAYS = 400
VIETNAM = timezone(timedelta(hours=7))
NOW_MS = 1_735_689_600_000  # 2025-01-01: after everything generated for 2024, decades before the far-future lines
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "pipeline" / "schema" / "events-v1.json").read_text()
)
SEED_FIGURES = {
    "online_filing": 57.6,
    "online_payment": 68.14,
    "e_result": 77.94,
    "digitization": 75.62,
    "data_reuse": 76.4,
    "portal_sync": 100.0,
}
HEADLINE = ("online_filing", "online_payment", "e_result", "digitization", "data_reuse")


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class Dossier:
    received: dict[str, Any] | None = None
    online_paid: bool = False
    digitized: bool = False
    reused: bool = False
    synced: bool = False
    completed: dict[str, Any] | None = None
    e_result: bool = False
    payments: list[dict[str, Any]] = field(default_factory=list)


def ledger(lines: Iterable[str]) -> dict[str, Dossier]:
    """Per dossier, what the events say, each event_id and each fact counted once."""
    seen: set[str] = set()
    dossiers: dict[str, Dossier] = defaultdict(Dossier)
    for line in lines:
        event = json.loads(line)
        if event["event_id"] in seen:
            continue
        seen.add(event["event_id"])
        d = dossiers[event["dossier_id"]]
        kind = event["type"]
        if kind == "dossier.received":
            if d.received is None or event["occurred_at"] < received_of(d)["occurred_at"]:
                d.received = event
        elif kind == "payment.succeeded":
            d.payments.append(event)
            d.online_paid |= event["method"] in ("online_national", "online_provincial")
        elif kind == "dossier.digitized":
            d.digitized |= event["components"] >= 1
            d.reused |= event["reused_components"] >= 1
        elif kind == "dossier.synced":
            d.synced = True
        elif kind == "dossier.completed":
            if d.completed is None or event["occurred_at"] < d.completed["occurred_at"]:
                d.completed = event
        elif kind == "dossier.result_issued":
            d.e_result |= event["electronic"] is True
    return dossiers


def received_of(d: Dossier) -> dict[str, Any]:
    assert d.received is not None
    return d.received


def rates(dossiers: dict[str, Dossier], keep: Any = lambda d: True) -> dict[str, float]:
    """The six rates in percent over the dossiers ``keep`` accepts (received-anchored; e_result
    over those of them completed, not withdrawn, with a document result)."""
    received = [d for d in dossiers.values() if d.received is not None and keep(d)]
    fee = [d for d in received if received_of(d)["fee_amount"] > 0]
    completed = [
        d
        for d in received
        if d.completed is not None
        and d.completed["outcome"] != "withdrawn"
        and REFERENCE.procedure(received_of(d)["procedure_code"]).result_is_document
    ]

    def pct(part: int, whole: int) -> float:
        return 100.0 * part / whole if whole else float("nan")

    return {
        "online_filing": pct(
            sum(received_of(d)["channel"] == "online" for d in received), len(received)
        ),
        "online_payment": pct(sum(d.online_paid for d in fee), len(fee)),
        "e_result": pct(sum(d.e_result for d in completed), len(completed)),
        "digitization": pct(sum(d.digitized for d in received), len(received)),
        "data_reuse": pct(sum(d.reused for d in received), len(received)),
        "portal_sync": pct(sum(d.synced for d in received), len(received)),
    }


def received_in(first: date, last: date) -> Any:
    return lambda d: first <= moment(received_of(d)["occurred_at"]).date() <= last


@pytest.fixture(scope="module")
def year_lines() -> list[str]:
    """A simulated 2024 at 60,000 dossiers a year: every day of the year, scaled-down volume."""
    return list(
        generate_lines(REFERENCE, seed=2024, start=date(2024, 1, 1), days=366, profile="small")
    )


@pytest.fixture(scope="module")
def year(year_lines: list[str]) -> dict[str, Dossier]:
    return ledger(year_lines)


# --- reproducibility and validity ------------------------------------------------------------


def _bytes(**options: Any) -> bytes:
    out = io.BytesIO()
    write_jsonl(generate_batches(REFERENCE, **options), out)
    return out.getvalue()


def test_same_seed_gives_byte_identical_output() -> None:
    options: dict[str, Any] = {
        "seed": 7,
        "start": date(2024, 3, 1),
        "days": 4,
        "profile": PROFILES["tiny"],
        "noise": Noise(duplicates=0.05, disorder=0.05, bad_fraction=0.02),
        "incidents": [parse_incident("payment-outage:H70.22:2024-03-02:2024-03-03", REFERENCE)],
    }
    first = _bytes(**options)
    assert first and first == _bytes(**options)
    assert first != _bytes(**{**options, "seed": 8})


def test_lines_are_canonical_valid_contract_events() -> None:
    lines = list(generate_lines(REFERENCE, seed=1, days=2, profile="demo"))
    assert len(lines) > 5_000
    received: Counter[str] = Counter()
    for line in lines:
        event = accept_event(line, REFERENCE, NOW_MS, HORIZON_DAYS)
        assert encode_event(event).decode() == line  # byte-identical to the contract's encoding
        assert line.count('+07:00"') >= 1
        if event.type == "dossier.received":
            received[event.dossier_id] += 1
    assert received and max(received.values()) == 1
    assert {json.loads(line)["type"] for line in lines} >= {
        "dossier.received", "dossier.digitized", "dossier.synced", "dossier.completed",
        "dossier.result_issued", "payment.succeeded", "dossier.rated", "dossier.supplement_requested",
    }  # fmt: skip


def _check(value: Any, rule: dict[str, Any], where: str) -> None:
    """A small JSON Schema checker for the keywords the committed schema uses."""
    if "$ref" in rule:
        rule = SCHEMA["$defs"][rule["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in rule:
        errors = []
        for option in rule["anyOf"]:
            try:
                _check(value, option, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: matches no option: {errors[:2]}")
    if "enum" in rule:
        assert value in rule["enum"], f"{where}: {value!r} not in {rule['enum']}"
    kind = rule.get("type")
    python = {"object": dict, "string": str, "integer": int, "boolean": bool}
    if kind is not None:
        assert isinstance(value, python[kind]) and not (
            kind == "integer" and isinstance(value, bool)
        ), where
    if kind == "object":
        for name in rule.get("required", []):
            assert name in value, f"{where}: missing {name}"
        for name, sub in rule.get("properties", {}).items():
            if name in value:
                _check(value[name], sub, f"{where}.{name}")
    if kind == "string":
        assert rule.get("minLength", 0) <= len(value) <= rule.get("maxLength", 10**9), where
        if rule.get("format") == "date-time":
            assert re.fullmatch(
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)", value
            ), where
    if kind == "integer":
        assert rule.get("minimum", -(10**30)) <= value <= rule.get("maximum", 10**30), where


def test_generated_lines_validate_against_the_committed_json_schema() -> None:
    for number, line in enumerate(generate_lines(REFERENCE, seed=3, days=1, profile="demo")):
        _check(json.loads(line), SCHEMA, f"line {number}")


# --- the simulated year ----------------------------------------------------------------------


def test_simulated_year_lands_on_the_seed_figures(year: dict[str, Dossier]) -> None:
    measured = rates(year)
    assert sum(d.received is not None for d in year.values()) > 55_000
    for name, seed in SEED_FIGURES.items():
        assert abs(measured[name] - seed) <= 1.5, f"{name}: {measured[name]:.2f}% vs seed {seed}%"


def test_rates_climb_through_the_year(year: dict[str, Dossier]) -> None:
    first = rates(year, received_in(date(2024, 1, 1), date(2024, 3, 31)))
    last = rates(year, received_in(date(2024, 10, 1), date(2024, 12, 31)))
    for name in HEADLINE:
        assert last[name] - first[name] >= 5.0, (
            f"{name}: Q1 {first[name]:.1f}% -> Q4 {last[name]:.1f}%"
        )
    assert first["portal_sync"] == last["portal_sync"] == 100.0


def test_units_differ_and_some_communes_lag_far_behind(year: dict[str, Dossier]) -> None:
    province = rates(year)["online_filing"]
    by_unit: dict[str, list[Dossier]] = defaultdict(list)
    for d in year.values():
        if d.received is not None:
            by_unit[received_of(d)["unit_code"]].append(d)
    communes = {
        code: rates({str(i): d for i, d in enumerate(members)})["online_filing"]
        for code, members in by_unit.items()
        if REFERENCE.unit(code).level == "commune" and len(members) >= 150
    }
    assert len(communes) >= 40
    laggards = [code for code, rate in communes.items() if rate <= province - 15.0]
    assert len(laggards) >= 3, sorted(communes.values())[:5]
    assert max(communes.values()) - min(communes.values()) >= 30.0


DAYS_OFF_2024 = {
    date(2024, 1, 1),
    *(date(2024, 2, d) for d in (8, 9, 12, 13, 14)),
    date(2024, 4, 18),
    date(2024, 4, 29),  # bridge day, worked on Saturday 4 May
    date(2024, 4, 30),
    date(2024, 5, 1),
    date(2024, 9, 2),
    date(2024, 9, 3),
}
"""The weekdays public offices were closed in 2024, from the Ministry of Labour's notice."""
MAKEUP_SATURDAY_2024 = date(2024, 5, 4)


def test_timing_follows_office_hours_working_days_and_due_dates(year: dict[str, Dossier]) -> None:
    per_weekday: Counter[int] = Counter()
    working_days: Counter[int] = Counter()
    late_payments = online_payments = late_completions = completions = 0
    for d in year.values():
        if d.received is None:
            continue
        received = moment(received_of(d)["occurred_at"])
        local = received.astimezone(VIETNAM)
        assert local.weekday() < 5 or local.date() == MAKEUP_SATURDAY_2024, d.received
        assert local.date() not in DAYS_OFF_2024, d.received
        assert (local.hour, local.minute) >= (7, 30) and local.hour < 17, d.received
        assert moment(received_of(d)["due_at"]) >= received
        per_weekday[local.weekday()] += 1
        for payment in d.payments:
            if payment["method"].startswith("online"):
                online_payments += 1
                late_payments += moment(payment["occurred_at"]) - received >= timedelta(days=1)
        if d.completed is not None and d.completed["outcome"] != "withdrawn":
            completions += 1
            late_completions += moment(d.completed["occurred_at"]) > moment(
                received_of(d)["due_at"]
            )
            assert moment(d.completed["occurred_at"]) > received
    day = date(2024, 1, 1)
    while day.year == 2024:
        if day.weekday() < 5 and day not in DAYS_OFF_2024:
            working_days[day.weekday()] += 1
        day += timedelta(days=1)
    assert per_weekday[5] > 0  # the make-up Saturday received dossiers
    average = {w: per_weekday[w] / working_days[w] for w in range(5)}
    assert average[0] > 1.15 * max(average[w] for w in range(1, 5)), average  # Monday peak
    assert 0.05 <= late_payments / online_payments <= 0.30
    assert 0.02 <= late_completions / completions <= 0.12


def test_events_before_the_window_still_show_up_as_completions_on_day_one() -> None:
    lines = list(generate_lines(REFERENCE, seed=5, start=date(2024, 6, 3), days=1, profile="demo"))
    kinds = Counter(json.loads(line)["type"] for line in lines)
    assert kinds["dossier.completed"] > 0.5 * kinds["dossier.received"]
    assert all(line.split('"occurred_at":"', 1)[1].startswith("2024-06-03") for line in lines)


# --- incidents -------------------------------------------------------------------------------


def test_payment_outage_drops_online_payment_for_that_unit_and_period_only() -> None:
    district = "H70.22"  # Thị xã Bình Long and its six communes
    affected = {district, *REFERENCE.descendants(district)}
    options: dict[str, Any] = {
        "seed": 11,
        "start": date(2024, 4, 1),
        "days": 12,
        "profile": PROFILES["demo"],
    }
    quiet = list(generate_batches(REFERENCE, **options))
    outage = list(
        generate_batches(
            REFERENCE,
            **options,
            incidents=[
                parse_incident(f"payment-outage:{district}:2024-04-02:2024-04-05", REFERENCE)
            ],
        )
    )
    quiet_lines = [line for batch in quiet for line in batch.lines]
    outage_lines = [line for batch in outage for line in batch.lines]

    def in_outage(d: Dossier) -> bool:
        return received_of(d)["unit_code"] in affected and received_in(
            date(2024, 4, 2), date(2024, 4, 4)
        )(d)

    before, during = rates(ledger(quiet_lines), in_outage), rates(ledger(outage_lines), in_outage)
    assert during["online_payment"] <= before["online_payment"] - 30.0, (before, during)
    assert during["online_filing"] == before["online_filing"]
    failed = [json.loads(x) for x in outage_lines if '"type":"payment.failed"' in x]
    assert sum(f["unit_code"] in affected for f in failed) > 5

    def others(lines: list[str]) -> list[str]:
        return [x for x in lines if json.loads(x)["unit_code"] not in affected]

    assert others(quiet_lines) == others(outage_lines)  # nobody else is touched


def test_digitization_outage_stops_digitising_at_the_commune() -> None:
    commune = REFERENCE.units_at("commune")[3].code
    options: dict[str, Any] = {
        "seed": 12,
        "start": date(2024, 4, 1),
        "days": 5,
        "profile": PROFILES["province"],
    }
    spec = f"digitization-outage:{commune}:2024-04-02:2024-04-03"
    lines = list(generate_lines(REFERENCE, **options, incidents=[parse_incident(spec, REFERENCE)]))
    mine = ledger(x for x in lines if json.loads(x)["unit_code"] == commune)
    during = rates(mine, received_in(date(2024, 4, 2), date(2024, 4, 3)))
    after = rates(mine, received_in(date(2024, 4, 4), date(2024, 4, 5)))
    assert during["digitization"] == 0.0
    assert after["digitization"] > 30.0


def test_incident_spec_errors_say_what_is_wrong() -> None:
    for spec, message in [
        ("payment-outage:H70.21", "expected KIND:UNIT:FROM:TO"),
        ("flood:H70.21:2024-01-01:2024-01-02", "unknown kind 'flood'"),
        ("payment-outage:H99:2024-01-01:2024-01-02", "unknown unit 'H99'"),
        ("payment-outage:H70:2024-01-05:2024-01-02", "TO must be after FROM"),
    ]:
        with pytest.raises(Exception, match=message):
            parse_incident(spec, REFERENCE)
    timed = parse_incident("sync-outage:H70:2024-01-02T08:00:2024-01-02T17:30", REFERENCE)
    assert timed.end_s - timed.start_s == 9.5 * 3600


# --- noise -----------------------------------------------------------------------------------


def test_noise_adds_bad_lines_duplicates_and_disorder_without_changing_the_facts() -> None:
    options: dict[str, Any] = {"seed": 21, "start": date(2024, 5, 6), "days": 2, "profile": "demo"}
    quiet = list(generate_lines(REFERENCE, **options))
    noisy = list(
        generate_lines(
            REFERENCE, **options, noise=Noise(duplicates=0.05, disorder=0.1, bad_fraction=0.04)
        )
    )
    good: list[str] = []
    bad: Counter[str] = Counter()
    for line in noisy:
        try:
            accept_event(line, REFERENCE, NOW_MS, HORIZON_DAYS)
            good.append(line)
        except DecodeError as error:
            bad[error.kind] += 1
    assert set(bad) == set(BAD_KINDS)
    assert 0.03 <= sum(bad.values()) / len(noisy) <= 0.05
    assert 0.04 <= (len(good) - len(quiet)) / len(quiet) <= 0.06

    def facts(lines: Iterable[str]) -> set[bytes]:
        out = set()
        for line in lines:
            event = decode_event(line)
            out.add(
                encode_event(event).replace(b'r","schema"', b'","schema"')
            )  # re-sent under a new id
        return out

    assert facts(good) == facts(quiet)

    def occurred(line: str) -> datetime:
        return moment(json.loads(line)["occurred_at"])

    assert quiet == sorted(quiet, key=occurred)
    assert good != sorted(good, key=occurred)  # held back: some arrive after later events


# --- the command -----------------------------------------------------------------------------


def test_generate_command_writes_the_same_file_twice_and_reports_json(tmp_path: Path) -> None:
    runner = CliRunner()
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        path = tmp_path / name
        result = runner.invoke(
            generate_command,
            [
                "--profile",
                "tiny",
                "--days",
                "3",
                "--bad-fraction",
                "0.01",
                "--out",
                str(path),
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        outputs.append(path.read_bytes())
        summary = json.loads(result.stdout)
    assert outputs[0] == outputs[1]
    assert summary["lines"] == outputs[0].count(b"\n") and summary["days"] == 3
    assert summary["bad_lines"] >= 0 and summary["dossiers"] > 0


@pytest.mark.parametrize(
    "flags",
    [
        ["--days", "0"],
        ["--bad-fraction", "1.5"],
        ["--profile", "country"],
        ["--start", "yesterday"],
        ["--incident", "payment-outage:H99:2024-01-01:2024-01-02"],
    ],
)
def test_generate_command_rejects_bad_flags_with_one_line(flags: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(generate_command, [*flags, "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2
    assert "Error:" in result.output
    assert not (tmp_path / "x.jsonl").exists()
