"""Marks in Redis that every replica sees: the first replica to set one wins it for a while."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Sequence

from bot.preview.redis.circuit_breaker import RedisCircuitBreaker, RedisUnavailableError

KEY_PREFIX = "flowpreview:mark"


class SharedMarks:
    """`SET NX PX`: claimed once across replicas until it expires or is released."""

    def __init__(self, breaker: RedisCircuitBreaker) -> None:
        self._breaker = breaker

    async def claim(self, scope: str, key: Sequence[str], ttl: float) -> bool | None:
        """Whether this replica set the mark first; None while Redis is out."""
        name, life_ms = _redis_key(scope, key), max(1, math.ceil(ttl * 1000))
        try:
            answer = await self._breaker.call(
                lambda redis: redis.set(name, b"1", nx=True, px=life_ms)
            )
        except RedisUnavailableError:
            return None
        return bool(answer)

    async def release(self, scope: str, key: Sequence[str]) -> None:
        """Drop the mark, so that the next claim wins; skipped while Redis is out."""
        name = _redis_key(scope, key)
        with contextlib.suppress(RedisUnavailableError):
            await self._breaker.call(lambda redis: redis.delete(name))


def _redis_key(scope: str, key: Sequence[str]) -> str:
    # Hashed, so that no ID, whatever its characters, can shape the key.
    digest = hashlib.sha256(json.dumps([scope, *key]).encode()).hexdigest()[:40]
    return f"{KEY_PREFIX}:{scope}:{digest}"
