"""The flow catalog over real loopback HTTP: paging, refresh in the background, bounds, denial."""

from __future__ import annotations

import asyncio
import logging
import math

import pytest

from bot.cams.actions import Action
from bot.cams.client import CamsClient
from bot.cams.errors import ErrorKind
from bot.cams.settings import CamsSettings
from bot.config import ConfigError, Endpoint
from bot.preview.catalog import FIRST_RETRY_S, CatalogStatus, FlowCatalog
from bot.preview.catalog_settings import CatalogSettings
from bot.preview.limiter import LimiterSettings, LocalLimiter
from bot.standin.cams.catalog import make_flows
from bot.standin.cams.server import DEMO_CREDENTIALS
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


@pytest.mark.parametrize(
    ("count", "calls"),
    [
        (23, 5),  # four full pages and a short one
        (20, 5),  # an exact multiple: four full pages, then an empty one ends the list
        (3, 1),
        (0, 1),  # an empty space: one empty page
    ],
)
async def test_paging_lists_every_flow_until_a_short_page(count: int, calls: int) -> None:
    flows = make_flows(count)
    async with catalog_emulator({SPACE: flows}) as cams, catalog_client(cams) as client:
        catalog = make_catalog(client, FakeClock(1000.0))
        assert catalog.peek() is None, "cold: nothing yet, a refresh starts"
        snapshot = await catalog.wait(None, 10)
        await catalog.close()

    assert snapshot_ids(snapshot) == expected_ids(flows)
    assert snapshot is not None
    assert (len(snapshot.index), snapshot.truncated, snapshot.space) == (count, False, SPACE)
    assert list_calls(cams) == calls
    pages = [r.raw_path for r in cams.emulator.recorded if r.action == Action.LIST_FLOW]
    assert "%22Size%22%3A5" in pages[0], "each call asks for the page size"


async def test_a_page_failing_halfway_keeps_the_old_copy_and_backs_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    old, new = make_flows(23, seed=1), make_flows(23, seed=2)
    clocks = FakeClock(1000.0)
    async with catalog_emulator({SPACE: old}) as cams, catalog_client(cams) as client:
        catalog = make_catalog(client, clocks)
        first = await catalog.wait(SPACE, 10)
        cams.emulator.set_catalog({SPACE: new})
        cams.fault("http:500@action:ListFlow+page:3*2")
        clocks.advance(TTL)

        with caplog.at_level(logging.DEBUG, logger="bot.preview.catalog"):
            assert catalog.peek(SPACE) is first, "stale, but it serves while the refresh runs"
            await catalog.refreshed(SPACE)
            failed = catalog.state(SPACE)
            calls = list_calls(cams)
            assert catalog.peek(SPACE) is first, "the failed refresh published nothing"
            assert list_calls(cams) == calls, "no new refresh before the backoff has passed"

            clocks.advance(FIRST_RETRY_S)
            catalog.peek(SPACE)
            await catalog.refreshed(SPACE)
            assert catalog.peek(SPACE) is first, "failed again on page 3"
            clocks.advance(2 * FIRST_RETRY_S)
            catalog.peek(SPACE)
            await catalog.refreshed(SPACE)
        recovered = catalog.peek(SPACE)
        await catalog.close()

    assert (failed.status, failed.reason) == (CatalogStatus.READY, ErrorKind.SERVER_ERROR)
    assert calls == 5 + 3, "a full listing, then pages 1-3 of the failed one"
    assert snapshot_ids(first) == expected_ids(old)
    assert snapshot_ids(recovered) == expected_ids(new)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "two failures in a row are logged once"
    assert "keeping the copy it has" in warnings[0].getMessage()
    assert any("available again" in r.getMessage() for r in caplog.records)


async def test_concurrent_asks_share_one_refresh() -> None:
    flows = make_flows(23)
    async with catalog_emulator({SPACE: flows}) as cams, catalog_client(cams) as client:
        cams.fault("latency:0.05@action:ListFlow")
        catalog = make_catalog(client, FakeClock(1000.0))
        peeks = [catalog.peek(SPACE) for _ in range(20)]
        states = [catalog.state(SPACE) for _ in range(5)]
        waited = await asyncio.gather(*(catalog.wait(SPACE, 10) for _ in range(10)))
        await catalog.close()

    assert peeks == [None] * 20
    assert {s.status for s in states} == {CatalogStatus.LOADING}
    assert len({id(snapshot) for snapshot in waited}) == 1
    assert list_calls(cams) == 5, "one listing's pages, whoever asked"


