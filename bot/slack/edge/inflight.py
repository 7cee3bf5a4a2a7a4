"""Replies still being delivered after their ack, kept so that shutdown can keep their word.

Bolt keeps no handle on work that runs after `ack()`, and aiohttp cancels it at shutdown;
whatever must reach the person is spawned here instead, with the response_url it owes a reply
to, so that a reply cut short by shutdown can still be answered with a word of apology. Work
that owes no response_url (a modal's update) is drained the same way, without an apology.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class InFlight:
    """Background tasks, each owing a reply to a response_url, with a bounded drain."""

    def __init__(self) -> None:
        self._owed: dict[asyncio.Task[Any], str | None] = {}

    def spawn(
        self, work: Coroutine[Any, Any, Any], response_url: str | None = None
    ) -> asyncio.Task[Any]:
        """Run `work`, which answers `response_url` (if any), in the background until it ends."""
        task = asyncio.create_task(work)
        self._owed[task] = response_url
        task.add_done_callback(self._settled)
        return task

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._owed.pop(task, None)
        if task.cancelled():
            return
        failure = task.exception()
        if failure is not None:
            # A bug: the work handles what it expects. Logged here, as nothing awaits the task,
            # rather than as "Task exception was never retrieved" whenever it is collected.
            log.error("work after an ack failed", exc_info=failure)

    def __len__(self) -> int:
        return len(self._owed)

    async def idle(self, within: float) -> bool:
        """Wait up to `within` seconds until nothing is in flight, work spawned meanwhile
        included; whether that happened. Nothing is cancelled."""
        try:
            async with asyncio.timeout(within):
                while self._owed:
                    await asyncio.wait(set(self._owed))
        except TimeoutError:
            return False
        return True

    async def drain(self, grace: float) -> list[str]:
        """Wait up to `grace` seconds for every task, then cancel what is left.

        Returns the response_urls of the replies cancelled before they were delivered.
        """
        if not self._owed:
            return []
        log.info("waiting up to %.1fs for %d replies in flight", grace, len(self._owed))
        _, pending = await asyncio.wait(set(self._owed), timeout=max(grace, 0.0))
        unanswered = [url for task in pending if (url := self._owed[task]) is not None]
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d replies were not ready at shutdown", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)
        return unanswered
