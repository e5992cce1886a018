"""Outage bookkeeping: one line when a store goes down, one when it is back, capped backoff."""

from __future__ import annotations

import logging

import pytest

from pipeline.errors import RetryableSinkError, SinkError
from pipeline.outage import Outage
from streams.waiting import StoreWaiter


def test_one_line_per_state_change_and_capped_delays() -> None:
    outage = Outage("ClickHouse at h:1", first_delay_s=0.5, max_delay_s=4.0)
    assert outage.succeeded(0.0) is None
    delays, lines = [], []
    for second in range(8):
        delay, line = outage.failed(1_700_000_000.0 + second, "unreachable\nsecond line")
        delays.append(delay)
        lines.append(line)
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert lines[0] == (
        "ClickHouse at h:1 down since 2023-11-14 22:13:20 UTC: unreachable; "
        "waiting for it (retrying every 4 s at most)"
    )
    assert lines[1:] == [None] * 7
    assert outage.succeeded(1_700_000_093.4) == (
        "ClickHouse at h:1 back after 93 s (8 failed attempts); resuming"
    )
    assert outage.succeeded(1_700_000_094.0) is None
    assert outage.failed(1_700_000_100.0, "again")[0] == 0.5, "a new outage starts over"


def test_waiter_retries_only_retryable_errors_and_logs_each_change_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [1000.0]
    slept: list[float] = []

    def sleep(delay_s: float) -> None:
        slept.append(delay_s)
        clock[0] += delay_s

    waiter = StoreWaiter("store", first_delay_s=1.0, max_delay_s=8.0,
                         clock_s=lambda: clock[0], sleep=sleep)  # fmt: skip
    answers: list[Exception | None] = [RetryableSinkError("down")] * 6 + [None]

    def insert(rows: list[int]) -> int:
        answer = answers.pop(0)
        if answer:
            raise answer
        return len(rows)

    with caplog.at_level(logging.WARNING):
        assert waiter.wrap(insert)([1, 2, 3]) == 3
    assert slept == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert [r.getMessage() for r in caplog.records] == [
        "store down since 1970-01-01 00:16:40 UTC: down; waiting for it (retrying every 8 s at most)",
        "store back after 31 s (6 failed attempts); resuming",
    ]

    def broken() -> None:
        raise SinkError("bad SQL")

    with pytest.raises(SinkError, match="bad SQL"):
        waiter.call(broken)
