"""Latency and failures to inject into a stand-in, and what it counted."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# Where each Alibaba stand-in reports what it counted.
STATS_PATH = "/_standin/stats"


def add_stats_route(app: web.Application, stats: Callable[[], dict[str, Any]]) -> None:
    """Serve `stats()` as JSON at `GET STATS_PATH`."""

    async def report(_: web.Request) -> web.Response:
        return web.json_response(stats())

    app.router.add_get(STATS_PATH, report)


@dataclass
class Trouble:
    """`latency` seconds before each answer; failures by `fail()`; `counts` by request kind."""

    latency: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    _failure: tuple[int, str] | None = None
    _left: int | None = None
    _gate: asyncio.Event | None = None

    def fail(
        self, status: int = 503, code: str = "ServiceUnavailable", count: int | None = None
    ) -> None:
        """Answer the next `count` requests (all of them until `recover()` when None) with an
        error of `status` and `code`."""
        self._failure, self._left = (status, code), count

    def recover(self) -> None:
        """Answer normally again."""
        self._failure, self._left = None, None

    def hold(self) -> None:
        """Keep every answer back until `release()`: a request in flight for as long as a test
        needs, without timing anything."""
        self._gate = asyncio.Event()

    def release(self) -> None:
        """Let held answers and later ones go."""
        if self._gate is not None:
            self._gate.set()
            self._gate = None

    async def delay(self) -> None:
        """Wait while held, then the configured latency."""
        if self._gate is not None:
            self.counts["held"] += 1
            await self._gate.wait()
        if self.latency > 0:
            await asyncio.sleep(self.latency)

    def failure(self) -> tuple[int, str] | None:
        """The (status, code) this request fails with, if it is to fail; counts it down."""
        if self._failure is None:
            return None
        failure = self._failure
        if self._left is not None:
            self._left -= 1
            if self._left <= 0:
                self.recover()
        self.counts["failed"] += 1
        return failure
