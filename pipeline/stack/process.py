"""Detached service processes tracked by pid files: start, liveness, memory, stop only our own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def start_detached(
    argv: Sequence[str], log_path: Path, pid_path: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session so it outlives the CLI; record its pid; return the handle."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    pid_path.write_text(f"{proc.pid}\n")
    return proc


def read_pid(pid_path: Path) -> int | None:
    try:
        return int(pid_path.read_text().strip())
    except (OSError, ValueError):
        return None


def is_alive(pid: int, marker: str) -> bool:
    """True when ``pid`` runs and its command line contains ``marker`` (guards against pid reuse)."""
    try:
        cmdline = (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return marker in cmdline and state != "Z"


def rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` in MiB, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


def stop(pid: int, marker: str, timeout_s: float) -> bool:
    """SIGTERM ``pid`` (only if it is ours), wait up to ``timeout_s``, then SIGKILL. True if it ran."""
    if not is_alive(pid, marker):
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(pid, marker):
            _reap(pid)
            return True
        time.sleep(0.2)
    _signal_group(pid, signal.SIGKILL)
    while is_alive(pid, marker):
        time.sleep(0.1)
    _reap(pid)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the service leads its own session, so its group is exactly its tree
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
