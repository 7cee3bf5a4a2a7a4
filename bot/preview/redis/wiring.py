"""Connecting a replica to Redis: one circuit breaker, and the shared limiter and cache on it."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.maint_notifications import MaintNotificationsConfig

from bot.cams.actions import Action
from bot.preview.redis.cache import SharedCache
from bot.preview.redis.catalog import SharedCatalog
from bot.preview.redis.circuit_breaker import REDIS_TIMEOUT_S, RedisCircuitBreaker
from bot.preview.redis.limiter import SharedLimiter
from bot.preview.redis.marks import SharedMarks
from bot.preview.settings import PreviewSettings

POOL_SIZE = 32
POOL_WAIT_S = 2.0


@dataclass(frozen=True, slots=True)
class Shared:
    """What a replica shares with the others: one circuit breaker, a limiter per action, the
    cache, the catalogs and marks."""

    breaker: RedisCircuitBreaker
    limiters: dict[Action, SharedLimiter]
    cache: SharedCache
    catalog: SharedCatalog
    marks: SharedMarks


def redis_client(redis_url: str) -> Redis:
    """A client on `redis_url` whose pool replaces connections the server has closed.

    Connections open on first use.
    """
    # A blocking pool: a burst of asks waits briefly for a connection instead of failing
    # as if Redis were down (each operation holds one for well under a millisecond).
    pool = BlockingConnectionPool.from_url(
        redis_url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT_S,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        # The pool checks a pooled connection before lending it and reconnects one the
        # server has closed (a restarted Redis), so no command is sent on it and no outage
        # is declared. With maintenance notifications on (redis-py's default, for Redis
        # Enterprise) it skips that check, and each stale connection failed once.
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
        # No retries in redis-py: a timeout is paid once per outage, and a command whose
        # reply was lost (it may have run: admit.lua would book twice) is never sent again.
        retry=Retry(NoBackoff(), 0),
    )
    return Redis(connection_pool=pool)


def connect(redis_url: str, settings: PreviewSettings) -> Shared:
    """The shared limiters, cache and catalog store on `redis_url`; connections open on first
    use."""
    breaker = RedisCircuitBreaker(redis_client(redis_url))
    return Shared(
        breaker,
        {
            action: SharedLimiter(breaker, settings.limiter_for(action), settings.replicas)
            for action in Action
        },
        SharedCache(breaker, negative_ttl=settings.negative_ttl),
        SharedCatalog(breaker),
        SharedMarks(breaker),
    )
