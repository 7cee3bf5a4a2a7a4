"""What the flow catalog's unit and integration tests share: the emulator, client and catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from bot.cams.actions import Action
from bot.cams.client import CamsClient
from bot.preview.catalog import FlowCatalog, Snapshot
from bot.standin.cams.catalog import SeededFlow
from bot.standin.harness.emulator import RunningEmulator, running_emulator
from tests.fake_clock import FakeClock

SPACE = "space-a"
TTL = 300.0
# The catalog's wall clock runs with its monotonic one, this far ahead.
WALL_AHEAD_S = 1_800_000_000.0 - 1000.0


@asynccontextmanager
async def catalog_emulator(
    catalog: Mapping[str, Sequence[SeededFlow]],
) -> AsyncIterator[RunningEmulator]:
    """An emulator serving `catalog`."""
    async with running_emulator(catalog=catalog) as running:
        yield running


def catalog_client(cams: RunningEmulator, **kwargs: Any) -> CamsClient:
    """A client of `cams` for SPACE that tries each call once."""
    return cams.client(settings=cams.settings(default_space=SPACE, max_attempts=1), **kwargs)


def make_catalog(client: CamsClient, clocks: FakeClock, **kwargs: Any) -> FlowCatalog:
    """A catalog on `client` whose clocks are `clocks`, five flows to a page unless told."""
    kwargs.setdefault("page_size", 5)
    return FlowCatalog(
        client,
        ttl=TTL,
        clock=clocks.time,
        wall_clock=lambda: clocks.now + WALL_AHEAD_S,
        **kwargs,
    )


def list_calls(cams: RunningEmulator) -> int:
    """How many ListFlow calls the emulator has answered."""
    return cams.emulator.by_action.get(Action.LIST_FLOW, 0)


def snapshot_ids(snapshot: Snapshot | None) -> list[str]:
    """The flow IDs of a snapshot, which must be there."""
    assert snapshot is not None
    return [flow.flow_id for flow in snapshot.flows]


def expected_ids(flows: Sequence[SeededFlow]) -> list[str]:
    """The flow IDs of seeded flows, in order."""
    return [flow.flow_id for flow in flows]
