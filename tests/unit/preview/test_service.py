"""The preview service over real loopback HTTP: cache, single-flight and the limiter together."""

from __future__ import annotations

import asyncio

import pytest

from bot.cams.actions import Action
from bot.cams.client import action_budget_key
from bot.cams.errors import CamsError, ErrorKind
from bot.preview.errors import BusyError
from bot.preview.limiter import LimiterSettings
from bot.preview.service import local_gates
from bot.preview.settings import PreviewSettings
from bot.standin.harness.emulator import RunningEmulator
from tests.fake_clock import run_virtual
from tests.shared.service import arrivals_of, make_service


async def test_repeated_and_concurrent_asks_make_one_call_per_flow(cams: RunningEmulator) -> None:
    async with make_service(cams) as service:
        results = await asyncio.gather(*(service.get(f) for f in ["A", "B", "A", "C"]))
        again = await service.get("A")

    assert [r.flow_id for r in results] == ["A", "B", "A", "C"]
    assert results[0] == results[2] == again
    assert cams.emulator.by_flow == {"A": 1, "B": 1, "C": 1}


async def test_single_flight_survives_a_cancelled_first_caller(cams: RunningEmulator) -> None:
    cams.fault("latency:0.3@all")
    async with make_service(cams) as service:
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
    async with make_service(cams, max_attempts=1) as service:
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
    async with make_service(cams, LimiterSettings(cooldown=0.0), max_attempts=1) as service:
        for _ in range(2):
            with pytest.raises(CamsError):
                await service.get("f")

    assert cams.emulator.by_flow["f"] == (1 if cached else 2)
    assert caplog.text.count("no preview of flow 'f'") == cams.emulator.by_flow["f"]


async def test_local_refusals_are_not_cached_and_cost_no_call(cams: RunningEmulator) -> None:
    async with make_service(cams) as service:
        for _ in range(2):
            with pytest.raises(CamsError) as caught:
                await service.get("")
            assert caught.value.kind is ErrorKind.BAD_REQUEST
        assert len(service.cache) == 0
    assert cams.emulator.by_flow == {}


async def test_spaces_are_cached_apart(cams: RunningEmulator) -> None:
    async with make_service(cams, default_space="s1") as service:
        default = await service.get("1")
        same = await service.get("1", "s1")
        other = await service.get("1", "s2")

    assert default == same
    assert other.preview_url != default.preview_url
    assert cams.emulator.by_flow == {"1": 2}


async def test_a_throttling_answer_cools_the_whole_account_down(cams: RunningEmulator) -> None:
    cams.fault("throttle@flow:t*1")
    limiter = LimiterSettings(cooldown=0.4)
    async with make_service(cams, limiter, max_attempts=1) as service:
        with pytest.raises(CamsError):
            await service.get("t")
        await service.get("other")

    first, second = arrivals_of(cams)
    assert second - first >= 0.39


async def test_busy_is_refused_at_once_and_not_cached(cams: RunningEmulator) -> None:
    limiter = LimiterSettings(rate=1, period=1.0, margin=0.0, max_wait=0.5)
    async with make_service(cams, limiter) as service:
        outcomes = await asyncio.gather(
            *(service.get(str(i)) for i in range(3)), return_exceptions=True
        )
        busy = [o for o in outcomes if isinstance(o, BusyError)]
        assert len(busy) == 2
        assert all(0.5 < b.retry_after <= 1.0 for b in busy)
        assert len(service.cache) == 1
    assert len(arrivals_of(cams)) == 1


async def test_a_slot_is_never_granted_past_the_callers_deadline(cams: RunningEmulator) -> None:
    limiter = LimiterSettings(rate=1, period=1.0, margin=0.0, max_wait=30.0)
    async with make_service(cams, limiter, deadline=0.5) as service:
        outcomes = await asyncio.gather(
            *(service.get(str(i)) for i in range(3)), return_exceptions=True
        )

    assert sum(isinstance(o, BusyError) for o in outcomes) == 2
    assert len(arrivals_of(cams)) == 1


async def test_callers_queued_when_a_pause_begins_hear_busy_at_once_not_a_network_error(
    cams: RunningEmulator,
) -> None:
    cams.fault("latency:0.2@flow:t*1", "throttle:5000@flow:t*1")
    # The queued caller's turn (1.8 s) fits its deadline (2 s) until the pause (5 s) begins.
    limiter = LimiterSettings(rate=1, period=1.8, margin=0.0, max_wait=10.0)
    async with make_service(cams, limiter, max_attempts=1, deadline=2.0) as service:
        outcomes = await asyncio.gather(
            service.get("t"), service.get("queued"), return_exceptions=True
        )

    throttled, queued = outcomes
    assert isinstance(throttled, CamsError)
    assert throttled.kind is ErrorKind.THROTTLED
    assert isinstance(queued, BusyError), f"told {queued!r}"
    assert 4.0 < queued.retry_after <= 5.0
    assert len(arrivals_of(cams)) == 1, "the queued caller never called"


@pytest.mark.parametrize(
    ("status", "kind"), [(404, ErrorKind.NOT_FOUND), (400, ErrorKind.BAD_REQUEST)]
)
async def test_an_html_error_page_says_what_happened(
    cams: RunningEmulator, status: int, kind: ErrorKind
) -> None:
    cams.fault(f"http:{status}@all")
    async with make_service(cams) as service:
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
