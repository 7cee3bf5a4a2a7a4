"""What the Redis tests share: a circuit breaker on the test's own redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.preview.redis.circuit_breaker import RedisCircuitBreaker
from bot.standin.harness.redis_server import RedisServer


@pytest.fixture
async def link(redis_server: RedisServer) -> AsyncIterator[RedisCircuitBreaker]:
    """A breaker on the test's redis-server that probes again at once after a failure."""
    link = RedisCircuitBreaker(
        Redis.from_url(redis_server.url, socket_timeout=0.2), retry_after=0.0
    )
    yield link
    await link.close()
