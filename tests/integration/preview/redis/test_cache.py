"""The cache in Redis: one replica's fetch serves all, and entries expire with the link."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowPreview
from bot.preview.redis.cache import KEY_PREFIX, SharedCache
from bot.preview.redis.circuit_breaker import RedisCircuitBreaker
from bot.standin.harness.redis_server import RedisServer

NOW = 1_800_000_000.0
KEY = ("acct", "space", "1234567890123456")


def _preview(life: float) -> FlowPreview:
    expires = datetime.fromtimestamp(NOW + life, UTC).replace(microsecond=0)
    return FlowPreview(KEY[2], "https://x.test/p?token=1", expires, "REQ")


async def _ttl_ms(link: RedisCircuitBreaker) -> int:
    (key,) = [k async for k in link.client.scan_iter(f"{KEY_PREFIX}:*")]
    ttl: int = await link.client.pttl(key)
    return ttl


async def test_a_preview_round_trips_and_expires_with_its_margin(link: RedisCircuitBreaker) -> None:
    cache = SharedCache(link, negative_ttl=30, timer=lambda: NOW)
    await cache.put(KEY, _preview(10_000.0))

    assert await cache.get(KEY) == _preview(10_000.0)
    assert await cache.get(("acct", "other", KEY[2])) is None
    assert 8_999_000 < await _ttl_ms(link) <= 9_000_000, "10,000 s less 10%"


async def test_errors_are_kept_briefly(link: RedisCircuitBreaker) -> None:
    cache = SharedCache(link, negative_ttl=30, timer=time.time)
    error = CamsError(ErrorKind.NOT_FOUND, "no such flow", code="Flow.NotFound", request_id="R")
    await cache.put(KEY, error)

    stored = await cache.get(KEY)
    assert isinstance(stored, CamsError)
    assert (stored.kind, stored.code, stored.request_id) == (
        ErrorKind.NOT_FOUND,
        "Flow.NotFound",
        "R",
    )
    assert 29_000 < await _ttl_ms(link) <= 30_000


async def test_a_link_about_to_expire_is_not_stored(link: RedisCircuitBreaker) -> None:
    cache = SharedCache(link, negative_ttl=30, timer=lambda: NOW)
    await cache.put(KEY, _preview(59.0))
    assert await cache.get(KEY) is None


async def test_unreadable_entries_are_misses(link: RedisCircuitBreaker) -> None:
    cache = SharedCache(link, negative_ttl=30, timer=lambda: NOW)
    await cache.put(KEY, _preview(10_000.0))
    (key,) = [k async for k in link.client.scan_iter(f"{KEY_PREFIX}:*")]
    for junk in (b"not json", b"{}", b'{"error": {"kind": "nonsense"}}', b"[1]"):
        await link.client.set(key, junk)
        assert await cache.get(KEY) is None


async def test_an_outage_is_a_miss_and_a_skipped_write(
    redis_server: RedisServer, link: RedisCircuitBreaker
) -> None:
    cache = SharedCache(link, negative_ttl=30, timer=lambda: NOW)
    await redis_server.stop()
    await cache.put(KEY, _preview(10_000.0))
    assert await cache.get(KEY) is None
    assert not link.healthy
