"""Catalog snapshots and the refresh lock in a real redis-server, and replicas sharing them."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.cams.actions import Action
from bot.cams.client import CamsClient
from bot.cams.models import FlowSummary
from bot.preview.catalog import FlowCatalog
from bot.preview.catalog_listing import Listing
from bot.preview.redis import catalog as shared_catalog
from bot.preview.redis.catalog import SharedCatalog, catalog_key, encode_flows
from bot.preview.redis.circuit_breaker import RedisCircuitBreaker
from bot.standin.cams.catalog import make_flows
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import RunningEmulator, running_emulator
from bot.standin.harness.redis_server import RedisServer
from tests.shared.redis_catalog import KEY, SPACE

NOW = 1_800_000_000.0
TTL = 300.0
FLOWS = (
    FlowSummary("1234567890123456", "Sign-up v3", ("SIGN_UP",)),
    FlowSummary("9876543210987654", "Café loyalty survey \u2013 São Paulo", ("SURVEY",)),
    FlowSummary("1111111111111111", "", ()),
)


def _link(redis_server: RedisServer) -> RedisCircuitBreaker:
    return RedisCircuitBreaker(
        Redis.from_url(redis_server.url, socket_timeout=0.2), retry_after=0.0
    )


@pytest.fixture
async def link(redis_server: RedisServer) -> AsyncIterator[RedisCircuitBreaker]:
    link = _link(redis_server)
    yield link
    await link.close()


async def test_a_snapshot_round_trips_and_lives_a_dozen_ttls(link: RedisCircuitBreaker) -> None:
    store = SharedCatalog(link)
    assert await store.fetched_at(KEY) is None
    assert await store.load(KEY, 100) is None

    await store.save(KEY, Listing(FLOWS, NOW, truncated=True), 12 * TTL)

    assert await store.fetched_at(KEY) == NOW
    assert await store.load(KEY, 100) == Listing(FLOWS, NOW, truncated=True)
    assert await store.load(("other-acct", SPACE), 100) is None
    ttl_ms: int = await link.client.pttl(catalog_key(KEY, "snapshot"))
    assert 3_590_000 < ttl_ms <= 3_600_000


async def test_a_snapshot_listed_earlier_never_replaces_a_later_one(
    link: RedisCircuitBreaker,
) -> None:
    store = SharedCatalog(link)
    await store.save(KEY, Listing(FLOWS, NOW), TTL)
    await store.save(KEY, Listing(FLOWS[:1], NOW - 1), TTL)
    await store.save(KEY, Listing(FLOWS[:2], NOW), TTL)

    assert await store.load(KEY, 100) == Listing(FLOWS, NOW)
    await store.save(KEY, Listing(FLOWS[:1], NOW + 1), TTL)
    assert await store.load(KEY, 100) == Listing(FLOWS[:1], NOW + 1)


async def test_loading_keeps_at_most_the_bound(link: RedisCircuitBreaker) -> None:
    store = SharedCatalog(link)
    await store.save(KEY, Listing(FLOWS, NOW), TTL)
    assert await store.load(KEY, 2) == Listing(FLOWS[:2], NOW, truncated=True)


@pytest.mark.parametrize(
    "data",
    [
        b"not compressed",
        zlib.compress(b"not json"),
        zlib.compress(b'{"v": 2, "flows": []}'),
        zlib.compress(b'{"flows": []}'),
        zlib.compress(b'{"v": 1, "flows": [[1, "name", []]]}'),
        zlib.compress(b'{"v": 1, "flows": [["", "name", []]]}'),
        zlib.compress(b'{"v": 1, "flows": [["1", "name"]]}'),
        zlib.compress(b'{"v": 1, "flows": [["1", "name", "SIGN_UP"]]}'),
        zlib.compress(b'{"v": 1, "flows": {}}'),
        zlib.compress(b"[1]"),
    ],
)
async def test_unreadable_snapshots_are_ignored(link: RedisCircuitBreaker, data: bytes) -> None:
    store = SharedCatalog(link)
    await link.client.hset(catalog_key(KEY, "snapshot"), mapping={"at": NOW, "data": data})
    assert await store.load(KEY, 100) is None


async def test_an_unreadable_time_is_no_snapshot(link: RedisCircuitBreaker) -> None:
    store = SharedCatalog(link)
    data = encode_flows(FLOWS)
    await link.client.hset(catalog_key(KEY, "snapshot"), mapping={"at": "nan", "data": data})
    assert await store.fetched_at(KEY) is None
    assert await store.load(KEY, 100) is None


async def test_oversized_snapshots_are_not_read(
    link: RedisCircuitBreaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SharedCatalog(link)
    many = tuple(FlowSummary(str(10**15 + n), f"flow {n}") for n in range(2_000))
    await store.save(KEY, Listing(many, NOW), TTL)
    stored = len(encode_flows(many))

    monkeypatch.setattr(shared_catalog, "MAX_JSON_BYTES", 10_000)
    assert await store.load(KEY, 10_000) is None, "decompressed beyond the bound"
    monkeypatch.setattr(shared_catalog, "MAX_STORED_BYTES", stored - 1)
    assert await store.load(KEY, 10_000) is None, "stored beyond the bound"


async def test_the_lock_is_one_holders_and_only_the_holder_renews_or_releases_it(
    link: RedisCircuitBreaker,
) -> None:
    store = SharedCatalog(link)
    first = await store.claim(KEY, 5.0)
    second = await store.claim(KEY, 5.0)

    assert first.token is not None
    assert not first.held_elsewhere
    assert second.token is None
    assert second.held_elsewhere
    assert await store.claimed(KEY)
    assert not await store.renew(KEY, "someone else", 5.0)
    await store.release(KEY, "someone else")
    assert await store.claimed(KEY)

    assert await store.renew(KEY, first.token, 60.0)
    lease_ms: int = await link.client.pttl(catalog_key(KEY, "lock"))
    assert 59_000 < lease_ms <= 60_000
    await store.release(KEY, first.token)
    assert not await store.claimed(KEY)
    third = await store.claim(KEY, 5.0)
    assert third.token not in (None, first.token)


async def test_an_outage_shares_nothing_and_raises_nothing(
    redis_server: RedisServer, link: RedisCircuitBreaker
) -> None:
    store = SharedCatalog(link)
    await redis_server.stop()

    claim = await store.claim(KEY, 5.0)
    assert (claim.token, claim.held_elsewhere) == (None, False)
    assert await store.renew(KEY, "token", 5.0), "nobody else can take it while Redis is out"
    assert not await store.claimed(KEY)
    assert await store.fetched_at(KEY) is None
    assert await store.load(KEY, 100) is None
    await store.save(KEY, Listing(FLOWS, NOW), TTL)
    await store.release(KEY, "token")
    assert not link.healthy


# Replicas: each with its own client, link and catalog, on one emulator and one Redis.


class Wall:
    """A wall clock the test moves, shared by the replicas."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _replica(
    cams: RunningEmulator, redis_server: RedisServer, wall: Callable[[], float], **kwargs: Any
) -> tuple[CamsClient, RedisCircuitBreaker, FlowCatalog]:
    client = cams.client(settings=cams.settings(default_space=SPACE, max_attempts=1))
    link = _link(redis_server)
    catalog = FlowCatalog(
        client, ttl=TTL, page_size=5, shared=SharedCatalog(link), wall_clock=wall, **kwargs
    )
    return client, link, catalog


