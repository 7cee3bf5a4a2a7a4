"""The Redis side: the booking script's arithmetic, the breaker, and the limiter's fallbacks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.cams.actions import Action
from bot.cams.client import action_budget_key
from bot.cams.errors import CamsError
from bot.cams.settings import CamsSettings
from bot.config import Endpoint
from bot.preview.errors import BusyError
from bot.preview.limiter import LimiterSettings
from bot.preview.redis.circuit_breaker import RedisCircuitBreaker, RedisUnavailableError
from bot.preview.redis.limiter import KEY_PARTS, SharedLimiter, budget_key
from bot.preview.redis.wiring import connect
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.cams.window import max_in_window
from bot.standin.harness.emulator import running_emulator
from bot.standin.harness.redis_server import RedisServer
from tests.fake_clock import FakeClock

SPACING_US = 1_100_000
# What a service's previews are booked under on Redis.
PREVIEWS = action_budget_key(DEMO_CREDENTIALS.access_key_id, Action.GET_FLOW_PREVIEW_URL)
MICROS = 1_000_000


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


class Script:
    """admit.lua, loaded from the package as the limiter loads it, on keys of its own."""

    def __init__(self, redis: Redis, account: str = "acct") -> None:
        text = resources.files("bot.preview.redis").joinpath("lua", "admit.lua").read_text()
        self.redis = redis
        self.keys = [f"t:{{{account}}}:{part}" for part in KEY_PARTS]
        self._script = redis.register_script(text)
        self.probe = False

    async def book(
        self,
        *,
        rate: int = 5,
        share: int = 2,
        max_wait_us: int = 10 * MICROS,
        fence_ms: int = 5000,
        not_before_us: int = 0,
        cap_us: int = 30 * MICROS,
    ) -> tuple[int, float]:
        args = [rate, share, SPACING_US, max_wait_us, fence_ms, not_before_us, cap_us, SPACING_US]
        granted, wait, _, probe = await self._script(keys=self.keys, args=args, client=self.redis)
        self.probe = bool(probe)
        return int(granted), int(wait) / MICROS

    async def cool_down(self, pause_us: int, cap_us: int = 30 * MICROS) -> None:
        text = resources.files("bot.preview.redis").joinpath("lua", "cooldown.lua").read_text()
        script = self.redis.register_script(text)
        await script(keys=[self.keys[1], self.keys[4]], args=[pause_us, cap_us], client=self.redis)

    async def last_slot(self) -> int:
        slot = await self.redis.lindex(self.keys[0], -1)
        assert slot is not None
        return int(slot)

    async def mark_in_use(self) -> None:
        await self.redis.set(self.keys[3], 1)


async def test_slot_arithmetic(redis: Redis) -> None:
    script = Script(redis)
    await script.mark_in_use()
    bookings, slots = [], []
    for _ in range(12):
        bookings.append(await script.book(max_wait_us=2 * MICROS))
        slots.append(await script.last_slot())

    waits = [wait for _, wait in bookings]
    assert [granted for granted, _ in bookings] == [1] * 10 + [0] * 2
    assert waits[:5] == [0.0] * 5, "a burst up to the budget goes at once"
    assert all(1.05 < w <= 1.1 for w in waits[5:10]), "the next five wait one spacing"
    assert all(2.15 < w <= 2.2 for w in waits[10:]), "refused: the slot is beyond the max wait"
    assert slots[:10] == sorted(slots[:10]), "slots are booked in arrival order"
    assert slots[10:] == [slots[9]] * 2
    assert await redis.llen(script.keys[0]) == 5, "only the last `rate` slots are kept"
    assert (await script.book(max_wait_us=3 * MICROS))[0] == 1, "a refusal booked nothing"


async def test_a_replica_can_ask_for_no_slot_before_its_local_grants_are_over(
    redis: Redis,
) -> None:
    script = Script(redis)
    await script.mark_in_use()
    first = await script.book(not_before_us=700_000)
    second = await script.book()

    assert 0.69 < first[1] <= 0.7
    assert second[1] == 0.0, "other replicas are not held back by one replica's own past"


async def test_a_redis_without_the_marker_puts_up_a_fence(redis: Redis) -> None:
    script = Script(redis)
    waits = [(await script.book(rate=5, share=2, fence_ms=4000))[1] for _ in range(3)]

    assert waits[:2] == [0.0, 0.0]
    assert 1.05 < waits[2] <= 1.1, "during the fence the budget is one replica's share"
    assert 3000 < await redis.pttl(script.keys[2]) <= 4000
    assert await redis.exists(script.keys[3])


async def test_cooldown_holds_every_booking_back(redis: Redis) -> None:
    script = Script(redis)
    await script.mark_in_use()
    await script.cool_down(3 * MICROS)
    await script.cool_down(1 * MICROS)

    granted, wait = await script.book()
    assert granted == 1
    assert 2.9 < wait <= 3.0, "a shorter cooldown does not cut a longer one short"


async def test_breaker_pays_one_timeout_per_outage_and_probes_one_at_a_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connections = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = FakeClock(1000.0, sleep_advances=True)
    client = Redis.from_url(
        f"redis://127.0.0.1:{port}", socket_timeout=0.1, socket_connect_timeout=0.1
    )
    link = RedisCircuitBreaker(client, retry_after=1.0, clock=clock.time)
    async with server:
        for _ in range(5):
            with pytest.raises(RedisUnavailableError):
                await link.call(lambda redis: redis.ping())
        assert connections == 1, "after the first timeout, nobody touches the network"
        assert not link.healthy
        clock.advance(1.0)
        results = await asyncio.gather(
            *(link.call(lambda redis: redis.ping()) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, RedisUnavailableError) for r in results)
        assert connections == 2, "one probe, not three"
    await link.close()
    assert caplog.text.count("Redis is unreachable") == 1


async def test_the_link_recovers_by_itself(redis_server: RedisServer) -> None:
    link = RedisCircuitBreaker(
        Redis.from_url(redis_server.url, socket_timeout=0.2), retry_after=0.0
    )
    await redis_server.stop()
    with pytest.raises(RedisUnavailableError):
        await link.call(lambda redis: redis.ping())
    assert not link.healthy
    await redis_server.start()
    assert await link.call(lambda redis: redis.ping())
    assert link.healthy
    assert link.recoveries == 1
    await link.close()


def _service(
    cams_url: str, redis_url: str, limiter: LimiterSettings, **cams: Any
) -> PreviewService:
    settings = PreviewSettings(limiter=limiter, redis_url=redis_url, replicas=2)
    return PreviewService.create(
        DEMO_CREDENTIALS, CamsSettings(Endpoint.parse(cams_url), max_attempts=1, **cams), settings
    )


async def test_two_services_on_one_redis_share_the_budget_and_the_cache(
    redis_server: RedisServer, redis: Redis
) -> None:
    limiter = LimiterSettings(max_wait=30.0)
    async with running_emulator(qps=5) as cams:
        first = _service(cams.url, redis_server.url, limiter)
        second = _service(cams.url, redis_server.url, limiter)
        async with first, second:
            await first.get("warm-up")  # a Redis seen for the first time puts up a fence
            await asyncio.sleep(0)
            await redis.delete(*[k async for k in redis.scan_iter("flowpreview:budget:*:fence")])
            cams.emulator.reset()
            results = await asyncio.gather(
                *(first.get(f"a-{i}") for i in range(12)),
                *(second.get(f"b-{i}") for i in range(12)),
            )
            budget = cams.emulator.stats()
            cams.emulator.reset()
            again = await asyncio.gather(*(second.get(f"a-{i}") for i in range(12)))

        cached = cams.emulator.stats()
    assert len(results) == 24
    assert budget["counts"] == {"OK": 24}
    assert budget["max_in_any_second"][DEMO_CREDENTIALS.access_key_id] <= 5
    assert [p.flow_id for p in again] == [f"a-{i}" for i in range(12)]
    assert cached["received"] == 0, "the second serves what the first fetched"


async def test_without_redis_a_replica_waits_out_the_shared_bookings_then_uses_its_share(
    redis_server: RedisServer,
) -> None:
    await redis_server.stop()
    limiter = LimiterSettings(rate=4, period=0.2, margin=0.0, max_wait=0.3)
    async with running_emulator(qps=0) as cams:
        service = _service(cams.url, redis_server.url, limiter)
        async with service:
            with pytest.raises(BusyError):
                await service.get("too-early")
            assert await service.health() == "degraded"
            await asyncio.sleep(0.5)
            previews = await asyncio.gather(*(service.get(f"f{i}") for i in range(4)))

        arrivals = cams.emulator.stats()["arrivals"][DEMO_CREDENTIALS.access_key_id]
    assert len(previews) == 4
    assert len(arrivals) == 4
    assert arrivals[2] - arrivals[0] >= 0.19, "two per 0.2 s: half the budget of four"
    assert arrivals[3] - arrivals[1] >= 0.19


async def test_shared_limiter_falls_back_and_fences_on_recovery(
    redis_server: RedisServer, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    link = RedisCircuitBreaker(
        Redis.from_url(redis_server.url, socket_timeout=0.2), retry_after=0.0
    )
    limiter = SharedLimiter(link, LimiterSettings(max_wait=0.5), replicas=2)
    await limiter.admit("acct")
    await redis_server.stop()
    with pytest.raises(BusyError):
        await limiter.admit("acct")
    await redis_server.start()
    await limiter.admit("acct")

    assert link.healthy
    assert await redis.pttl("flowpreview:budget:{acct}:fence") > 0
    assert "Redis is unreachable" in caplog.text
    assert "Redis is back" in caplog.text
    await link.close()


async def test_two_replicas_stay_within_budget_across_an_outage_and_a_recovery(
    redis_server: RedisServer,
) -> None:
    settings = LimiterSettings(rate=4, period=0.5, margin=0.02, max_wait=1.0)
    loop = asyncio.get_running_loop()
    grants: list[float] = []
    links = [
        RedisCircuitBreaker(Redis.from_url(redis_server.url, socket_timeout=0.2), retry_after=0.1)
        for _ in range(2)
    ]
    first, second = (SharedLimiter(link, settings, replicas=2) for link in links)
    client = Redis.from_url(redis_server.url)
    await client.set(budget_key("acct", "marker"), 1)
    await client.aclose()

    async def ask(limiter: SharedLimiter, count: int, every: float) -> None:
        async def one() -> None:
            with contextlib.suppress(BusyError):
                send_by = await limiter.admit("acct")
                # As the client does: a call that wakes past its slot (a busy event loop)
                # is not sent, so it is no call at the server.
                if loop.time() <= send_by:
                    grants.append(loop.time())
                else:
                    await limiter.missed("acct")

        tasks = []
        for _ in range(count):
            tasks.append(asyncio.create_task(one()))
            await asyncio.sleep(every)
        await asyncio.gather(*tasks)

    await first.admit("acct")  # the first replica's last contact before the outage
    grants.append(loop.time())
    await asyncio.sleep(0.3)
    second_queue = asyncio.create_task(ask(second, 8, 0.0))  # books ahead on Redis
    await asyncio.sleep(0.05)
    await redis_server.stop()
    await asyncio.gather(second_queue, ask(first, 20, 0.05), ask(second, 20, 0.05))
    await redis_server.start()
    recovered = loop.time()
    await asyncio.gather(ask(first, 30, 0.05), ask(second, 30, 0.05))
    for link in links:
        await link.close()

    grants.sort()
    # About 21 on a quiet machine; a busy one misses a few slots (a late call is not sent),
    # which costs calls, never the budget. What must hold: served all along, never over.
    assert len(grants) >= 10
    assert sum(grant > recovered for grant in grants) >= 2, "served again after the outage"
    assert max_in_window(grants, settings.period) <= settings.rate
    assert all(link.healthy for link in links)


async def test_a_burst_of_operations_waits_for_pooled_connections(
    redis_server: RedisServer,
) -> None:
    shared = connect(redis_server.url, PreviewSettings(limiter=LimiterSettings()))
    answers = await asyncio.gather(*(shared.breaker.call(lambda r: r.ping()) for _ in range(300)))
    assert all(answers)
    assert shared.breaker.healthy
    await shared.breaker.close()


async def _redis_now_us(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * MICROS + int(micros)


async def test_a_stored_cooldown_longer_than_the_cap_is_cut_and_ends(redis: Redis) -> None:
    script = Script(redis)
    await script.mark_in_use()
    # As an older version, or a replica with a longer cap, would have left it.
    stored = await _redis_now_us(redis) + 600 * MICROS
    await redis.set(script.keys[1], stored, px=600_000)

    granted, wait = await script.book(cap_us=2 * MICROS)
    assert granted == 1
    assert 1.9 < wait <= 2.0
    assert int(await redis.get(script.keys[1]) or 0) <= await _redis_now_us(redis) + 2 * MICROS
    assert await redis.pttl(script.keys[1]) <= 2001, "written back cut, so it ends"


async def test_a_cooldown_is_capped_and_a_probe_goes_alone_after_it(redis: Redis) -> None:
    script = Script(redis)
    await script.mark_in_use()
    await script.cool_down(600 * MICROS, cap_us=MICROS // 2)

    probe = await script.book()
    assert script.probe
    after = await script.book()
    assert not script.probe

    assert 0.4 < probe[1] <= 0.5, "capped at half a second, not ten minutes"
    assert after[1] - probe[1] >= 1.09, "the next slot leaves the probe a spacing to answer"


async def test_ten_minutes_of_retry_after_do_not_freeze_replicas_nor_survive_restarts(
    redis_server: RedisServer, redis: Redis
) -> None:
    limiter = LimiterSettings(max_wait=2.0, max_cooldown=0.5)
    async with running_emulator(qps=0) as cams:
        cams.fault("throttle:600000@flow:t*1")
        first = _service(cams.url, redis_server.url, limiter)
        second = _service(cams.url, redis_server.url, limiter)
        async with first, second:
            await redis.set(budget_key(PREVIEWS, "marker"), 1)
            with pytest.raises(CamsError) as throttled:
                await first.get("t")
            cooldown_ms = await redis.pttl(budget_key(PREVIEWS, "cooldown"))
            on_the_other = await second.get("x")

        # A cooldown left by a replica of an older version, then every replica restarted.
        stored = await _redis_now_us(redis) + 600 * MICROS
        await redis.set(budget_key(PREVIEWS, "cooldown"), stored, px=600_000)
        restarted = _service(cams.url, redis_server.url, limiter)
        async with restarted:
            after_restart = await asyncio.gather(*(restarted.get(f"r{i}") for i in range(3)))

    assert throttled.value.retry_after == 0.5
    assert 0 < cooldown_ms <= 501
    assert on_the_other.flow_id == "x"
    assert [p.flow_id for p in after_restart] == ["r0", "r1", "r2"]


async def _sleeper_voided_by_a_throttle(
    redis_server: RedisServer, throttler: str
) -> tuple[BusyError, bool]:
    """One caller sleeping until its slot 3 s away; then a throttle of 20 s, heard by this
    replica (`same`) or by another one (`other`). Returns the sleeper's refusal, and whether
    it came before its slot."""
    settings = LimiterSettings(rate=1, period=3.0, margin=0.0, max_wait=5.0)
    links = [RedisCircuitBreaker(Redis.from_url(redis_server.url)) for _ in range(2)]
    here, there = (SharedLimiter(link, settings, replicas=2) for link in links)
    client = Redis.from_url(redis_server.url)
    await client.set(budget_key("acct", "marker"), 1)
    await client.aclose()
    await here.admit("acct")
    sleeper = asyncio.create_task(here.admit("acct"))
    await asyncio.sleep(0.2)
    await (here if throttler == "same" else there).throttled("acct", retry_after=20.0)
    done, _ = await asyncio.wait([sleeper], timeout=2.0)
    early = bool(done)
    with pytest.raises(BusyError) as caught:
        await sleeper
    for link in links:
        await link.close()
    return caught.value, early


async def test_a_sleeper_whose_slot_falls_in_a_pause_set_elsewhere_does_not_call(
    redis_server: RedisServer,
) -> None:
    busy, _ = await _sleeper_voided_by_a_throttle(redis_server, "other")
    assert 15.0 < busy.retry_after <= 20.0


async def test_a_replica_that_is_throttled_answers_its_own_sleepers_at_once(
    redis_server: RedisServer,
) -> None:
    busy, early = await _sleeper_voided_by_a_throttle(redis_server, "same")
    assert early, "refused when the pause began, not when its slot came"
    assert 19.0 < busy.retry_after <= 20.0


async def test_a_probe_that_missed_its_slot_makes_a_probe_due_again(
    redis_server: RedisServer, redis: Redis
) -> None:
    account = "acct"
    settings = LimiterSettings(cooldown=0.2, max_wait=5.0)
    link = RedisCircuitBreaker(Redis.from_url(redis_server.url))
    limiter = SharedLimiter(link, settings, replicas=2)
    await redis.set(budget_key(account, "marker"), 1)
    try:
        await limiter.throttled(account, retry_after=None)
        await limiter.admit(account)  # the probe, after the 0.2 s pause
        held = await redis.get(budget_key(account, "probe"))
        await limiter.missed(account)  # too late to send: nothing went out
        due = await redis.get(budget_key(account, "probe"))
        await limiter.missed(account)  # only the probe's own miss counts
    finally:
        await link.close()

    assert held not in (None, b"due"), "while the probe is out, others wait for its answer"
    assert due == b"due", "the next slot booked is the probe again"
