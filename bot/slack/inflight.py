"""Replies still being delivered after their ack, kept so that shutdown can wait for them.

Bolt keeps no handle on work that runs after `ack()`, and aiohttp cancels it at shutdown;
whatever must reach the person is spawned here instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class InFlight:
    """A set of background tasks with a bounded drain."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `work` in the background and keep it until it ends."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, grace: float) -> None:
        """Wait up to `grace` seconds for every task, then cancel what is left."""
        if not self._tasks:
            return
        log.info("waiting up to %.0fs for %d replies in flight", grace, len(self._tasks))
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("gave up on %d replies at shutdown", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)