async def test_the_flows_held_are_bounded_and_the_cut_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clocks = FakeClock(1000.0)
    async with catalog_emulator({SPACE: make_flows(40)}) as cams, catalog_client(cams) as client:
        catalog = make_catalog(client, clocks, max_flows=12)
        with caplog.at_level(logging.WARNING, logger="bot.preview.catalog"):
            snapshot = await catalog.wait(SPACE, 10)
            clocks.advance(TTL)
            catalog.peek(SPACE)
            await catalog.refreshed(SPACE)
        await catalog.close()

    assert snapshot is not None
    assert (len(snapshot.flows), snapshot.truncated) == (12, True)
    assert list_calls(cams) == 2 * 3, "paging stops at the bound: 3 pages of 5, twice"
    cuts = [r.getMessage() for r in caplog.records if "CATALOG_MAX_FLOWS" in r.getMessage()]
    assert len(cuts) == 1


async def test_the_spaces_held_are_bounded_least_recently_used_first() -> None:
    spaces = {name: make_flows(3, seed=n) for n, name in enumerate(["s1", "s2", "s3"])}
    async with catalog_emulator(spaces) as cams, catalog_client(cams) as client:
        catalog = make_catalog(client, FakeClock(1000.0), max_spaces=2)
        for name in ("s1", "s2", "s1", "s3"):
            assert await catalog.wait(name, 10) is not None
        held = list_calls(cams)
        assert catalog.peek("s1") is not None, "used recently, so kept"
        assert catalog.peek("s2") is None, "the least recently used was dropped"
        await catalog.wait("s2", 10)
        await catalog.close()

    assert held == 3
    assert list_calls(cams) == 4


async def test_configured_spaces_are_never_dropped_for_typed_ones() -> None:
    spaces = {name: make_flows(3, seed=n) for n, name in enumerate(["home", "s1", "s2", "s3"])}
    async with catalog_emulator(spaces) as cams, catalog_client(cams) as client:
        catalog = make_catalog(client, FakeClock(1000.0), max_spaces=2, pinned=["home"])
        home = await catalog.wait("home", 10)
        for name in ("s1", "s2", "s3"):
            assert await catalog.wait(name, 10) is not None
        kept = catalog.held("home")
        dropped = catalog.held("s1")
        never_asked = catalog.held("s4")
        await catalog.close()

    assert home is not None
    assert kept is home, "the configured space outlives any number of typed ones"
    assert dropped is None
    assert never_asked is None, "held() starts nothing"
    assert list_calls(cams) == 4


async def test_a_new_space_makes_room_even_when_every_space_is_refreshing() -> None:
    spaces = {name: make_flows(3, seed=n) for n, name in enumerate(["s1", "s2"])}
    async with catalog_emulator(spaces) as cams, catalog_client(cams) as client:
        cams.fault("latency:0.2@action:ListFlow")
        catalog = make_catalog(client, FakeClock(1000.0), max_spaces=1)
        catalog.peek("s1")
        snapshot = await catalog.wait("s2", 10)
        kept = catalog.peek("s2")
        await catalog.close()

    assert snapshot is not None
    assert kept is snapshot, "the newcomer is kept; the refresh it displaced was cancelled"


