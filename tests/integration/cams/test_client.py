"""The CAMS client on the real clock: an attempt that outlives its timeout."""

from __future__ import annotations

import pytest

from bot.cams.errors import CamsError, ErrorKind
from bot.standin.harness.emulator import RunningEmulator
from tests.fake_clock import FakeClock


async def test_an_attempt_that_outlives_its_timeout_is_a_network_error(
    cams: RunningEmulator, fake_clock: FakeClock
) -> None:
    cams.fault("latency:5@all")
    settings = cams.settings(attempt_timeout=0.2, connect_timeout=0.1, max_attempts=2)
    async with cams.client(
        settings=settings, sleep=fake_clock.sleep, clock=fake_clock.time
    ) as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")

    assert caught.value.kind is ErrorKind.NETWORK
    assert "within 0.2s" in caught.value.message
    assert len(fake_clock.sleeps) == 1
