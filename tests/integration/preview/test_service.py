"""The preview service on a real redis-server, and on the real clock: calls spread over
seconds, retries, long pauses."""

from __future__ import annotations

import asyncio
import itertools
from contextlib import AsyncExitStack
from typing import Any

import pytest

from bot.cams.actions import Action
from bot.cams.errors import CamsError, ErrorKind
from bot.preview.errors import BusyError
from bot.preview.limiter import LimiterSettings
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import RunningEmulator, running_emulator
from bot.standin.harness.redis_server import running_redis
from tests.shared.service import arrivals_of, make_service


@pytest.mark.parametrize("shared", [False, True], ids=["local", "redis"])
async def test_a_throttled_catalog_call_leaves_previews_their_budget(
    cams: RunningEmulator, shared: bool
) -> None:
    async with AsyncExitStack() as stack:
        redis_url = (await stack.enter_async_context(running_redis())).url if shared else None
        by_action = await _throttle_a_list_then_preview(cams, redis_url)
    assert by_action == {"ListFlow": 1, "GetFlowPreviewUrl": 1, "GetFlow": 1}


async def _throttle_a_list_then_preview(cams: RunningEmulator, redis_url: str | None) -> Any:
    # A pause of 20 s on ListFlow: were it the previews' budget too, with a max wait of 10 s
    # they would be refused as Busy at once.
    cams.fault("throttle:20000@action:ListFlow*1")
    settings = PreviewSettings(limiter=LimiterSettings(max_wait=10.0), redis_url=redis_url)
    cams_settings = cams.settings(max_attempts=1, default_space="cams-demo")
    async with PreviewService.create(DEMO_CREDENTIALS, cams_settings, settings) as service:
        with pytest.raises(CamsError) as throttled:
            await service.client.list_flows()
        preview = await service.get("1234567890123456")
        details = await service.client.get_flow("1234567890123456")
        with pytest.raises(BusyError) as paused:
            await service.client.list_flows()

    assert throttled.value.kind is ErrorKind.THROTTLED
    assert throttled.value.action is Action.LIST_FLOW
    assert preview.flow_id == details.flow_id == "1234567890123456"
    assert 15.0 < paused.value.retry_after <= 20.0, "ListFlow's own budget is paused"
    return cams.emulator.stats()["by_action"]


async def test_every_attempt_passes_the_limiter_retries_included(cams: RunningEmulator) -> None:
    cams.fault("http:503@flow:x*2")
    limiter = LimiterSettings(rate=1, period=0.3, margin=0.0)
    async with make_service(cams, limiter) as service:
        await service.get("x")

    arrivals = arrivals_of(cams)
    assert len(arrivals) == 3
    assert all(b - a >= 0.29 for a, b in itertools.pairwise(arrivals))


async def test_the_server_never_sees_more_than_five_calls_in_any_second() -> None:
    async with running_emulator(qps=5) as cams:
        service = make_service(cams, LimiterSettings(max_wait=30.0), max_attempts=1)
        async with service:
            previews = await asyncio.gather(*(service.get(f"flow-{i}") for i in range(22)))

        stats = cams.emulator.stats()
    assert len(previews) == 22
    assert stats["counts"] == {"OK": 22}
    assert stats["max_in_any_second"][DEMO_CREDENTIALS.access_key_id] <= 5


async def test_a_ten_minute_retry_after_does_not_freeze_the_account(cams: RunningEmulator) -> None:
    cams.fault("throttle:600000@flow:t*1")
    limiter = LimiterSettings(max_wait=0.1, max_cooldown=1.0)
    async with make_service(cams, limiter, max_attempts=1) as service:
        with pytest.raises(CamsError) as throttled:
            await service.get("t")
        with pytest.raises(BusyError) as busy:
            await service.get("other")
        await asyncio.sleep(1.0)
        previews = await asyncio.gather(*(service.get(f"f{i}") for i in range(3)))

    assert throttled.value.kind is ErrorKind.THROTTLED
    assert throttled.value.retry_after == 1.0, "the user is told the capped pause"
    assert 0.1 < busy.value.retry_after <= 1.0
    assert [p.flow_id for p in previews] == ["f0", "f1", "f2"]
