"""How Python's allocator hands memory back: one process-wide setting for long-running
processes (the worker on either store, anything that opens the embedded engine).

Measured on a province-year through the worker (``benchmarks/bench_stream.py --year``): peak RSS
of the worker on the server store 410 MiB without it, 330 MiB with it (333 MiB with the same
thresholds given through ``GLIBC_TUNABLES``), at about the same CPU per event; on the embedded
store it was part of the change from 1,226 to 1,019-1,033 MiB (``sinks/embedded_engine.py``).
"""

from __future__ import annotations

import ctypes


def return_freed_python_memory() -> None:
    """Make glibc's malloc (Python's allocator for objects over 512 bytes) hand freed memory
    back: by default each freed large block raises its mmap threshold (up to 32 MiB) and its
    trim threshold (to 64 MiB), so the worker's batches, results and JSON kept ~65-240 MiB
    free but resident. Fixed 128 KiB thresholds (glibc's initial values, no longer adjusted):
    ~100-150 MiB lower peak RSS on the 45-day embedded worker run; costs mmap/munmap calls for large
    blocks. Process-wide; calling it again changes nothing; nothing where glibc is absent."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_TRIM_THRESHOLD, _MALLOC_THRESHOLD_BYTES)
    mallopt(_M_MMAP_THRESHOLD, _MALLOC_THRESHOLD_BYTES)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
_MALLOC_THRESHOLD_BYTES = 128 << 10
