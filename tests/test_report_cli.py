"""`chiso766 report` refuses bad input with a one-line reason and a non-zero exit."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.settings import Settings
from sinks.store import Store
from tests.stream_harness import settings_flags


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2024-06"], "give --out FILE.html or --serve"),
        (["--period", "2024-06", "--out", "r.html", "--serve"], "give --out FILE.html or --serve"),
        (["--period", "2024-13", "--out", "r.html"], "expected YYYY, YYYY-Qn or YYYY-MM"),
        (["--from", "2024-06-03", "--out", "r.html"], "--from and --to go together"),
        (["--period", "2024-06", "--from", "2024-06-03", "--to", "2024-06-04", "--out", "r.html"],
         "not both"),
        (["--from", "2024-06-05", "--to", "2024-06-03", "--out", "r.html"], "must be after --from"),
        (["--from", "June", "--to", "2024-06-03", "--out", "r.html"], "expected 2024-06-03"),
        (["--period", "2024-06", "--unit", "H99", "--out", "r.html"], "unknown unit 'H99'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(settings: Settings, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["report", *settings_flags(settings), *args])
    assert result.exit_code != 0 and message in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.integration
def test_an_unknown_namespace_says_so(local_stack: Settings) -> None:
    settings = local_stack.replace(namespace="t-never-written", store="server")
    result = CliRunner().invoke(
        cli, ["report", *settings_flags(settings), "--period", "2024-06", "--out", "r.html"]
    )
    assert result.exit_code != 0
    assert "nothing stored for namespace 't-never-written'" in str(result.exception)


@pytest.mark.integration
def test_an_empty_period_renders_and_a_busy_port_is_one_line(
    store: Store, store_settings: Settings, tmp_path: Path
) -> None:
    flags = settings_flags(store_settings)
    out = tmp_path / "empty.html"
    result = CliRunner().invoke(cli, ["report", *flags, "--period", "2023-01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "Tháng 01/2023" in html and 'data-denominator="0"' in html
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = CliRunner().invoke(cli, ["report", *flags, "--serve", "--port", port])
    assert result.exit_code != 0 and f"cannot listen on 127.0.0.1:{port}" in result.output
