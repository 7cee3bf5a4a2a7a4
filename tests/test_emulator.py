"""The CAMS emulator: what the official SDK sees, throttling, faults and stable links."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from alibabacloud_cams20200606 import models
from alibabacloud_cams20200606.client import Client
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

from bot.cams.credentials import Credentials
from bot.cams.errors import CamsError, ErrorKind
from bot.config import Secret
from bot.standin.cams.faults import Fault, FaultRule
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.cams.window import SlidingWindow, busiest_window, max_in_window
from tests.support import OTHER_CREDENTIALS, RunningEmulator, running_emulator


def _sdk_client(cams: RunningEmulator, secret: str) -> Any:
    endpoint = cams.url.removeprefix("http://")
    config = Config(
        access_key_id=DEMO_CREDENTIALS.access_key_id,
        access_key_secret=secret,
        endpoint=endpoint,
        protocol="http",
    )
    return Client(config)


async def _sdk_call(client: Any, flow_id: str, space: str | None) -> Any:
    request = models.GetFlowPreviewUrlRequest(flow_id=flow_id, cust_space_id=space)
    return await client.get_flow_preview_url_with_options_async(request, RuntimeOptions())


async def test_official_sdk_succeeds_with_the_right_secret(cams: RunningEmulator) -> None:
    client = _sdk_client(cams, DEMO_CREDENTIALS.access_key_secret.reveal())
    response = await _sdk_call(client, "a b*c~d+e 流", "x y*z~+%")

    assert response.status_code == 200
    assert response.body.code == "OK"
    assert response.body.data.flow_id == "a b*c~d+e 流"
    assert response.body.data.preview_url.startswith("https://")


async def test_official_sdk_gets_signature_does_not_match_with_a_wrong_secret(
    cams: RunningEmulator,
) -> None:
    client = _sdk_client(cams, "wrong-secret")
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the SDK raises its own base type
        await _sdk_call(client, "1234567890", None)

    error: Any = caught.value
    assert error.code == "SignatureDoesNotMatch"
    assert error.statusCode == 400


async def test_links_are_stable_per_space_and_flow(cams: RunningEmulator) -> None:
    async with cams.client() as client:
        first = await client.get_flow_preview_url("1", "s1")
        again = await client.get_flow_preview_url("1", "s1")
        other_space = await client.get_flow_preview_url("1", "s2")
        other_flow = await client.get_flow_preview_url("2", "s1")

    assert (first.preview_url, first.expires_at) == (again.preview_url, again.expires_at)
    assert len({first.preview_url, other_space.preview_url, other_flow.preview_url}) == 3


async def test_links_are_reissued_after_they_expire() -> None:
    now = [1_700_000_000.0]
    async with (
        running_emulator(link_ttl=60, wall_clock=lambda: now[0]) as cams,
        cams.client(wall_clock=lambda: now[0]) as client,
    ):
        first = await client.get_flow_preview_url("1")
        now[0] += 61
        second = await client.get_flow_preview_url("1")
    assert first.expires_at.timestamp() == pytest.approx(1_700_000_060)
    assert second.preview_url != first.preview_url
    assert second.expires_at > first.expires_at


async def test_throttles_beyond_five_calls_per_second_per_account() -> None:
    async with running_emulator(qps=5) as cams:
        once = cams.settings(max_attempts=1)
        async with cams.client(settings=once) as demo, cams.client(OTHER_CREDENTIALS) as other:
            results = await asyncio.gather(
                *(demo.get_flow_preview_url(str(i)) for i in range(8)), return_exceptions=True
            )
            await other.get_flow_preview_url("another account has its own budget")
    throttled = [r for r in results if isinstance(r, CamsError)]
    assert len(throttled) == 3
    assert all(r.kind is ErrorKind.THROTTLED and r.code == "Throttling.User" for r in throttled)
    assert all(r.retry_after is not None and 0 < r.retry_after <= 1 for r in throttled)
    assert cams.outcomes().count("OK") == 6


async def test_unknown_key_unsigned_headers_replays_and_bad_bodies_are_refused(
    cams: RunningEmulator,
) -> None:
    async with cams.client(Credentials("nobody", Secret("x"))) as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")
    assert caught.value.code == "InvalidAccessKeyId.NotFound"

    async with cams.client() as client:
        await client.get_flow_preview_url("1")
    replay = dict(cams.emulator.recorded[-1].headers)
    async with aiohttp.ClientSession() as session:
        answers = []
        for headers in (
            replay,
            {**replay, "x-acs-extra": "unsigned"},
            {k: v for k, v in replay.items() if k != "Authorization"},
        ):
            async with session.post(f"{cams.url}/?FlowId=1", headers=headers) as response:
                answers.append((response.status, (await response.json())["Code"]))
    assert answers == [
        (400, "SignatureNonceUsed"),
        (400, "IncompleteSignature"),
        (400, "IncompleteSignature"),
    ]


async def test_faults_by_flow_by_count_and_by_rate() -> None:
    rules = ["error:Product.Unsubscript@flow:a*1", "malformed@rate:0.5"]
    async with (
        running_emulator(seed=7) as cams,
        cams.client(settings=cams.settings(max_attempts=1)) as client,
    ):
        cams.fault(*rules)
        outcomes = []
        for flow_id in ["a", "a", *[str(i) for i in range(200)]]:
            try:
                await client.get_flow_preview_url(flow_id)
                outcomes.append("OK")
            except CamsError as error:
                outcomes.append(error.code or error.kind.value)
    assert outcomes[0] == "Product.Unsubscript"
    assert outcomes[1] in ("OK", "malformed_response")
    assert 60 < outcomes[2:].count("malformed_response") < 140


async def test_control_endpoints(cams: RunningEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.put(
            f"{cams.url}/_emulator/faults", json={"rules": ["http:503@flow:z"]}
        ) as response:
            assert response.status == 200
        async with session.put(f"{cams.url}/_emulator/faults", json={"rules": ["bogus"]}) as bad:
            assert bad.status == 400
        async with cams.client(settings=cams.settings(max_attempts=1)) as client:
            await client.get_flow_preview_url("y")
            with pytest.raises(CamsError):
                await client.get_flow_preview_url("z")
        async with session.get(f"{cams.url}/_emulator/stats") as response:
            stats = await response.json()
        async with session.post(f"{cams.url}/_emulator/reset") as response:
            assert response.status == 200
    assert stats["counts"] == {"OK": 1, "http:503": 1}
    assert stats["by_flow"] == {"y": 1, "z": 1}
    assert stats["max_in_any_second"] == {DEMO_CREDENTIALS.access_key_id: 2}
    assert cams.emulator.stats()["received"] == 0


@pytest.mark.parametrize(
    "text",
    [
        "latency:2.5@flow:123",
        "drop@rate:0.1",
        "error:Ram.PermissionDeny@all",
        "http:503@flow:x*2",
        "throttle:1500@all",
        "throttle@all",
        "insecure-url@flow:a@b",
    ],
)
def test_fault_rules_parse(text: str) -> None:
    assert FaultRule.parse(text).text == text


@pytest.mark.parametrize(
    "text",
    [
        "drop",
        "drop@",
        "drop@rate:0",
        "drop@rate:1.5",
        "drop@rate:nan",
        "drop@flow:",
        "drop@all*0",
        "latency:-1@all",
        "latency:nan@all",
        "http:200@all",
        "error:@all",
        "explode@all",
    ],
)
def test_bad_fault_rules_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"fault|count|target"):
        FaultRule.parse(text)


def test_fault_argument_is_kept() -> None:
    assert FaultRule.parse("latency:2@all").fault == Fault("latency", "2")


def test_sliding_window_admits_the_budget_in_any_second() -> None:
    window = SlidingWindow(2)
    assert window.admit(0.0) is None
    assert window.admit(0.5) is None
    assert window.admit(0.9) == pytest.approx(0.1)
    assert window.admit(1.0) is None
    assert window.admit(1.2) == pytest.approx(0.3)


def test_max_in_window() -> None:
    assert max_in_window([]) == 0
    assert max_in_window([0.0, 0.2, 0.4, 0.99, 1.0, 1.1]) == 5
    assert max_in_window([0.0, 0.5, 1.0, 1.5]) == 2
    assert max_in_window([0.0, 1.0, 2.0]) == 1


def test_busiest_window() -> None:
    assert busiest_window([]) == []
    assert busiest_window([0.0, 0.2, 0.4, 0.99, 1.0, 1.1]) == [0.2, 0.4, 0.99, 1.0, 1.1]
    assert busiest_window([0.0, 1.0, 2.0]) == [0.0]
