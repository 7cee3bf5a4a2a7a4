"""Marks that say "done lately": claimed once per key for a while, so that something happens
once however many ask.

In one process they are kept in memory; with Redis, every replica sees them (bot.preview.redis
.marks). While Redis is out a replica falls back on its own memory: the mark then holds for that
replica alone, which is the most it can promise until Redis is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from cachetools import TTLCache

# Marks kept in memory per scope at most; the oldest go first.
MAX_LOCAL_MARKS = 10_000


class Shared(Protocol):
    """Marks every replica sees."""

    async def claim(self, scope: str, key: Sequence[str], ttl: float) -> bool | None:
        """Whether this replica set the mark first; None when that cannot be known now."""

    async def release(self, scope: str, key: Sequence[str]) -> None:
        """Drop the mark (nothing when it cannot be reached)."""


class Marks:
    """Claim a (scope, key) for `ttl` seconds: True for the first to claim it, then False until
    it expires or is released. `clock` is monotonic seconds, for the marks in memory."""

    def __init__(
        self,
        shared: Shared | None = None,
        *,
        kept: int = MAX_LOCAL_MARKS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self._kept = kept
        self._clock = clock
        self._local: dict[str, TTLCache[tuple[str, ...], bool]] = {}

    async def claim(self, scope: str, key: Sequence[str], ttl: float) -> bool:
        """Whether this is the first claim of `key` in `scope` within `ttl` seconds."""
        if self.shared is not None:
            claimed = await self.shared.claim(scope, key, ttl)
            if claimed is not None:
                return claimed
        marks = self._local.get(scope)
        if marks is None:
            marks = self._local[scope] = TTLCache(self._kept, ttl, self._clock)
        held = tuple(key)
        if held in marks:
            return False
        marks[held] = True
        return True

    async def release(self, scope: str, key: Sequence[str]) -> None:
        """Drop the mark, wherever it is kept."""
        marks = self._local.get(scope)
        if marks is not None:
            marks.pop(tuple(key), None)
        if self.shared is not None:
            await self.shared.release(scope, key)
