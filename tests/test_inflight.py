"""Work owed after an ack: drained at shutdown, and apologised for only where a reply is owed."""

from __future__ import annotations

import asyncio

from bot.slack.inflight import InFlight


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
