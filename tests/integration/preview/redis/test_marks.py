"""Marks on a real redis-server: one replica's claim holds for all, for its time, and a replica
falls back on its own memory while Redis is out."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.preview.marks import Marks
from bot.preview.redis.circuit_breaker import RedisCircuitBreaker
from bot.preview.redis.marks import KEY_PREFIX, SharedMarks

KEY = ("T1", "C1", "1234567890123456")


async def test_a_claim_holds_for_every_replica_until_released(
    link: RedisCircuitBreaker,
) -> None:
    one, other = Marks(SharedMarks(link)), Marks(SharedMarks(link))

    assert await one.claim("unfurl", KEY, 1800)
    assert not await other.claim("unfurl", KEY, 1800)
    assert not await one.claim("unfurl", KEY, 1800)
    (name,) = [k async for k in link.client.scan_iter(f"{KEY_PREFIX}:*")]
    assert 1_799_000 < await link.client.pttl(name) <= 1_800_000
    assert b"1234567890123456" not in name, "IDs never shape the key"

    await one.release("unfurl", KEY)
    assert await other.claim("unfurl", KEY, 1800)


async def test_while_redis_is_out_a_replica_remembers_alone() -> None:
    # Nothing listens on port 1: every call fails at once, as in an outage.
    breaker = RedisCircuitBreaker(Redis.from_url("redis://127.0.0.1:1", socket_timeout=0.2))
    try:
        marks = Marks(SharedMarks(breaker))
        assert await marks.claim("unfurl", KEY, 1800)
        assert not await marks.claim("unfurl", KEY, 1800)
        await marks.release("unfurl", KEY)
        assert await marks.claim("unfurl", KEY, 1800)
    finally:
        await breaker.close()
