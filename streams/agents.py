"""The one agent: it declares the worker's subscription; whole fetches go to its batch handler.

The agent is how Faust knows which topics the worker reads, and how many consumers share the
work (``concurrency=1``: with more, Faust can commit past a message still in flight, faust#606).
The messages themselves do not travel through the agent's stream one by one: the app's consumer
(``streams/consumer.py``) hands each whole fetch to the handler and acks its offsets only after
the handler returned, that is after the rows are stored.
"""

from __future__ import annotations

import faust

from streams.consumer import FetchHandler, FollowUp, WorkerApp

MAX_BATCH = 20_000
"""Messages per fetch, and so per stored batch, at most (``broker_max_poll_records``)."""


def add_batch_agent(
    app: WorkerApp, topic: faust.TopicT, handle: FetchHandler, follow_up: FollowUp
) -> None:
    app.fetch_handler = handle
    app.follow_up = follow_up

    @app.agent(topic, name="process-batches", concurrency=1)
    async def process_batches(stream: faust.StreamT) -> None:
        async for _ in stream:
            raise RuntimeError("messages reach the batch handler from the consumer, not the stream")
