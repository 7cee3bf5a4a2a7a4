"""Several `python -m bot serve` replicas sharing one Alibaba account's budget through Redis.

Real processes, a real redis-server, the emulator counting what CAMS would see, and a fake
Slack receiving what the replicas post to response_url.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from redis.asyncio import Redis

from bot.cams.actions import Action
from bot.cams.client import action_budget_key
from bot.preview.redis.limiter import budget_key
from bot.slack.constants import EVENTS_PATH
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.cams.window import busiest_window
from bot.standin.harness.processes import (
    EmulatorProcess,
    ServeProcess,
    clean_env,
    emulator_process,
    serve_env,
)
from bot.standin.harness.redis_server import RedisServer, running_redis
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.signing import signed_headers

SECRET = "replica-secret"
TOKEN = "xoxb-replicas"
ACCOUNT = DEMO_CREDENTIALS.access_key_id
BUSY = "Many previews are being fetched right now"


@dataclass
class Fleet:
    """The replicas and everything they share."""

    replicas: list[ServeProcess]
    cams: EmulatorProcess
    slack: FakeSlack
    redis: RedisServer
    session: aiohttp.ClientSession

    async def ask(self, replica: ServeProcess, flow_id: str) -> str:
        """`/flowpreview flow_id` on `replica`; the text of the answer, wherever it came."""
        response_url = self.slack.new_response_url()
        body = payloads.slash_command(flow_id, response_url=response_url)
        async with self.session.post(
            replica.url + EVENTS_PATH, data=body, headers=signed_headers(SECRET, body)
        ) as response:
            assert response.status == 200
            ack = await response.json()
        if "Fetching the preview" not in json.dumps(ack):
            return json.dumps(ack)
        delivery = await self.slack.next_response(response_url, within=90)
        return json.dumps(delivery.message)

    async def post_event(self, replica: ServeProcess, event: dict[str, Any]) -> None:
        """Send `event` to `replica` as Slack's Events API would."""
        body = payloads.event_callback(event)
        async with self.session.post(
            replica.url + EVENTS_PATH, data=body, headers=signed_headers(SECRET, body)
        ) as response:
            assert response.status == 200

    async def ask_all(self, flow_ids: Sequence[str]) -> list[str]:
        """Ask each flow once, spread round-robin over the replicas, all at once."""
        return await asyncio.gather(
            *(
                self.ask(self.replicas[i % len(self.replicas)], flow_id)
                for i, flow_id in enumerate(flow_ids)
            )
        )

    async def server_saw(self) -> dict[str, Any]:
        """The emulator's stats: what CAMS would have seen."""
        async with self.session.get(f"{self.cams.url}/_emulator/stats") as response:
            stats: dict[str, Any] = await response.json()
        return stats


@asynccontextmanager
async def fleet(count: int, **settings: str) -> AsyncIterator[Fleet]:
    """`count` replicas on one emulator (5 calls/s, throttling on) and one Redis.

    The emulator runs in a process of its own, so that it timestamps each call as it arrives
    however busy this test's own event loop is.
    """
    async with AsyncExitStack() as stack:
        cams = await stack.enter_async_context(emulator_process("--qps", "5", env=clean_env()))
        slack = await stack.enter_async_context(running_fake_slack(bot_token=TOKEN))
        redis = await stack.enter_async_context(running_redis())
        session = await stack.enter_async_context(aiohttp.ClientSession())
        env = serve_env(
            cams.url,
            slack,
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            REDIS_URL=redis.url,
            LOG_LEVEL="WARNING",
            **settings,
        )
        replicas = [ServeProcess(env) for _ in range(count)]
        stack.push_async_callback(_stop_all, replicas)
        await asyncio.gather(*(replica.start(session) for replica in replicas))
        yield Fleet(replicas, cams, slack, redis, session)


async def _stop_all(replicas: list[ServeProcess]) -> None:
    for code, err in await asyncio.gather(*(replica.stop() for replica in replicas)):
        assert code == 0, err.decode()
        assert b"Traceback" not in err, err.decode()


