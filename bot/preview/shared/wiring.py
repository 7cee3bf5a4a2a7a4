"""Connecting a replica to Redis: one link, and the shared limiter and cache on it."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import BlockingConnectionPool, Redis

from bot.preview.settings import PreviewSettings
from bot.preview.shared.cache import SharedCache
from bot.preview.shared.limiter import SharedLimiter
from bot.preview.shared.link import REDIS_TIMEOUT_S, RedisLink

POOL_SIZE = 32
POOL_WAIT_S = 2.0


@dataclass(frozen=True, slots=True)
class Shared:
    """What a replica shares with the others."""

    link: RedisLink
    limiter: SharedLimiter
    cache: SharedCache


def connect(redis_url: str, settings: PreviewSettings) -> Shared:
    """The shared limiter and cache on `redis_url`; connections open on first use."""
    # A blocking pool: a burst of asks waits briefly for a connection instead of failing
    # as if Redis were down (each operation holds one for well under a millisecond).
    pool = BlockingConnectionPool.from_url(
        redis_url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT_S,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    client = Redis(connection_pool=pool)
    link = RedisLink(client)
    return Shared(
        link,
        SharedLimiter(link, settings.limiter, settings.replicas),
        SharedCache(link, negative_ttl=settings.negative_ttl),
    )
