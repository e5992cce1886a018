"""Client log floods are collapsed: the first line of a kind passes, repeats wait for the window."""

from __future__ import annotations

import logging

from streams.logs import RepeatFilter


def _record(name: str, msg: str, level: int = logging.ERROR, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_repeats_of_a_client_line_are_held_back_and_counted() -> None:
    clock = [0.0]
    repeat = RepeatFilter(quiet_s=300.0, clock_s=lambda: clock[0])
    template = "Unable connect to node with id %s: %s"
    passed = []
    for second in range(0, 600, 1):
        clock[0] = float(second)
        record = _record("aiokafka.conn", template, logging.ERROR, 1, "refused")
        if repeat.filter(record):
            passed.append((second, record.getMessage()))
    assert passed == [
        (0, "Unable connect to node with id 1: refused"),
        (300, "Unable connect to node with id 1: refused [299 more like this in the last 300 s]"),
    ]


def test_other_loggers_other_lines_and_info_always_pass() -> None:
    repeat = RepeatFilter(quiet_s=300.0, clock_s=lambda: 0.0)
    assert repeat.filter(_record("aiokafka.conn", "a"))
    assert repeat.filter(_record("aiokafka.conn", "b")), "another kind of line"
    assert repeat.filter(_record("faust.worker", "a")), "another logger"
    assert all(repeat.filter(_record("chiso766.worker", "same")) for _ in range(3)), "ours"
    assert all(repeat.filter(_record("aiokafka.conn", "c", logging.INFO)) for _ in range(3))


def test_coordinator_not_available_is_expected_only_at_start() -> None:
    clock = [0.0]
    repeat = RepeatFilter(quiet_s=300.0, clock_s=lambda: clock[0])
    line = "Group Coordinator Request failed: [Error 15] CoordinatorNotAvailableError"
    assert not repeat.filter(_record("aiokafka.consumer.group_coordinator", line))
    clock[0] = 61.0
    assert repeat.filter(_record("aiokafka.consumer.group_coordinator", line))
