"""Fixtures: a fresh emulator per test and a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support import FakeTime, RunningEmulator, running_emulator


@pytest.fixture
async def cams() -> AsyncIterator[RunningEmulator]:
    """An emulator with throttling off."""
    async with running_emulator() as running:
        yield running


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()
