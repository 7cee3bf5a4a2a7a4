"""Concurrent asks for the same key share one call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """Runs at most one `fetch` per key at a time; everyone asking meanwhile gets its outcome.

    The shared call runs in its own task behind `asyncio.shield`: a caller that is cancelled
    stops waiting but neither cancels the call nor fails the others.
    """

    def __init__(self) -> None:
        self._calls: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, fetch: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """The outcome of the call in flight for `key`, starting one with `fetch` if none is."""
        task = self._calls.get(key)
        if task is None:
            task = asyncio.create_task(fetch())
            self._calls[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._calls.get(key) is task:
            del self._calls[key]
        if not task.cancelled():
            # Everyone waiting got the outcome; when all of them stopped waiting, nobody
            # else will look at it, and the fetch itself logs what went wrong.
            task.exception()

    def in_flight(self) -> int:
        """How many keys have a call running."""
        return len(self._calls)