async def _close(*replicas: tuple[CamsClient, RedisCircuitBreaker, FlowCatalog]) -> None:
    for client, link, catalog in replicas:
        await catalog.close()
        await client.close()
        await link.close()


def _list_calls(cams: RunningEmulator) -> int:
    return cams.emulator.by_action.get(Action.LIST_FLOW, 0)


async def test_two_replicas_list_once_and_the_other_adopts(redis_server: RedisServer) -> None:
    flows = make_flows(23)
    wall = Wall()
    async with running_emulator(catalog={SPACE: flows}) as cams:
        cams.fault("latency:0.05@action:ListFlow")
        one, two = _replica(cams, redis_server, wall), _replica(cams, redis_server, wall)
        try:
            first = asyncio.create_task(one[2].wait(SPACE, 10))
            # Redis is outside the loop: nothing to await but the lock's appearance.
            lock = (DEMO_CREDENTIALS.access_key_id, SPACE)
            while not await SharedCatalog(one[1]).claimed(lock):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            second = await two[2].wait(SPACE, 10)
            listed = await first
        finally:
            await _close(one, two)

    assert listed is not None
    assert second is not None
    assert [f.flow_id for f in second.flows] == [f.flow_id for f in flows]
    assert second.fetched_at == listed.fetched_at
    assert _list_calls(cams) == 5, "one replica's pages only"


