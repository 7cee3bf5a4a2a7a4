"""GetFlow details over real loopback HTTP: cached, one call per flow at a time, denial."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.cams.actions import Action
from bot.cams.client import CamsClient
from bot.cams.errors import CamsError, ErrorKind
from bot.preview.details import FlowDetailsCache
from bot.preview.errors import BusyError
from bot.preview.limiter import LimiterSettings, LocalLimiter
from bot.standin.cams.catalog import SeededFlow, make_flows
from bot.standin.harness.emulator import RunningEmulator, running_emulator
from tests.fake_clock import FakeClock

SPACE = "space-a"
OTHER_SPACE = "space-b"
FLOWS = make_flows(6, seed=3)
OTHERS = make_flows(2, seed=4)


@asynccontextmanager
async def _setup(**kwargs: Any) -> AsyncIterator[tuple[RunningEmulator, CamsClient]]:
    catalog = {SPACE: FLOWS, OTHER_SPACE: OTHERS}
    async with running_emulator(catalog=catalog) as cams:
        settings = cams.settings(default_space=SPACE, max_attempts=1)
        async with cams.client(settings=settings, **kwargs) as client:
            yield cams, client


def _get_flow_calls(cams: RunningEmulator) -> int:
    return cams.emulator.by_action.get(Action.GET_FLOW, 0)


def _flow(index: int = 0) -> SeededFlow:
    return FLOWS[index]


async def test_details_are_cached_for_their_ttl(fake_clock: FakeClock) -> None:
    async with _setup() as (cams, client):
        details = FlowDetailsCache(client, ttl=180, clock=fake_clock.time)
        assert details.peek(_flow().flow_id) is None
        first = await details.get(_flow().flow_id)
        again = await details.get(_flow().flow_id, SPACE)
        peeked = details.peek(_flow().flow_id, SPACE)
        other = await details.get(OTHERS[0].flow_id, OTHER_SPACE)
        fake_clock.advance(180)
        expired = details.peek(_flow().flow_id)
        refetched = await details.get(_flow().flow_id)

    assert (first.flow_id, first.name, first.status) == (
        _flow().flow_id,
        _flow().name,
        _flow().status,
    )
    assert again is first
    assert peeked is first
    assert other.name == OTHERS[0].name
    assert expired is None
    assert refetched.request_id != first.request_id, "asked afresh once expired"
    assert _get_flow_calls(cams) == 3


async def test_concurrent_asks_for_one_flow_share_one_call() -> None:
    async with _setup() as (cams, client):
        cams.fault("latency:0.1@action:GetFlow")
        details = FlowDetailsCache(client)
        answers = await asyncio.gather(
            *(details.get(_flow().flow_id) for _ in range(10)),
            details.get(_flow(1).flow_id),
        )

    assert len({id(answer) for answer in answers[:10]}) == 1
    assert answers[10].flow_id == _flow(1).flow_id
    assert _get_flow_calls(cams) == 2


async def test_not_found_is_remembered_briefly_and_other_errors_not_at_all(
    fake_clock: FakeClock,
) -> None:
    async with _setup() as (cams, client):
        details = FlowDetailsCache(client, not_found_ttl=30, clock=fake_clock.time)
        for _ in range(3):
            with pytest.raises(CamsError) as missing:
                await details.get("1999999999999999")
            assert missing.value.kind is ErrorKind.NOT_FOUND
        calls_while_remembered = _get_flow_calls(cams)
        fake_clock.advance(30)
        with pytest.raises(CamsError):
            await details.get("1999999999999999")

        cams.fault("http:503@action:GetFlow*1")
        with pytest.raises(CamsError) as failed:
            await details.get(_flow().flow_id)
        recovered = await details.get(_flow().flow_id)

    assert calls_while_remembered == 1
    assert failed.value.kind is ErrorKind.SERVER_ERROR
    assert recovered.flow_id == _flow().flow_id
    assert _get_flow_calls(cams) == 4


async def test_a_denied_getflow_is_logged_once_per_space_and_not_asked_again_for_a_while(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with _setup() as (cams, client):
        cams.fault("error:Ram.PermissionDeny@action:GetFlow")
        details = FlowDetailsCache(client, denied_for=300, clock=fake_clock.time)
        with caplog.at_level(logging.WARNING, logger="bot.preview.details"):
            for flow in FLOWS:
                with pytest.raises(CamsError) as denied:
                    await details.get(flow.flow_id)
                assert denied.value.kind is ErrorKind.PERMISSION_DENIED
            calls_in_space = _get_flow_calls(cams)
            with pytest.raises(CamsError):
                await details.get(OTHERS[0].flow_id, OTHER_SPACE)
            fake_clock.advance(300)
            with pytest.raises(CamsError):
                await details.get(_flow().flow_id)
            cams.fault()
            fake_clock.advance(300)
            granted = await details.get(_flow().flow_id)

    assert calls_in_space == 1, "the space's denial answers without a call"
    assert _get_flow_calls(cams) == 4
    assert granted.flow_id == _flow().flow_id
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, "once per space, not again when asked again later"
    assert all("cams:GetFlow" in w and "status" in w for w in warnings)
    assert "'space-a'" in warnings[0]
    assert "'space-b'" in warnings[1]


async def test_a_busy_getflow_budget_is_not_cached() -> None:
    tight = LocalLimiter(LimiterSettings(rate=1, max_wait=0))
    gates = {action: LocalLimiter() for action in Action} | {Action.GET_FLOW: tight}
    async with _setup(gates=gates) as (cams, client):
        details = FlowDetailsCache(client)
        await details.get(_flow().flow_id)
        with pytest.raises(BusyError):
            await details.get(_flow(1).flow_id)

    assert _get_flow_calls(cams) == 1


async def test_wanted_until_an_answer_or_a_denial_is_kept() -> None:
    async with _setup() as (cams, client):
        details = FlowDetailsCache(client)
        assert details.wanted(_flow().flow_id)
        await details.get(_flow().flow_id)
        assert not details.wanted(_flow().flow_id)
        with pytest.raises(CamsError):
            await details.get("1999999999999998")
        assert not details.wanted("1999999999999998"), "CAMS said it does not exist"
        cams.fault("error:Ram.PermissionDeny@action:GetFlow")
        with pytest.raises(CamsError):
            await details.get(_flow(1).flow_id)
        assert not details.wanted(_flow(2).flow_id), "denied in the whole space"
        async with cams.client() as spaceless:
            assert not FlowDetailsCache(spaceless).wanted(_flow().flow_id), "no space to ask in"
