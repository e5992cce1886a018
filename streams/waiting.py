"""Retry a store call for as long as the store is unreachable, logging one line per state change.

Runs in the worker's store thread (``streams/agents.py`` keeps the event loop, and so the
consumer group heartbeats, free while it waits). Only ``RetryableSinkError`` is waited out;
any other error propagates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from pipeline.errors import RetryableSinkError
from pipeline.outage import Outage

log = logging.getLogger("chiso766.worker")

P = ParamSpec("P")
R = TypeVar("R")


class StoreWaiter:
    """Wraps calls to one store; all wrapped calls share one outage state."""

    def __init__(
        self,
        service: str,
        first_delay_s: float = 0.5,
        max_delay_s: float = 10.0,
        clock_s: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.outage = Outage(service, first_delay_s=first_delay_s, max_delay_s=max_delay_s)
        self._clock_s = clock_s
        self._sleep = sleep

    def wrap(self, call: Callable[P, R]) -> Callable[P, R]:
        def patient(*args: P.args, **kwargs: P.kwargs) -> R:
            return self.call(call, *args, **kwargs)

        return patient

    def call(self, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``call(*args, **kwargs)``, retried until it does not raise RetryableSinkError."""
        while True:
            try:
                result = call(*args, **kwargs)
            except RetryableSinkError as error:
                delay_s, line = self.outage.failed(self._clock_s(), str(error))
                if line:
                    log.warning("%s", line)
                self._sleep(delay_s)
                continue
            line = self.outage.succeeded(self._clock_s())
            if line:
                log.warning("%s", line)
            return result