async def test_a_replica_adopts_a_newer_snapshot_when_its_own_is_due(
    redis_server: RedisServer,
) -> None:
    old, new = make_flows(7, seed=1), make_flows(8, seed=2)
    wall = Wall()
    async with running_emulator(catalog={SPACE: old}) as cams:
        one, two = _replica(cams, redis_server, wall), _replica(cams, redis_server, wall)
        try:
            await one[2].wait(SPACE, 10)
            await one[2].refreshed(SPACE)
            adopted = await two[2].wait(SPACE, 10)
            assert _list_calls(cams) == 2, "the second adopted the first's snapshot"

            cams.emulator.set_catalog({SPACE: new})
            wall.now += TTL
            await one[2].wait(SPACE, 10)
            await one[2].refreshed(SPACE)
            calls = _list_calls(cams)
            two[2].peek(SPACE)
            await two[2].refreshed(SPACE)
            latest = two[2].peek(SPACE)
        finally:
            await _close(one, two)

    assert adopted is not None
    assert [f.flow_id for f in adopted.flows] == [f.flow_id for f in old]
    assert calls == 4
    assert _list_calls(cams) == 4, "the due replica found a fresh copy in Redis"
    assert latest is not None
    assert [f.flow_id for f in latest.flows] == [f.flow_id for f in new]


async def test_a_cold_replica_serves_a_stale_shared_copy_while_it_refreshes(
    redis_server: RedisServer,
) -> None:
    old, new = make_flows(7, seed=1), make_flows(8, seed=2)
    wall = Wall()
    async with running_emulator(catalog={SPACE: old}) as cams:
        one = _replica(cams, redis_server, wall)
        two = _replica(cams, redis_server, wall)
        try:
            await one[2].wait(SPACE, 10)
            await one[2].refreshed(SPACE)
            cams.emulator.set_catalog({SPACE: new})
            cams.fault("latency:0.3@action:ListFlow")
            wall.now += 2 * TTL
            stale = await two[2].wait(SPACE, 10)
            await two[2].refreshed(SPACE)
            fresh = two[2].peek(SPACE)
        finally:
            await _close(one, two)

    assert stale is not None
    assert [f.flow_id for f in stale.flows] == [f.flow_id for f in old]
    assert fresh is not None
    assert [f.flow_id for f in fresh.flows] == [f.flow_id for f in new]
    assert fresh.fetched_at == NOW + 2 * TTL


async def test_without_redis_each_replica_lists_on_its_own(redis_server: RedisServer) -> None:
    flows = make_flows(7)
    async with running_emulator(catalog={SPACE: flows}) as cams:
        one = _replica(cams, redis_server, Wall())
        try:
            await redis_server.stop()
            snapshot = await one[2].wait(SPACE, 10)
        finally:
            await _close(one)

    assert snapshot is not None
    assert len(snapshot.flows) == 7
    assert _list_calls(cams) == 2
