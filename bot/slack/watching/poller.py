"""Polling watched flows with GetFlow, within a share of the budget that never delays a person.

CAMS sends no event when Meta changes a flow's status, so one replica at a time (the holder of
a lease in the database) calls GetFlow for every watched flow, and every flow of a watched
space, once per WATCH_POLL_S. Calls are paced to WATCH_MAX_QPS and yield to people: a poll
takes a slot of GetFlow's budget only if one is free at once (`yield_within`), and otherwise
waits its turn again, so the cycle stretches rather than bursting or queueing ahead of anyone.

What GetFlow says is handed to the store, which compares it with the last status seen and, in
the same transaction, records a change and a delivery for each watching channel: a change is
found once however many replicas poll, and a restart loses none (the next poll sees it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bot.cams.errors import CamsError, ErrorKind
from bot.metrics import WATCH_CYCLE_SECONDS, WATCHED_FLOWS
from bot.preview.errors import BusyError
from bot.preview.service import PreviewService
from bot.slack.watching.settings import WatchSettings
from bot.store.watches import Watch, Watches

log = logging.getLogger(__name__)

LEASE = "watch-poller"
# How soon a poll that stepped aside for a person's lookup tries again.
BUSY_RETRY_S = 0.2
# A poll takes a slot of the budget only if one is free now: waiting for one, even briefly,
# would book it ahead of a person who asks meanwhile.
YIELD_S = 0.0
# How long a watched space's flow list may take to load when nobody has loaded it yet.
CATALOG_WAIT_S = 30.0
# A permission error pauses the watch: CAMS would refuse every poll the same way.
PAUSING = frozenset({ErrorKind.PERMISSION_DENIED, ErrorKind.WRONG_OWNER, ErrorKind.NOT_SUBSCRIBED})

Notify = Callable[[Watch, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Target:
    """One flow to poll: its space, its ID, the name it was last listed with, and the watches
    that asked for it (a flow watch, or a space watch of its space)."""

    space_id: str
    flow_id: str
    name: str
    watches: tuple[Watch, ...]


class Poller:
    """Polls the watched flows while this replica holds the lease.

    `notify(watch, reason)` tells a watch's channel that it is paused; `found()`, when given,
    is called for each change recorded, so that it is posted without waiting.
    """

    def __init__(
        self,
        service: PreviewService,
        watches: Watches,
        settings: WatchSettings,
        *,
        holder: str,
        notify: Notify,
        found: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.service = service
        self.watches = watches
        self.settings = settings
        self.holder = holder
        self._notify = notify
        self._found = found
        self._clock = clock
        self._sleep = sleep
        # A dead holder's lease runs out within half a poll, and followers look every quarter
        # of one: another replica takes over within a poll.
        self._lease_s = max(settings.poll_s / 2, 2.0)
        self._renewed_at = -float("inf")
        self._next_call = -float("inf")

    async def run(self) -> None:
        """Poll while holding the lease, a cycle per WATCH_POLL_S; look for it otherwise."""
        while True:
            if not await self._hold():
                await self._sleep(self._lease_s / 2)
                continue
            started = self._clock()
            whole = await self.cycle()
            took = self._clock() - started
            if whole:
                # A cycle cut short by losing the lease says nothing of how long one takes.
                WATCH_CYCLE_SECONDS.set(max(took, self.settings.poll_s))
            await self._wait_holding(started + max(took, self.settings.poll_s))

    def holds(self) -> bool:
        """Whether this replica held the lease when it last looked, and it has not run out."""
        return self._clock() - self._renewed_at < self._lease_s

    async def stop(self) -> None:
        """Let the lease go, so that another replica takes over at once."""
        # Held no longer: should this poller run again, it asks for the lease first.
        self._renewed_at = -float("inf")
        await self.watches.drop_lease(LEASE, self.holder)

    async def cycle(self) -> bool:
        """Poll every watched flow once; changes are recorded as they are found. Whether the
        cycle went through: False when the lease was lost on the way."""
        paused: set[int] = set()
        targets = await self.targets(paused)
        WATCHED_FLOWS.set(len(targets))
        queue = list(targets)
        while queue:
            target = queue.pop(0)
            if all(watch.id in paused for watch in target.watches):
                # Its watches were paused earlier in this cycle: CAMS refuses it the same way.
                continue
            if not await self._hold():
                return False
            await self._pace()
            try:
                details = await self.service.client.get_flow(
                    target.flow_id, target.space_id, yield_within=YIELD_S
                )
            except BusyError:
                # Someone's lookup comes first. The flow is tried again shortly, without
                # spending a turn of WATCH_MAX_QPS: nothing went out, and a change to it
                # should not wait a whole cycle.
                queue.insert(0, target)
                self._next_call = self._clock() + BUSY_RETRY_S
                continue
            except CamsError as error:
                await self._failed(target, error, paused)
                continue
            await self._observe(
                target.space_id, target.flow_id, details.name or target.name, details.status_text
            )
        return True

    async def targets(self, paused: set[int] | None = None) -> list[Target]:
        """Every flow to poll, with the watches that want it; a watched space's flows come
        from its catalog, with those it no longer lists (GetFlow says whether they are gone).

        The watches of a space whose flow list CAMS refuses are paused (their IDs added to
        `paused`), each with one message to its channel.
        """
        paused = set() if paused is None else paused
        active = await self.watches.active()
        by_flow: dict[tuple[str, str], list[Watch]] = {}
        names: dict[tuple[str, str], str] = {}
        for watch in active:
            if watch.flow_id is not None:
                by_flow.setdefault((watch.space_id, watch.flow_id), []).append(watch)
        spaces: dict[str, list[Watch]] = {}
        for watch in active:
            if watch.flow_id is None:
                spaces.setdefault(watch.space_id, []).append(watch)
        for space, space_watches in spaces.items():
            listed = await self._listed(space)
            if listed is None:
                if self.service.catalog.denied(space):
                    await self._pause(space_watches, ErrorKind.PERMISSION_DENIED, paused)
                continue
            for flow_id, name in listed.items():
                by_flow.setdefault((space, flow_id), []).extend(space_watches)
                names[(space, flow_id)] = name
        return [
            Target(space, flow_id, names.get((space, flow_id), ""), tuple(watches))
            for (space, flow_id), watches in by_flow.items()
        ]

    async def _listed(self, space: str) -> dict[str, str] | None:
        """The space's flows by ID with their names, once its catalog is at hand, and the
        flows known before that it no longer lists.

        A flow missing from the list is polled, not taken for removed: the list may be older
        than what was seen of the flow (a cached one, or one another replica kept), and only
        GetFlow's not-found says a flow is gone.
        """
        snapshot = await self.service.catalog.wait(space, CATALOG_WAIT_S)
        if snapshot is None:
            log.info("watch: the flow list of space %r is not at hand; polled next cycle", space)
            return None
        listed = {flow.flow_id: flow.name for flow in snapshot.flows}
        if await self.watches.is_listed(space):
            known = await self.watches.known(space)
            for flow_id, (name, _, removed) in known.items():
                if flow_id not in listed and not removed:
                    listed[flow_id] = name
        elif not snapshot.truncated:
            # The first listing is the baseline: flows appearing after it are new.
            for flow_id, name in listed.items():
                await self.watches.observe(space, flow_id, name, None)
            await self.watches.listed(space)
        return listed

    async def _failed(self, target: Target, error: CamsError, paused: set[int]) -> None:
        if error.kind is ErrorKind.NOT_FOUND:
            # Gone: reported once as removed, and its flow watches end.
            await self._observe(target.space_id, target.flow_id, target.name, None, removed=True)
            await self.watches.end_flow(target.space_id, target.flow_id)
            return
        if error.kind in PAUSING:
            await self._pause(target.watches, error.kind, paused)
            return
        log.info("watch: GetFlow of %s failed (%s); polled next cycle", target.flow_id, error.kind)

    async def _observe(
        self, space_id: str, flow_id: str, name: str, status: str | None, *, removed: bool = False
    ) -> None:
        """Hand a look at a flow to the store; a change it records is posted at once."""
        change = await self.watches.observe(space_id, flow_id, name, status, removed=removed)
        if change is not None and self._found is not None:
            self._found()

    async def _pause(self, watches: Iterable[Watch], why: ErrorKind, paused: set[int]) -> None:
        """Pause each watch not paused yet, with one message to its channel."""
        for watch in watches:
            if watch.id in paused:
                continue
            paused.add(watch.id)
            await self.watches.pause(watch.id, why.value)
            await self._notify(watch, why.value)

    async def _wait_holding(self, until: float) -> None:
        """Wait until `until`, renewing the lease meanwhile, so that no other replica takes it
        between two cycles; return early if it is lost."""
        while (left := until - self._clock()) > 0:
            await self._sleep(min(left, self._lease_s / 3))
            if not await self._hold():
                return

    async def _hold(self) -> bool:
        """Whether this replica holds the lease, renewing it when a third of it has passed."""
        now = self._clock()
        if now - self._renewed_at < self._lease_s / 3:
            return True
        held = await self.watches.take_lease(LEASE, self.holder, self._lease_s)
        self._renewed_at = now if held else -float("inf")
        return held

    async def _pace(self) -> None:
        """Wait for the next call's turn: at most WATCH_MAX_QPS calls a second."""
        now = self._clock()
        wait = self._next_call - now
        if wait > 0:
            await self._sleep(wait)
        self._next_call = max(now, self._next_call) + 1.0 / self.settings.max_qps
