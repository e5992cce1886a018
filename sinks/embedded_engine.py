"""How the embedded engine (chdb) starts: the startup parameters that keep a long-running
worker's memory down (with ``pipeline.allocator`` for Python's side).

Measured on a province-year through the worker (``benchmarks/bench_stream.py --year``): peak RSS
1,226 MiB without them, 1,019-1,033 MiB with them (two runs), at the same rate. What remains is
mostly chdb's library paged in, the engine's own allocator and Python's objects
(docs/architecture.md).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import quote

from pipeline.errors import ConfigError

log = logging.getLogger(__name__)

ENGINE_CONFIG = Path(__file__).with_name("chdb_engine.xml")
"""Engine defaults that only a configuration file can set (MergeTree settings)."""

_PURGE_ABOVE_BYTES = 64 << 20
"""Freed engine memory kept for reuse before the engine hands it back to the system."""


def engine_parameters() -> dict[str, str]:
    """Startup parameters of the embedded engine (query parameters of ``chdb.connect``), chosen
    to keep the worker's RSS down; server settings, read once when the engine starts. Each can
    be checked in ``system.server_settings`` or ``system.merge_tree_settings``."""
    parameters = {
        # Purge jemalloc's dirty pages (freed, not yet returned: up to ~250 MiB after a merge)
        # when over ~64 MiB, checked every 100 ms by the engine's MemoryWorker; the ratio is of
        # the engine's memory limit (0.9 x RAM by default); costs madvise calls.
        "memory_worker_purge_dirty_pages_threshold_ratio": f"{_purge_ratio():.6f}",
    }
    # MergeTree defaults from sinks/chdb_engine.xml: 128 KiB compression buffers per column
    # written; halves a merge's memory; costs a little compression. The engine percent-decodes
    # parameter values, but splits them at '&' first, even an encoded one.
    if "&" in str(ENGINE_CONFIG):
        log.warning(
            "the embedded engine's config file %s is not used: its path holds '&' (install "
            "chiso766 elsewhere to get its MergeTree settings)",
            ENGINE_CONFIG,
        )
    else:
        parameters["config-file"] = quote(str(ENGINE_CONFIG), safe="/")
    return parameters


def _purge_ratio() -> float:
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        return 0.003
    return min(0.2, _PURGE_ABOVE_BYTES / (0.9 * ram))


def connection_string(path: Path) -> str:
    """The ``chdb.connect`` argument for a data directory, with ``engine_parameters``.

    The engine takes the directory as written, up to the first '?': a directory with '?' in
    its path is refused rather than opened somewhere else."""
    if "?" in str(path):
        raise ConfigError(
            f"embedded store directory {path}: '?' is not allowed in its path (the embedded "
            "engine would open the directory before the '?')"
        )
    return f"file:{path}?" + "&".join(f"{k}={v}" for k, v in engine_parameters().items())
