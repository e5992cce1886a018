"""Make a directory the user named (--state-dir, --chdb-path), or say in one line why it cannot be."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pipeline.errors import ConfigError


def check_directory(path: Path, flag: str) -> None:
    """Raise ConfigError when ``path`` is a file, lies under a file, or cannot be written.

    Leaves nothing behind: for a missing directory, its nearest existing ancestor is checked.
    """
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == path else f"is under a file ({existing})"
        raise ConfigError(f"{flag} {path}: {where}, expected a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: {existing} is not writable")
    if existing != path:  # root passes os.access everywhere: try, on a throwaway directory
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".chiso766-", dir=existing))
        except OSError as exc:
            raise ConfigError(f"{flag} {path}: cannot create it: {exc.strerror or exc}") from None


def ensure_directory(path: Path, flag: str) -> Path:
    """Create ``path`` (and its parents) if needed; one-line ConfigError when that fails."""
    check_directory(path, flag)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".chiso766-write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{flag} {path}: cannot use it: {exc.strerror or exc}") from None
    return path
