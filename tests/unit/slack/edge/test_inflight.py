"""Work owed after an ack: drained at shutdown, and apologised for only where a reply is owed."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest

from bot.slack.edge.inflight import InFlight


async def test_drain_cancels_what_is_left_and_names_only_the_replies_owed() -> None:
    inflight = InFlight()
    forever = asyncio.Event()
    done = inflight.spawn(asyncio.sleep(0), "https://hooks.slack.com/done")
    owed = inflight.spawn(forever.wait(), "https://hooks.slack.com/owed")
    modal = inflight.spawn(forever.wait())
    await asyncio.sleep(0)

    unanswered = await inflight.drain(0.0)

    assert unanswered == ["https://hooks.slack.com/owed"]
    assert done.done()
    assert not done.cancelled()
    assert owed.cancelled()
    assert modal.cancelled()
    assert len(inflight) == 0


async def test_work_that_fails_is_logged_once_not_left_unretrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unretrieved.append(context))

    async def fail() -> None:
        raise LookupError("a bug")

    try:
        inflight = InFlight()
        with caplog.at_level(logging.ERROR, logger="bot.slack.edge.inflight"):
            inflight.spawn(fail())
            assert await inflight.drain(5.0) == []
        # The task is gone: had its exception not been retrieved, collecting it says so.
        gc.collect()
    finally:
        loop.set_exception_handler(previous)

    assert unretrieved == []
    (record,) = caplog.records
    assert record.getMessage() == "work after an ack failed"
    assert record.exc_info is not None
