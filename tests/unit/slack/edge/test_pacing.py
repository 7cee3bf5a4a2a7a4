"""The Tier-3 pacer on a fake clock: bursts, the steady pace, 429s, and bounded waits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack.edge.pacing import Pacer, PacingError
from bot.slack.edge.web_api import SlackWebError, WebErrorKind
from tests.fake_clock import FakeClock


def _pacer(clock: FakeClock, **kwargs: Any) -> Pacer:
    return Pacer(60, clock=clock.time, sleep=clock.sleep, **kwargs)


def _limited(retry_after: int | None) -> SlackWebError:
    response = AsyncSlackResponse(
        client=AsyncWebClient(),
        http_verb="POST",
        api_url="https://slack.com/api/chat.unfurl",
        req_args={},
        data={"ok": False, "error": "ratelimited"},
        headers={},
        status_code=429,
    )
    return SlackWebError(
        WebErrorKind.RATE_LIMITED,
        "chat.unfurl",
        "rate-limited by Slack",
        response,
        code="ratelimited",
        status=429,
        retry_after=retry_after,
    )


async def _ok() -> str:
    return "ok"


async def test_a_burst_goes_at_once_then_one_a_second() -> None:
    clock = FakeClock(sleep_advances=True)
    pacer = _pacer(clock, burst=3)
    for _ in range(5):
        assert await pacer.call("T1", _ok) == "ok"
    # 60 a minute: three at once, then each a second after the last.
    assert clock.sleeps == [1.0, 1.0]


async def test_workspaces_are_paced_apart() -> None:
    clock = FakeClock(sleep_advances=True)
    pacer = _pacer(clock, burst=1)
    await pacer.call("T1", _ok)
    await pacer.call("T2", _ok)
    assert clock.sleeps == []


async def test_the_pace_recovers_while_idle() -> None:
    clock = FakeClock(sleep_advances=True)
    pacer = _pacer(clock, burst=2)
    await pacer.call("T1", _ok)
    await pacer.call("T1", _ok)
    clock.now += 10
    await pacer.call("T1", _ok)
    await pacer.call("T1", _ok)
    assert clock.sleeps == []


async def test_a_429_waits_retry_after_then_calls_again() -> None:
    clock = FakeClock(sleep_advances=True)
    pacer = _pacer(clock, burst=5)
    answers: list[SlackWebError | str] = [_limited(7), "ok"]

    async def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, SlackWebError):
            raise answer
        return answer

    assert await pacer.call("T1", call) == "ok"
    assert clock.sleeps == [7.0]
    # Every other call to that workspace waited too; the bucket then refills as before.
    await pacer.call("T1", _ok)
    assert clock.sleeps == [7.0, 1.0]


async def test_slack_still_limiting_after_the_retries_is_a_pacing_error() -> None:
    clock = FakeClock(sleep_advances=True)
    pacer = _pacer(clock, retries=2)

    async def call() -> str:
        raise _limited(None)

    with pytest.raises(PacingError, match="still rate-limited"):
        await pacer.call("T1", call)
    assert clock.sleeps == [1.0, 1.0]


async def test_other_refusals_pass_through_untouched() -> None:
    clock = FakeClock(sleep_advances=True)
    pacer = _pacer(clock)
    refused = _limited(None)
    refused.kind = WebErrorKind.REFUSED

    async def call() -> str:
        raise refused

    with pytest.raises(SlackWebError) as raised:
        await pacer.call("T1", call)
    assert raised.value is refused


async def test_a_call_that_would_wait_too_long_fails_at_once() -> None:
    clock = FakeClock()
    pacer = _pacer(clock, burst=1, max_wait=2.5)
    # Three calls at once wait 0, 1 and 2 s; a fourth would wait 3 s.
    waiting = [asyncio.create_task(pacer.call("T1", _ok)) for _ in range(3)]
    for wait in (1.0, 2.0):
        assert await clock.next_sleep() == wait
    with pytest.raises(PacingError, match="would wait"):
        await pacer.call("T1", _ok)
    clock.advance(2.0)
    assert await asyncio.gather(*waiting) == ["ok"] * 3