def _assert_within_budget(seen: dict[str, Any]) -> None:
    """No throttled answer and at most 5 calls in any second, as the emulator saw them."""
    arrivals: list[float] = seen["arrivals"][ACCOUNT]
    busiest = busiest_window(arrivals)
    # When it fails, the busiest second's arrivals show which calls were too close.
    offsets = ", ".join(f"{t - arrivals[0]:.3f}" for t in busiest)
    assert set(seen["counts"]) == {"OK"}, f"throttled: {seen['counts']}; busiest: {offsets}"
    assert len(busiest) <= 5, f"{len(busiest)} calls within 1 s, at {offsets} s"


async def _mark_in_use(redis_url: str) -> None:
    # A Redis the fleet has used before: no fence for a Redis that lost its bookings.
    client = Redis.from_url(redis_url)
    await client.set(
        budget_key(action_budget_key(ACCOUNT, Action.GET_FLOW_PREVIEW_URL), "marker"), 1
    )
    await client.aclose()


async def test_three_replicas_never_exceed_the_accounts_budget() -> None:
    async with fleet(3, CAMS_REPLICAS="3", CAMS_MAX_WAIT_S="60", CAMS_DEADLINE_S="90") as f:
        await _mark_in_use(f.redis.url)
        flow_ids = [str(5_000_000_000 + i) for i in range(150)]
        answers = await f.ask_all(flow_ids)
        seen = await f.server_saw()

    _assert_within_budget(seen)
    assert seen["counts"] == {"OK": 150}, "one call per flow"
    for flow_id, answer in zip(flow_ids, answers, strict=True):
        assert f"flows/{flow_id}/preview" in answer, answer


async def test_a_second_replica_serves_what_the_first_fetched() -> None:
    async with fleet(2) as f:
        first, second = f.replicas
        fetched = await f.ask(first, "1234567890123456")
        served = await f.ask(second, "1234567890123456")
        seen = await f.server_saw()

    assert "flows/1234567890123456/preview" in fetched
    assert served == fetched
    assert seen["by_flow"] == {"1234567890123456": 1}


async def test_redis_killed_mid_run_stays_within_budget_and_recovers() -> None:
    async with fleet(2, CAMS_REPLICAS="2", CAMS_MAX_WAIT_S="3") as f:
        await _mark_in_use(f.redis.url)
        before = await f.ask_all([str(6_000_000_000 + i) for i in range(8)])

        await f.redis.stop()
        during: list[str] = []
        for wave in range(6):
            during += await f.ask_all([str(7_000_000_000 + 10 * wave + i) for i in range(3)])
            await asyncio.sleep(0.5)
        degraded = [await replica.health(f.session) for replica in f.replicas]

        await f.redis.start()
        after: list[str] = []
        for wave in range(8):
            after += await f.ask_all([str(8_000_000_000 + 10 * wave + i) for i in range(2)])
            await asyncio.sleep(0.5)
        healthy = [await replica.health(f.session) for replica in f.replicas]
        shared = await f.ask(f.replicas[1], "8000000070")
        seen = await f.server_saw()

    assert all("/preview/" in answer for answer in before)
    assert all("/preview/" in answer or BUSY in answer for answer in during)
    assert any("/preview/" in answer for answer in during), "served at the replica's share"
    assert degraded == ["degraded", "degraded"]
    assert healthy == ["ok", "ok"]
    assert all("/preview/" in answer or BUSY in answer for answer in after)
    assert "/preview/" in shared
    assert seen["by_flow"]["8000000070"] == 1, "the shared cache works again"
    _assert_within_budget(seen)


async def test_a_flow_link_is_unfurled_once_in_a_channel_whichever_replica_gets_it() -> None:
    link = "https://business.facebook.com/wa/manage/flows/1234567890123456/"
    later = "https://business.facebook.com/wa/manage/flows/2234567890123456/"
    async with fleet(2, CAMS_REPLICAS="2") as f:
        first, second = f.replicas
        await f.post_event(first, payloads.link_shared([link]))
        unfurled = await f.slack.next_unfurl(within=30)
        # The same flow pasted again in the channel reaches the other replica, then another
        # flow: only the other flow is unfurled.
        await f.post_event(second, payloads.link_shared([link]))
        await f.post_event(second, payloads.link_shared([later]))
        then = await f.slack.next_unfurl(within=30)

    assert list(unfurled.unfurls) == [link]
    assert list(then.unfurls) == [later]
    assert len(f.slack.unfurls) == 2
