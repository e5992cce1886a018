"""The local stack's lifecycle on spare ports: idempotent up, status, down stops only ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.stack import process

pytestmark = pytest.mark.integration


def _stack(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["stack", *args], env=env)
    return result.exit_code, result.output


def test_kafka_up_is_idempotent_and_down_leaves_nothing_running(tmp_path: Path) -> None:
    flags = ["--only", "kafka", "--state-dir", str(tmp_path), "--kafka-port", "19392",
             "--kafka-controller-port", "19393", "--json"]  # fmt: skip
    code, output = _stack("up", *flags)
    assert code == 0, output
    (first,) = json.loads(output.splitlines()[-1])["services"]
    assert (
        first["healthy"]
        and first["address"] == "127.0.0.1:19392"
        and first["version"].startswith("4.")
    )
    code, output = _stack("up", *flags)
    (again,) = json.loads(output.splitlines()[-1])["services"]
    assert code == 0 and again["pid"] == first["pid"], "a second up starts nothing new"
    code, output = _stack("down", *flags)
    assert code == 0 and json.loads(output) == {"stopped": {"kafka": True}}
    assert not process.is_alive(first["pid"], "kafka.Kafka")
    code, output = _stack("status", *flags)
    (down,) = json.loads(output)["services"]
    assert code == 1 and not down["running"] and not down["healthy"]
    code, output = _stack("down", *flags)
    assert json.loads(output) == {"stopped": {"kafka": False}}


def test_missing_java_is_a_one_line_error_pointing_to_docker_compose(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = CliRunner().invoke(
        cli,
        ["stack", "up", "--only", "kafka", "--state-dir", str(tmp_path), "--kafka-port", "19394"],
        env={"PATH": str(empty)},
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    message = str(result.exception)
    assert "java is not installed" in message and "docker compose up" in message
    assert "\n" not in message


def test_a_port_answered_by_another_broker_is_reported_not_called_healthy(
    tmp_path: Path, local_stack: object
) -> None:
    """The shared broker on 9092 is not ours for a fresh state dir: up refuses, starts nothing."""
    flags = ["--only", "kafka", "--state-dir", str(tmp_path), "--kafka-port", "9092",
             "--kafka-controller-port", "19395"]  # fmt: skip
    result = CliRunner().invoke(cli, ["stack", "up", *flags])
    assert result.exit_code != 0
    message = str(result.exception)
    assert "another Kafka broker" in message and "127.0.0.1:9092" in message, message
    assert "\n" not in message
    assert not (tmp_path / "kafka" / "kafka.pid").exists(), "nothing was started"
    code, output = _stack("status", *flags, "--json")
    (status,) = json.loads(output)["services"]
    assert code == 1 and not status["healthy"]
