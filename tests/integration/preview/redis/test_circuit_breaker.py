"""The link to Redis over a real redis-server: restarts, lost replies, hangs and health."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import pytest

from bot.cams.models import FlowPreview
from bot.preview.cache import PreviewCache
from bot.preview.limiter import LimiterSettings
from bot.preview.redis.circuit_breaker import (
    CHECK_WAIT_S,
    REDIS_TIMEOUT_S,
    RedisCircuitBreaker,
    RedisUnavailableError,
)
from bot.preview.redis.wiring import connect, redis_client
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.standin.harness.emulator import RunningEmulator
from bot.standin.harness.redis_server import RedisServer
from tests.fake_clock import FakeClock, run_virtual

KEY = ("acct", "space", "1234567890123456")
# Bounds for waiting on a real redis-server; far above what each step takes.
ATTEMPTS = 100
POLL_S = 0.05


async def _clients(redis_server: RedisServer) -> int:
    """How many connections the server holds, leaving out the one asking."""
    admin = redis_client(redis_server.url)
    try:
        return len(await admin.client_list()) - 1
    finally:
        await admin.aclose()


async def test_a_restart_under_pooled_connections_is_no_outage(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    shared = connect(redis_server.url, PreviewSettings(limiter=LimiterSettings()))
    link = shared.breaker
    await asyncio.gather(*(link.call(lambda redis: redis.ping()) for _ in range(8)))
    assert await _clients(redis_server) >= 4, "several connections wait in the pool"

    await redis_server.stop()
    await redis_server.start()
    # As many at once as there are stale connections, so that every one is lent out.
    answers = await asyncio.gather(*(link.call(lambda redis: redis.ping()) for _ in range(8)))
    expires = datetime.fromtimestamp(time.time() + 10_000, UTC).replace(microsecond=0)
    preview = FlowPreview(KEY[2], "https://x.test/p?token=1", expires, "REQ")
    await shared.cache.put(KEY, preview)
    stored = await shared.cache.get(KEY)
    await link.close()

    assert all(answers)
    assert stored == preview
    assert link.healthy
    assert link.recoveries == 0
    assert "Redis is unreachable" not in caplog.text


async def test_a_command_whose_reply_is_lost_is_not_sent_again(
    redis_server: RedisServer,
) -> None:
    admin = redis_client(redis_server.url)
    # Redis drops a client whose reply outgrows this, after running its command: the
    # reply is lost while the command has run, as when Redis dies mid-answer.
    await admin.config_set("client-output-buffer-limit", "normal 65536 65536 0")
    link = RedisCircuitBreaker(redis_client(redis_server.url))
    script = link.client.register_script(
        "redis.call('INCR', KEYS[1]) return string.rep('x', 1000000)"
    )

    with pytest.raises(RedisUnavailableError):
        await link.call(lambda redis: script(keys=["runs"], client=redis))
    runs = await admin.get("runs")
    await link.close()
    await admin.aclose()

    assert runs == b"1", "a script is never run twice (admit.lua would book two slots)"
    assert not link.healthy


def test_a_hung_redis_costs_one_timeout_and_health_waits_no_longer_than_its_bound(
    redis_server: RedisServer,
) -> None:
    redis_server.pause()

    async def timed() -> tuple[float, bool, float]:
        # Virtual time: the clock jumps to each timer, so what is measured is exactly
        # the timeouts the link waits on, however busy the machine.
        loop = asyncio.get_running_loop()
        link = RedisCircuitBreaker(redis_client(redis_server.url))
        start = loop.time()
        healthy = await link.check()
        checked = loop.time() - start
        await link.close()

        link = RedisCircuitBreaker(redis_client(redis_server.url))
        start = loop.time()
        for _ in range(5):
            with pytest.raises(RedisUnavailableError):
                await link.call(lambda redis: redis.ping())
        failed = loop.time() - start
        await link.close()
        return checked, healthy, failed

    checked, healthy, failed = run_virtual(timed())

    assert not healthy
    assert checked == pytest.approx(CHECK_WAIT_S)
    assert CHECK_WAIT_S <= 0.15, "well inside the 300 ms a /healthz has"
    assert failed == pytest.approx(REDIS_TIMEOUT_S), "one timeout, not one per call or retry"


async def test_health_is_degraded_while_redis_hangs_and_ok_once_it_resumes(
    redis_server: RedisServer, cams: RunningEmulator, fake_clock: FakeClock
) -> None:
    link = RedisCircuitBreaker(redis_client(redis_server.url), clock=fake_clock.time)
    service = PreviewService(cams.client(), PreviewCache(10, negative_ttl=30), connection=link)
    async with service:
        assert await service.health() == "ok"

        redis_server.pause()
        hung = [await service.health() for _ in range(3)]
        for _ in range(ATTEMPTS):
            if not link.healthy:
                break
            await asyncio.sleep(POLL_S)
        outage_noticed = not link.healthy
        still_hung = await service.health()

        redis_server.resume()
        fake_clock.advance(link.retry_after)
        for _ in range(ATTEMPTS):
            if await service.health() == "ok":
                break
        back = await service.health()

    assert hung == ["degraded"] * 3
    assert outage_noticed, "the ping a health check stopped waiting for opened the breaker"
    assert still_hung == "degraded"
    assert back == "ok"
    assert link.recoveries == 1
