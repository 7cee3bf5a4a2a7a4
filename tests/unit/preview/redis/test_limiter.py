"""The shared limiter's arithmetic and keys, and the breaker's probe, with no redis-server."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.cams.actions import Action
from bot.cams.client import action_budget_key
from bot.preview.limiter import LimiterSettings
from bot.preview.redis.circuit_breaker import RedisCircuitBreaker, RedisUnavailableError
from bot.preview.redis.limiter import KEY_PARTS, budget_key, replica_share
from tests.fake_clock import FakeClock


async def test_the_share_of_one_replica() -> None:
    base = LimiterSettings(rate=5)
    assert replica_share(base, 2).rate == 2
    assert replica_share(base, 3).rate == 1
    assert replica_share(base, 6).rate == 0


async def test_only_a_probe_ends_an_outage() -> None:
    clock = FakeClock(1000.0, sleep_advances=True)
    link = RedisCircuitBreaker(
        Redis.from_url("redis://127.0.0.1:9"), retry_after=1.0, clock=clock.time
    )
    release = asyncio.Event()

    async def slow(redis: Redis) -> str:
        await release.wait()
        return "started before the outage"

    async def broken(redis: Redis) -> str:
        raise RedisConnectionError("down")

    before = asyncio.create_task(link.call(slow))
    await asyncio.sleep(0)
    with pytest.raises(RedisUnavailableError):
        await link.call(broken)
    release.set()
    assert await before == "started before the outage"

    assert not link.healthy, "a call from before the outage proves nothing"
    assert link.recoveries == 0
    await link.close()


def _hash_tag(key: str) -> str:
    """What Redis Cluster hashes to place `key`: the text in its first braces, if any."""
    start = key.find("{")
    end = key.find("}", start + 1)
    return key[start + 1 : end] if start != -1 and end > start + 1 else key


@pytest.mark.parametrize("account", ["LTAI5tExampleKeyId", "STS.NUx9", "odd}{:key id"])
def test_each_actions_budget_has_keys_of_its_own_in_one_cluster_slot(account: str) -> None:
    keys = {
        action: [budget_key(action_budget_key(account, action), part) for part in KEY_PARTS]
        for action in Action
    }
    every_key = [key for parts in keys.values() for key in parts]
    assert len(set(every_key)) == len(every_key), "no two budgets share a key"
    for parts in keys.values():
        assert len({_hash_tag(key) for key in parts}) == 1, "a script's keys share one slot"
