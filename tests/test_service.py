"""The preview service over real loopback HTTP: cache, single-flight and the limiter together."""

from __future__ import annotations

import asyncio
import itertools
from contextlib import AsyncExitStack
from typing import Any

import pytest

from bot.cams.actions import Action
from bot.cams.client import action_budget_key
from bot.cams.errors import CamsError, ErrorKind
from bot.preview.errors import Busy
from bot.preview.limiter import LimiterSettings
from bot.preview.service import PreviewService, local_gates
from bot.preview.settings import PreviewSettings
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import RunningEmulator, running_emulator
from bot.standin.harness.redis_server import running_redis
from tests.fake_clock import run_virtual


def _service(
    cams: RunningEmulator, limiter: LimiterSettings | None = None, **cams_settings: Any
) -> PreviewService:
    settings = PreviewSettings(limiter=limiter or LimiterSettings())
    return PreviewService.create(DEMO_CREDENTIALS, cams.settings(**cams_settings), settings)


def _arrivals(cams: RunningEmulator) -> list[float]:
    arrivals: list[float] = cams.emulator.stats()["arrivals"].get(
        DEMO_CREDENTIALS.access_key_id, []
    )
    return arrivals


async def test_repeated_and_concurrent_asks_make_one_call_per_flow(cams: RunningEmulator) -> None:
    async with _service(cams) as service:
        results = await asyncio.gather(*(service.get(f) for f in ["A", "B", "A", "C"]))
        again = await service.get("A")

    assert [r.flow_id for r in results] == ["A", "B", "A", "C"]
    assert results[0] == results[2] == again
    assert cams.emulator.by_flow == {"A": 1, "B": 1, "C": 1}


async def test_single_flight_survives_a_cancelled_first_caller(cams: RunningEmulator) -> None:
    cams.fault("latency:0.3@all")
    async with _service(cams) as service:
        first = asyncio.create_task(service.get("slow"))
        await asyncio.sleep(0.05)
        others = [asyncio.create_task(service.get("slow")) for _ in range(5)]
        first.cancel()
        previews = await asyncio.gather(*others)

    assert len({p.preview_url for p in previews}) == 1
    assert cams.emulator.by_flow == {"slow": 1}


async def test_a_shared_failure_reaches_every_waiter_and_is_not_cached(
    cams: RunningEmulator,
) -> None:
    cams.fault("latency:0.2@flow:x*1", "http:503@flow:x*1")
    async with _service(cams, max_attempts=1) as service:
        failures = await asyncio.gather(
            *(service.get("x") for _ in range(4)), return_exceptions=True
        )
        recovered = await service.get("x")

    assert all(isinstance(f, CamsError) and f.kind is ErrorKind.SERVER_ERROR for f in failures)
    assert recovered.flow_id == "x"
    assert cams.emulator.by_flow == {"x": 2}


@pytest.mark.parametrize(
    ("fault", "cached"),
    [
        ("error:Flow.NotFound", True),
        ("error:InvalidParameter", True),
        ("error:SomethingUnheardOf", False),
        ("error:Throttling.User", False),
        ("http:503", False),
        ("drop", False),
        ("error:Ram.PermissionDeny", False),
        ("malformed", False),
    ],
)
async def test_only_definitive_answers_are_remembered(
    cams: RunningEmulator, fault: str, cached: bool, caplog: pytest.LogCaptureFixture
) -> None:
    cams.fault(f"{fault}@flow:f")
    async with _service(cams, LimiterSettings(cooldown=0.0), max_attempts=1) as service:
        for _ in range(2):
            with pytest.raises(CamsError):
                await service.get("f")

    assert cams.emulator.by_flow["f"] == (1 if cached else 2)
    assert caplog.text.count("no preview of flow 'f'") == cams.emulator.by_flow["f"]


async def test_local_refusals_are_not_cached_and_cost_no_call(cams: RunningEmulator) -> None:
    async with _service(cams) as service:
        for _ in range(2):
            with pytest.raises(CamsError) as caught:
                await service.get("")
            assert caught.value.kind is ErrorKind.BAD_REQUEST
        assert len(service.cache) == 0
    assert cams.emulator.by_flow == {}


