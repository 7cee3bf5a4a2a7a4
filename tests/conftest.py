"""Fixtures: a fresh emulator per test, a fake clock, a redis-server of the test's own, the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.redis_server import RedisServer, running_redis
from tests.slack_harness import Bot, running_bot
from tests.support import FakeTime, RunningEmulator, running_emulator


@pytest.fixture
async def cams() -> AsyncIterator[RunningEmulator]:
    """An emulator with throttling off."""
    async with running_emulator() as running:
        yield running


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    """A real redis-server on a free port, killed after the test."""
    async with running_redis() as server:
        yield server


@pytest.fixture
async def bot() -> AsyncIterator[Bot]:
    """The bot's web application with an emulator and a fake Slack, each on loopback."""
    async with running_bot() as running:
        yield running
