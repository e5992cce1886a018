"""How the worker logs: Faust's line format, no spinner off a terminal, client floods collapsed.

On a fresh broker the first group lookups fail with "coordinator not available" until the
broker has created its offsets topic; the client retries, so those lines are dropped during
the first ``START_GRACE_S`` (a coordinator still missing after that is logged).

During a broker outage the Kafka clients log the same failure many times a second; the
``RepeatFilter`` lets the first line of each kind through, then stays quiet about that kind
until ``quiet_s`` has passed, and says how many it held back when it lets the next one through.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator

import faust

LOG_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
CLIENT_LOGGERS = ("aiokafka", "kafka", "faust", "mode")
"""Loggers of the Kafka clients and Faust whose repeated lines are collapsed."""
EXPECTED_AT_START = ("CoordinatorNotAvailable", "coordinator not available")
"""Client errors a fresh broker causes while it creates its offsets topic; retried by the client."""
START_GRACE_S = 60.0


class RepeatFilter(logging.Filter):
    """Pass a record unless a record of the same logger and template passed < ``quiet_s`` ago."""

    def __init__(self, quiet_s: float = 300.0, clock_s: Callable[[], float] = time.monotonic):
        super().__init__()
        self.quiet_s = quiet_s
        self._clock_s = clock_s
        self._started_s = clock_s()
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(CLIENT_LOGGERS):
            return True
        now = self._clock_s()
        if now - self._started_s < START_GRACE_S:
            text = record.getMessage()
            if any(expected in text for expected in EXPECTED_AT_START):
                return False
        key = (record.name, str(record.msg))
        seen = self._last.get(key)
        if seen is not None and now - seen[0] < self.quiet_s:
            self._last[key] = (seen[0], seen[1] + 1)
            return False
        held_back = seen[1] if seen else 0
        self._last[key] = (now, 0)
        if held_back:
            record.msg = (
                f"{record.msg} [{held_back} more like this in the last {self.quiet_s:.0f} s]"
            )
        return True


def collapse_client_repeats(logger: logging.Logger, quiet_s: float = 300.0) -> None:
    """Put a RepeatFilter on each handler of ``logger`` (handler filters see child loggers too)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RepeatFilter) for f in handler.filters):
            handler.addFilter(RepeatFilter(quiet_s))


class QuietWorker(faust.Worker):
    """``faust.Worker`` with client floods collapsed and no spinner off a terminal."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        if not sys.stdout.isatty():
            self.spinner = None  # the spinner writes cursor codes, even into a log file
        super().on_setup_root_logger(logger, level)
        collapse_client_repeats(logger)


def new_runner(app: faust.App, loglevel: str = "warning", **options: object) -> faust.Worker:
    """The Faust worker process for ``app`` (quiet: no banner, see ``QuietWorker``)."""
    runner = QuietWorker(app, loglevel=loglevel, quiet=True, **options)  # type: ignore[arg-type]
    if not sys.stdout.isatty():
        runner.spinner = None
    return runner


@contextlib.contextmanager
def early_logging() -> Iterator[None]:
    """Log our warnings in Faust's format before Faust has set up logging (e.g. at start-up)."""
    logger = logging.getLogger("chiso766")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