async def test_spaces_are_cached_apart(cams: RunningEmulator) -> None:
    async with _service(cams, default_space="s1") as service:
        default = await service.get("1")
        same = await service.get("1", "s1")
        other = await service.get("1", "s2")

    assert default == same
    assert other.preview_url != default.preview_url
    assert cams.emulator.by_flow == {"1": 2}


async def test_every_attempt_passes_the_limiter_retries_included(cams: RunningEmulator) -> None:
    cams.fault("http:503@flow:x*2")
    limiter = LimiterSettings(rate=1, period=0.3, margin=0.0)
    async with _service(cams, limiter) as service:
        await service.get("x")

    arrivals = _arrivals(cams)
    assert len(arrivals) == 3
    assert all(b - a >= 0.29 for a, b in itertools.pairwise(arrivals))


async def test_a_throttling_answer_cools_the_whole_account_down(cams: RunningEmulator) -> None:
    cams.fault("throttle@flow:t*1")
    limiter = LimiterSettings(cooldown=0.4)
    async with _service(cams, limiter, max_attempts=1) as service:
        with pytest.raises(CamsError):
            await service.get("t")
        await service.get("other")

    first, second = _arrivals(cams)
    assert second - first >= 0.39


async def test_busy_is_refused_at_once_and_not_cached(cams: RunningEmulator) -> None:
    limiter = LimiterSettings(rate=1, period=1.0, margin=0.0, max_wait=0.5)
    async with _service(cams, limiter) as service:
        outcomes = await asyncio.gather(
            *(service.get(str(i)) for i in range(3)), return_exceptions=True
        )
        busy = [o for o in outcomes if isinstance(o, Busy)]
        assert len(busy) == 2
        assert all(0.5 < b.retry_after <= 1.0 for b in busy)
        assert len(service.cache) == 1
    assert len(_arrivals(cams)) == 1


async def test_the_server_never_sees_more_than_five_calls_in_any_second() -> None:
    async with running_emulator(qps=5) as cams:
        service = _service(cams, LimiterSettings(max_wait=30.0), max_attempts=1)
        async with service:
            previews = await asyncio.gather(*(service.get(f"flow-{i}") for i in range(22)))

        stats = cams.emulator.stats()
    assert len(previews) == 22
    assert stats["counts"] == {"OK": 22}
    assert stats["max_in_any_second"][DEMO_CREDENTIALS.access_key_id] <= 5


async def test_a_slot_is_never_granted_past_the_callers_deadline(cams: RunningEmulator) -> None:
    limiter = LimiterSettings(rate=1, period=1.0, margin=0.0, max_wait=30.0)
    async with _service(cams, limiter, deadline=0.5) as service:
        outcomes = await asyncio.gather(
            *(service.get(str(i)) for i in range(3)), return_exceptions=True
        )

    assert sum(isinstance(o, Busy) for o in outcomes) == 2
    assert len(_arrivals(cams)) == 1


async def test_a_ten_minute_retry_after_does_not_freeze_the_account(cams: RunningEmulator) -> None:
    cams.fault("throttle:600000@flow:t*1")
    limiter = LimiterSettings(max_wait=0.1, max_cooldown=1.0)
    async with _service(cams, limiter, max_attempts=1) as service:
        with pytest.raises(CamsError) as throttled:
            await service.get("t")
        with pytest.raises(Busy) as busy:
            await service.get("other")
        await asyncio.sleep(1.0)
        previews = await asyncio.gather(*(service.get(f"f{i}") for i in range(3)))

    assert throttled.value.kind is ErrorKind.THROTTLED
    assert throttled.value.retry_after == 1.0, "the user is told the capped pause"
    assert 0.1 < busy.value.retry_after <= 1.0
    assert [p.flow_id for p in previews] == ["f0", "f1", "f2"]


