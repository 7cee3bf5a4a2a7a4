"""Fixtures only integration tests use: a real redis-server of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.standin.harness.redis_server import RedisServer, running_redis


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    """A real redis-server on a free port, killed after the test."""
    async with running_redis() as server:
        yield server