async def test_a_denied_listflow_is_logged_once_and_asked_again_only_every_ttl(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clocks = FakeClock(1000.0)
    async with catalog_emulator({SPACE: make_flows(7)}) as cams, catalog_client(cams) as client:
        cams.fault("error:Ram.PermissionDeny@action:ListFlow")
        catalog = make_catalog(client, clocks)
        with caplog.at_level(logging.INFO, logger="bot.preview.catalog"):
            assert await catalog.wait(SPACE, 10) is None
            denied = catalog.state(SPACE)
            for _ in range(5):
                assert catalog.peek(SPACE) is None
            calls = list_calls(cams)
            clocks.advance(TTL)
            await catalog.wait(SPACE, 10)
            again = catalog.state(SPACE)
            cams.fault()
            clocks.advance(TTL)
            snapshot = await catalog.wait(SPACE, 10)
        await catalog.close()

    assert (denied.status, denied.reason) == (CatalogStatus.DENIED, ErrorKind.PERMISSION_DENIED)
    assert calls == 1, "peeks while denied ask nothing"
    assert again.status is CatalogStatus.DENIED
    assert snapshot is not None, "granted again: listed at the next try"
    assert catalog.state(SPACE).status is CatalogStatus.READY
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "logged once per space, however often it is asked"
    assert "cams:ListFlow" in warnings[0]
    assert "search by name" in warnings[0]
    assert "picker" in warnings[0]
    assert any("available again" in r.getMessage() for r in caplog.records)


async def test_a_cold_space_that_fails_says_why_and_waits_return_at_once() -> None:
    async with catalog_emulator({SPACE: make_flows(7)}) as cams, catalog_client(cams) as client:
        cams.fault("http:503@action:ListFlow")
        catalog = make_catalog(client, FakeClock(1000.0))
        assert await catalog.wait(SPACE, 10) is None
        state = catalog.state(SPACE)
        assert await catalog.wait(SPACE, 10) is None, "backing off: nothing to wait for"
        await catalog.close()

    assert (state.status, state.reason) == (CatalogStatus.FAILING, ErrorKind.SERVER_ERROR)
    assert list_calls(cams) == 1


async def test_a_busy_listflow_budget_fails_the_refresh_as_throttled() -> None:
    async with catalog_emulator({SPACE: make_flows(30)}) as cams:
        slow = LocalLimiter(LimiterSettings(rate=1, max_wait=0))
        gates = {action: LocalLimiter() for action in Action} | {Action.LIST_FLOW: slow}
        async with catalog_client(cams, gates=gates) as client:
            catalog = make_catalog(client, FakeClock(1000.0))
            assert await catalog.wait(SPACE, 10) is None
            state = catalog.state(SPACE)
            await catalog.close()

    assert (state.status, state.reason) == (CatalogStatus.FAILING, ErrorKind.THROTTLED)
    assert list_calls(cams) == 1


async def test_a_refresh_never_spends_the_preview_budget() -> None:
    async with catalog_emulator({SPACE: make_flows(40)}) as cams:
        # One preview per 1.1 s and no waiting: a single ListFlow page on this gate would
        # make the preview below busy.
        previews = LocalLimiter(LimiterSettings(rate=1, max_wait=0))
        listing = LocalLimiter(LimiterSettings(rate=100))
        gates = {
            Action.GET_FLOW_PREVIEW_URL: previews,
            Action.LIST_FLOW: listing,
            Action.GET_FLOW: LocalLimiter(),
        }
        async with catalog_client(cams, gates=gates) as client:
            catalog = make_catalog(client, FakeClock(1000.0))
            refresh = asyncio.create_task(catalog.wait(SPACE, 10))
            await asyncio.sleep(0)
            preview = await client.get_flow_preview_url("1234567890123456")
            await refresh
            preview_key = client.budget_key(Action.GET_FLOW_PREVIEW_URL)
            list_key = client.budget_key(Action.LIST_FLOW)
            preview_horizon = previews.horizon(preview_key)
            list_horizon = listing.horizon(list_key)
            await catalog.close()

    assert preview.flow_id == "1234567890123456"
    assert list_calls(cams) == 9
    assert cams.emulator.by_action[Action.GET_FLOW_PREVIEW_URL] == 1
    assert math.isfinite(list_horizon), "the ListFlow pages went through their own gate"
    assert preview_horizon < list_horizon, "the preview gate saw the one preview only"


async def test_without_a_space_the_catalog_fails_without_a_call() -> None:
    async with catalog_emulator({SPACE: make_flows(3)}) as cams:
        settings = cams.settings(max_attempts=1)
        async with cams.client(settings=settings) as client:
            catalog = make_catalog(client, FakeClock(1000.0))
            assert await catalog.wait(None, 10) is None
            state = catalog.state(None)
            await catalog.close()

    assert (state.status, state.reason, state.space) == (
        CatalogStatus.FAILING,
        ErrorKind.BAD_REQUEST,
        "",
    )
    assert list_calls(cams) == 0


def test_settings_come_from_the_environment_and_name_a_bad_variable() -> None:
    assert CatalogSettings.from_env({}) == CatalogSettings(300.0, 100, 50_000)
    env = {"CATALOG_TTL_S": "60", "CATALOG_PAGE_SIZE": "50", "CATALOG_MAX_FLOWS": "10000"}
    assert CatalogSettings.from_env(env) == CatalogSettings(60.0, 50, 10_000)
    env["CATALOG_MAX_SPACES"] = "8"
    assert CatalogSettings.from_env(env) == CatalogSettings(60.0, 50, 10_000, 8)
    client = CamsClient(DEMO_CREDENTIALS, CamsSettings(Endpoint.parse("http://127.0.0.1:9")))
    catalog = FlowCatalog.create(client, CatalogSettings(60.0, 50, 10_000, 8))
    assert (catalog.ttl, catalog.page_size, catalog.max_flows) == (60.0, 50, 10_000)
    assert catalog.max_spaces == 8


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CATALOG_TTL_S", "5"),
        ("CATALOG_TTL_S", "soon"),
        ("CATALOG_PAGE_SIZE", "101"),
        ("CATALOG_PAGE_SIZE", "0"),
        ("CATALOG_MAX_FLOWS", "0"),
        ("CATALOG_MAX_FLOWS", "1000000"),
        ("CATALOG_MAX_SPACES", "0"),
        ("CATALOG_MAX_SPACES", "10001"),
        ("CATALOG_MAX_SPACES", "many"),
        ("CATALOG_MAX_SPACES", "2.5"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        CatalogSettings.from_env({name: value})
    assert refused.value.variable == name