async def test_callers_queued_when_a_pause_begins_hear_busy_at_once_not_a_network_error(
    cams: RunningEmulator,
) -> None:
    cams.fault("latency:0.2@flow:t*1", "throttle:5000@flow:t*1")
    # The queued caller's turn (1.8 s) fits its deadline (2 s) until the pause (5 s) begins.
    limiter = LimiterSettings(rate=1, period=1.8, margin=0.0, max_wait=10.0)
    async with _service(cams, limiter, max_attempts=1, deadline=2.0) as service:
        outcomes = await asyncio.gather(
            service.get("t"), service.get("queued"), return_exceptions=True
        )

    throttled, queued = outcomes
    assert isinstance(throttled, CamsError)
    assert throttled.kind is ErrorKind.THROTTLED
    assert isinstance(queued, Busy), f"told {queued!r}"
    assert 4.0 < queued.retry_after <= 5.0
    assert len(_arrivals(cams)) == 1, "the queued caller never called"


@pytest.mark.parametrize(
    ("status", "kind"), [(404, ErrorKind.NOT_FOUND), (400, ErrorKind.BAD_REQUEST)]
)
async def test_an_html_error_page_says_what_happened(
    cams: RunningEmulator, status: int, kind: ErrorKind
) -> None:
    cams.fault(f"http:{status}@all")
    async with _service(cams) as service:
        with pytest.raises(CamsError) as caught:
            await service.get("1")

    assert caught.value.kind is kind
    assert caught.value.http_status == status


# Each action has a budget of its own: a catalog refresh never delays a preview.


def test_each_action_gets_a_limiter_of_its_own_budget() -> None:
    settings = PreviewSettings(
        limiter=LimiterSettings(rate=5), rates=((Action.LIST_FLOW, 1), (Action.GET_FLOW, 2))
    )

    async def scenario() -> dict[Action, list[float]]:
        gates = local_gates(settings)
        loop = asyncio.get_running_loop()
        granted: dict[Action, list[float]] = {}
        for action in Action:
            key = action_budget_key("acct", action)
            for _ in range(3):
                await gates[action].admit(key)
                granted.setdefault(action, []).append(loop.time())
        return granted

    granted = run_virtual(scenario())
    assert granted[Action.GET_FLOW_PREVIEW_URL] == [0.0, 0.0, 0.0]
    assert granted[Action.LIST_FLOW] == pytest.approx([0.0, 1.1, 2.2])
    assert granted[Action.GET_FLOW] == pytest.approx([2.2, 2.2, 3.3])


def test_a_throttled_list_does_not_pause_previews() -> None:
    async def scenario() -> tuple[float, float, float]:
        gates = local_gates(PreviewSettings(limiter=LimiterSettings()))
        listing = action_budget_key("acct", Action.LIST_FLOW)
        previews = action_budget_key("acct", Action.GET_FLOW_PREVIEW_URL)
        loop = asyncio.get_running_loop()
        await gates[Action.LIST_FLOW].admit(listing)
        await gates[Action.LIST_FLOW].throttled(listing, retry_after=5.0)
        await gates[Action.GET_FLOW_PREVIEW_URL].admit(previews)
        preview_at = loop.time()
        await gates[Action.GET_FLOW].admit(action_budget_key("acct", Action.GET_FLOW))
        details_at = loop.time()
        await gates[Action.LIST_FLOW].admit(listing)
        return preview_at, details_at, loop.time()

    preview_at, details_at, list_at = run_virtual(scenario())
    assert (preview_at, details_at) == (0.0, 0.0)
    assert list_at == pytest.approx(5.0), "ListFlow itself waits out its pause"


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
        with pytest.raises(Busy) as paused:
            await service.client.list_flows()

    assert throttled.value.kind is ErrorKind.THROTTLED
    assert throttled.value.action is Action.LIST_FLOW
    assert preview.flow_id == details.flow_id == "1234567890123456"
    assert 15.0 < paused.value.retry_after <= 20.0, "ListFlow's own budget is paused"
    return cams.emulator.stats()["by_action"]
