"""The metrics endpoint: `python -m bot serve` with METRICS_PORT, scraped over loopback while
real Slack traffic moves its counts; the Redis and cache-layer metrics."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.cams.actions import Action
from bot.metrics import REDIS_UP, REGISTRY
from bot.metrics_server import METRICS_PATH
from bot.preview.limiter import LimiterSettings
from bot.preview.redis.circuit_breaker import RedisCircuitBreaker, RedisUnavailableError
from bot.preview.redis.wiring import redis_client
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.slack.blocks.messages import share_value
from bot.slack.constants import EVENTS_PATH, HEALTH_PATH, SHARE_ACTION_ID
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import RunningEmulator
from bot.standin.harness.processes import ServeProcess, free_port, run_bot, serve_env
from bot.standin.harness.redis_server import RedisServer
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.signing import signed_headers

SECRET = "metrics-signing-secret"
BOT_TOKEN = "xoxb-metrics"
PREVIEW = Action.GET_FLOW_PREVIEW_URL.value
# How long a count moved by something in the background (a reply) may take to show.
SETTLE_S = 20.0
POLL_S = 0.05

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Scraped:
    """One scrape of /metrics, parsed."""

    samples: Samples
    content_type: str

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 for a series not exported (yet)."""
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def names(self) -> set[str]:
        return {name for name, _ in self.samples}


async def scrape(session: aiohttp.ClientSession, url: str) -> Scraped:
    async with session.get(url + METRICS_PATH) as response:
        assert response.status == 200
        text = await response.text()
        content_type = response.headers["Content-Type"]
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return Scraped(samples, content_type)


async def scrape_until(
    session: aiohttp.ClientSession, url: str, done: Callable[[Scraped], bool]
) -> Scraped:
    """Scrape until `done` holds (a count moved by a background task), for SETTLE_S at most."""
    for _ in range(round(SETTLE_S / POLL_S)):
        scraped = await scrape(session, url)
        if done(scraped):
            return scraped
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"the counts did not move within {SETTLE_S:g}s")


@dataclass
class Replica:
    """A serving `python -m bot serve`, its metrics URL and the fake Slack it talks to."""

    process: ServeProcess
    metrics_url: str
    slack: FakeSlack
    session: aiohttp.ClientSession

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        async with self.session.post(
            self.process.url + EVENTS_PATH, data=body, headers=headers
        ) as response:
            return response.status, await response.text()

    async def command(self, text: str) -> str:
        body = payloads.slash_command(text, response_url=self.slack.new_response_url())
        status, answer = await self.post(body, signed_headers(SECRET, body))
        assert status == 200, answer
        return answer

    async def share(self, flow_id: str, response_url: str) -> None:
        body = payloads.block_actions(
            {"action_id": SHARE_ACTION_ID, "value": share_value(flow_id, None)},
            block_id="actions-0",
            response_url=response_url,
            message_ts=payloads.new_ts(),
        )
        status, answer = await self.post(body, signed_headers(SECRET, body))
        assert status == 200, answer


@asynccontextmanager
async def serving(cams: RunningEmulator, **extra: str) -> AsyncIterator[Replica]:
    """`python -m bot serve` with METRICS_PORT on loopback; it must stop cleanly afterwards."""
    metrics_port = free_port()
    async with (
        running_fake_slack(bot_token=BOT_TOKEN) as slack,
        aiohttp.ClientSession() as session,
    ):
        env = serve_env(
            cams.url,
            slack,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            METRICS_PORT=str(metrics_port),
            METRICS_HOST="127.0.0.1",
            **extra,
        )
        process = ServeProcess(env)
        try:
            await process.start(session)
            yield Replica(process, f"http://127.0.0.1:{metrics_port}", slack, session)
        finally:
            code, err = await process.stop()
    assert code == 0, err.decode()
    assert f"metrics on 127.0.0.1:{metrics_port}{METRICS_PATH}".encode() in err
    assert b"Traceback" not in err


