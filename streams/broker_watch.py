"""Say, in one log line each, when the worker loses its Kafka broker and when it has it back.

The Kafka clients reconnect by themselves; what an operator needs is the state change, not the
clients' per-attempt errors (those are collapsed by ``streams/logs.py``). A timer tries a TCP
connection to the bootstrap addresses every few seconds and feeds the result to an ``Outage``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import faust

from pipeline.outage import Outage
from pipeline.settings import Settings

log = logging.getLogger("chiso766.worker")

CHECK_EVERY_S = 5.0
CONNECT_TIMEOUT_S = 3.0


async def reachable(addresses: list[tuple[str, int]], timeout_s: float) -> str | None:
    """None when one address accepts a TCP connection, else the last failure as text."""
    failure = "no address"
    for host, port in addresses:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except (OSError, TimeoutError) as exc:
            failure = f"{host}:{port}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else 'no answer'}"
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return None
    return failure


def add_broker_watch(app: faust.App, settings: Settings, every_s: float = CHECK_EVERY_S) -> None:
    addresses = [_split(address) for address in settings.bootstrap_servers.split(",")]
    outage = Outage(f"Kafka at {settings.bootstrap_servers}", max_delay_s=every_s)

    @app.timer(every_s, name="chiso766-broker-watch")
    async def watch_broker() -> None:
        failure = await reachable(addresses, CONNECT_TIMEOUT_S)
        now_s = time.time()
        line = outage.succeeded(now_s) if failure is None else outage.failed(now_s, failure)[1]
        if line:
            log.warning("%s", line.replace("; resuming", ""))


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    return host.strip("[]"), int(port)
