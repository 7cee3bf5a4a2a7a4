"""The flow catalog while CAMS is slow: a stale copy serves, close cancels, a wait gives up."""

from __future__ import annotations

import asyncio

from bot.preview.catalog import CatalogStatus
from bot.standin.cams.catalog import make_flows
from tests.fake_clock import FakeClock
from tests.shared.catalog import (
    SPACE,
    TTL,
    catalog_client,
    catalog_emulator,
    expected_ids,
    list_calls,
    make_catalog,
    snapshot_ids,
)


async def test_the_stale_copy_serves_until_the_new_one_is_complete() -> None:
    old, new = make_flows(12, seed=1), make_flows(14, seed=2)
    clocks = FakeClock(1000.0)
    async with catalog_emulator({SPACE: old}) as cams, catalog_client(cams) as client:
        catalog = make_catalog(client, clocks)
        first = await catalog.wait(SPACE, 10)
        assert catalog.peek(SPACE) is first
        assert list_calls(cams) == 3, "a fresh copy is not refreshed"

        cams.emulator.set_catalog({SPACE: new})
        cams.fault("latency:0.2@action:ListFlow")
        clocks.advance(TTL)
        seen = {id(catalog.peek(SPACE))}
        state = catalog.state(SPACE)
        refresh = asyncio.create_task(catalog.refreshed(SPACE))
        while not refresh.done():
            seen.add(id(catalog.peek(SPACE)))
            await asyncio.wait({refresh}, timeout=0.02)
        latest = await refresh
        assert await catalog.wait(SPACE, 0) is latest
        await catalog.close()

    assert (state.status, state.refreshing) == (CatalogStatus.READY, True)
    assert id(first) in seen
    assert seen <= {id(first), id(latest)}, "never a partial list: the old copy, then the new"
    assert snapshot_ids(latest) == expected_ids(new)
    assert latest is not None
    assert first is not None
    assert latest.fetched_at == first.fetched_at + TTL


async def test_wait_gives_up_after_its_bound_and_the_refresh_goes_on() -> None:
    flows = make_flows(3)
    async with catalog_emulator({SPACE: flows}) as cams, catalog_client(cams) as client:
        cams.fault("latency:0.5@action:ListFlow")
        catalog = make_catalog(client, FakeClock(1000.0))
        assert await catalog.wait(SPACE, 0.05) is None
        assert catalog.state(SPACE).status is CatalogStatus.LOADING
        snapshot = await catalog.wait(SPACE, 10)
        await catalog.close()

    assert snapshot_ids(snapshot) == expected_ids(flows)
    assert list_calls(cams) == 1


async def test_close_cancels_a_refresh_and_nothing_starts_after() -> None:
    async with catalog_emulator({SPACE: make_flows(7)}) as cams, catalog_client(cams) as client:
        cams.fault("latency:5@action:ListFlow")
        catalog = make_catalog(client, FakeClock(1000.0))
        catalog.peek(SPACE)
        await asyncio.sleep(0.05)
        async with asyncio.timeout(2):
            await catalog.close()
        assert catalog.peek(SPACE) is None
        assert not catalog.state(SPACE).refreshing

    assert list_calls(cams) == 1