async def test_counts_move_with_slack_traffic(cams: RunningEmulator) -> None:
    # Three GetFlowPreviewUrl calls a second, and no waiting beyond 0.3 s for a slot: four
    # new flows at once are more than the budget can take, so at least one is Busy. With no
    # margin no slot can be missed on a busy machine, and the calls before the four take one
    # slot each.
    async with serving(
        cams,
        SLACK_SIGNING_SECRET=SECRET,
        CAMS_QPS_GETFLOWPREVIEWURL="3",
        CAMS_RATE_MARGIN_S="0",
        CAMS_MAX_WAIT_S="0.3",
        CAMS_THROTTLE_COOLDOWN_S="0",
    ) as replica:
        before = await scrape(replica.session, replica.metrics_url)

        # A preview fetched, then the same one from this replica's cache.
        assert "flows/1111111111/preview" in await replica.command("1111111111")
        assert "flows/1111111111/preview" in await replica.command("1111111111")
        # Refused before Bolt: forged, unsigned, and signed but not shaped like Slack's.
        body = payloads.slash_command("1111111111", response_url=replica.slack.new_response_url())
        assert (await replica.post(body, signed_headers("not-the-secret", body)))[0] == 401
        assert (await replica.post(body, {"Content-Type": "text/plain"}))[0] == 401
        assert (await replica.post(b"{}", signed_headers(SECRET, b"{}")))[0] == 400
        # Throttled once, then served on the retry.
        cams.fault("throttle:0@flow:2222222222*1")
        assert "flows/2222222222/preview" in await replica.command("2222222222")
        cams.fault()
        # Share, delivered to one response_url and refused by another.
        delivered, expired = replica.slack.new_response_url(), replica.slack.new_response_url()
        replica.slack.fail_response_url(expired)
        await replica.share("1111111111", delivered)
        await replica.share("1111111111", expired)
        # More new flows at once than the budget takes.
        await replica.command("3333333331 3333333332 3333333333 3333333334")

        after = await scrape_until(
            replica.session,
            replica.metrics_url,
            lambda s: (
                s.value("flowpreview_replies_total", outcome="failed") >= 1
                and s.value("flowpreview_replies_total", outcome="delivered") >= 1
            ),
        )

    assert after.content_type.startswith("text/plain")
    requests = "flowpreview_slack_requests_total"
    assert before.value(requests, kind="command", outcome="ok") == 0
    assert after.value(requests, kind="command", outcome="ok") == 4
    assert after.value(requests, kind="action", outcome="ok") == 2
    assert after.value(requests, kind="other", outcome="forged") == 1
    assert after.value(requests, kind="other", outcome="unsigned") == 1
    assert after.value(requests, kind="other", outcome="bad_shape") == 1
    assert after.value("flowpreview_slack_ack_seconds_count", kind="command") == 4
    assert after.value("flowpreview_slack_ack_seconds_bucket", kind="command", le="+Inf") == 4
    assert after.value("flowpreview_replies_total", outcome="delivered") == 1
    assert after.value("flowpreview_replies_total", outcome="failed") == 1

    calls = "flowpreview_cams_calls_total"
    assert after.value(calls, action=PREVIEW, code="Throttling.User") == 1
    assert after.value("flowpreview_cams_throttled_total", action=PREVIEW) == 1
    assert after.value("flowpreview_cams_retries_total", action=PREVIEW) == 1
    # 1111111111, 2222222222 on its retry, and the new flows that got a slot, if any (the
    # earlier calls may still fill the budget's window).
    served = after.value(calls, action=PREVIEW, code="OK")
    assert 2 <= served <= 5
    busy = after.value("flowpreview_busy_total", action=PREVIEW)
    assert busy >= 1
    assert served - 2 + busy == 4, "each new flow either got a slot or was refused"
    # Every attempt waited for its slot first: the throttled one too.
    assert after.value("flowpreview_limiter_wait_seconds_count", action=PREVIEW) == served + 1

    # Two lookups of 1111111111 after the first (the repeat and the Share buttons' one
    # each) came from this replica's cache; the first and every new flow missed it.
    assert after.value("flowpreview_cache_requests_total", layer="local", result="hit") == 3
    assert after.value("flowpreview_cache_requests_total", layer="local", result="miss") == 6
    # Without REDIS_URL there is no Redis state at all, rather than a Redis that is down.
    assert "flowpreview_redis_up" not in after.names()
    assert after.value("flowpreview_redis_outages_total") == 0
    assert after.value("process_resident_memory_bytes") > 0


async def test_socket_mode_requests_are_counted_and_timed(cams: RunningEmulator) -> None:
    async with serving(cams, SLACK_APP_TOKEN="xapp-1-metrics") as replica:
        body = payloads.slash_command("4444444444", response_url=replica.slack.new_response_url())
        ack = await replica.slack.socket_request(
            "slash_commands", dict(parse_qsl(body.decode())), within=20
        )
        scraped = await scrape(replica.session, replica.metrics_url)

    assert "flows/4444444444/preview" in json.dumps(ack["payload"])
    assert scraped.value("flowpreview_slack_requests_total", kind="command", outcome="ok") == 1
    assert scraped.value("flowpreview_slack_ack_seconds_count", kind="command") == 1
    assert scraped.value("flowpreview_cams_calls_total", action=PREVIEW, code="OK") == 1


async def test_metrics_are_never_on_the_slack_port_nor_slack_on_the_metrics_port(
    cams: RunningEmulator,
) -> None:
    async with serving(cams, SLACK_SIGNING_SECRET=SECRET) as replica:
        session, slack_url = replica.session, replica.process.url
        async with session.get(slack_url + METRICS_PATH) as response:
            on_slack_port = response.status
        async with session.get(replica.metrics_url + HEALTH_PATH) as response:
            health_on_metrics_port = response.status
        body = payloads.slash_command("1111111111", response_url=replica.slack.new_response_url())
        async with session.post(
            replica.metrics_url + EVENTS_PATH, data=body, headers=signed_headers(SECRET, body)
        ) as response:
            events_on_metrics_port = response.status

    assert on_slack_port == 404
    assert health_on_metrics_port == 404
    assert events_on_metrics_port in (404, 405)


async def test_serve_refuses_a_metrics_port_it_cannot_have(
    cams: RunningEmulator,
) -> None:
    async with running_fake_slack(bot_token=BOT_TOKEN) as slack:
        env = serve_env(cams.url, slack, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET)
        port = free_port()
        same = await run_bot("serve", env=env | {"PORT": str(port), "METRICS_PORT": str(port)})
        with socket.create_server(("127.0.0.1", 0)) as taken:
            busy_port = taken.getsockname()[1]
            busy = await run_bot(
                "serve",
                "--host",
                "127.0.0.1",
                env=env
                | {
                    "PORT": str(free_port()),
                    "METRICS_PORT": str(busy_port),
                    "METRICS_HOST": "127.0.0.1",
                },
            )

    assert same.code == 2
    assert same.err.startswith(f"flowpreview: METRICS_PORT: must differ from PORT ({port})")
    assert busy.code == 2
    assert busy.err.startswith(f"flowpreview: METRICS_PORT: cannot listen on 127.0.0.1:{busy_port}")
    assert "Traceback" not in same.err + busy.err


async def test_redis_state_follows_an_outage(redis_server: RedisServer) -> None:
    now = [0.0]
    outages = REGISTRY.get_sample_value("flowpreview_redis_outages_total") or 0.0
    link = RedisCircuitBreaker(redis_client(redis_server.url), clock=lambda: now[0])
    try:
        await link.call(lambda redis: redis.ping())
        assert REDIS_UP.value == 1
        await redis_server.stop()
        with pytest.raises(RedisUnavailableError):
            await link.call(lambda redis: redis.ping())
        assert REGISTRY.get_sample_value("flowpreview_redis_up") == 0
        # Refused while the breaker is open: the same outage, not another.
        with pytest.raises(RedisUnavailableError):
            await link.call(lambda redis: redis.ping())
        assert REGISTRY.get_sample_value("flowpreview_redis_outages_total") == outages + 1
        await redis_server.start()
        now[0] += link.retry_after
        await link.call(lambda redis: redis.ping())
        assert REGISTRY.get_sample_value("flowpreview_redis_up") == 1
    finally:
        await link.close()


async def test_cache_layers_count_hits_and_misses(
    cams: RunningEmulator, redis_server: RedisServer
) -> None:
    def count(layer: str, result: str) -> float:
        labels = {"layer": layer, "result": result}
        return REGISTRY.get_sample_value("flowpreview_cache_requests_total", labels) or 0.0

    settings = PreviewSettings(limiter=LimiterSettings(), redis_url=redis_server.url)
    first = PreviewService.create(DEMO_CREDENTIALS, cams.settings(), settings)
    second = PreviewService.create(DEMO_CREDENTIALS, cams.settings(), settings)
    keys = [(layer, result) for layer in ("local", "redis") for result in ("hit", "miss")]
    start = {key: count(*key) for key in keys}
    try:
        await first.get("5555555555")  # misses both, fetches, stores in both
        await second.get("5555555555")  # misses its own, finds the first's in Redis
        await second.get("5555555555")  # now in its own
    finally:
        await first.close()
        await second.close()

    moved = {key: count(*key) - value for key, value in start.items()}
    assert moved == {
        ("local", "hit"): 1,
        ("local", "miss"): 2,
        ("redis", "hit"): 1,
        ("redis", "miss"): 1,
    }
