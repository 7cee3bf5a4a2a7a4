"""Every flow of each space in memory, searchable by name, refreshed in the background.

`FlowCatalog.peek(space)` answers at once from memory and starts a refresh when the copy is
missing or older than the ttl; the stale copy keeps serving until a new one is complete. A
refresh pages through ListFlow in a task of its own, every call through the client's ListFlow
gate, so it never spends the preview budget and never delays a preview. One refresh runs per
space at a time: in this process through the task map, across replicas through a lock in
Redis (the `CatalogStore`), whose holder shares the new snapshot there for the others to
adopt.

A refresh that fails keeps the old copy and is retried later with backoff. A ListFlow denied
by RAM makes the space DENIED: logged once, retried only every ttl.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.cams.actions import Action
from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowSummary
from bot.errors import FlowpreviewError
from bot.lifecycle import AsyncCloseable
from bot.logs import background
from bot.preview.catalog_listing import FlowLister, Listing, list_all
from bot.preview.catalog_settings import DEFAULT_MAX_SPACES, CatalogSettings
from bot.preview.errors import BusyError
from bot.preview.search import SearchIndex

log = logging.getLogger(__name__)

SpaceKey = tuple[str, str]
"""(account, space): whose flows, in which CustSpaceId ("" for no space at all)."""

# After a failed refresh the next waits this long, doubling with each failure up to the ttl.
FIRST_RETRY_S = 5.0
MAX_DOUBLINGS = 16
# The Redis lock's lease; renewed between pages once a third of it has passed, so a holder
# that dies frees the space within a lease and a live one keeps it however long it pages.
LEASE_S = 60.0
# A replica that finds another refreshing looks for its snapshot this often, and this long
# at most before it gives up for this round.
POLL_FIRST_S = 0.05
POLL_MAX_S = 1.0
MAX_HOLDER_WAIT_S = 600.0
# Redis keeps a snapshot this many ttls: a stale copy for a replica that starts cold beats none.
SHARED_LIFE_TTLS = 12


@dataclass(frozen=True, slots=True)
class Claim:
    """The store's answer to "may this replica refresh the space?".

    `token` is set when the lock is this replica's (release it with the token);
    `held_elsewhere` when another replica is refreshing. Neither: the store could not be
    asked (Redis is out), and the replica refreshes on its own.
    """

    token: str | None = None
    held_elsewhere: bool = False


class CatalogStore(Protocol):
    """Snapshots and the refresh lock all replicas share (Redis). Never raises for an outage:
    every method answers as if nothing were shared."""

    async def claim(self, space: SpaceKey, lease: float) -> Claim:
        """Take the space's refresh lock for `lease` seconds, if nobody holds it."""

    async def renew(self, space: SpaceKey, token: str, lease: float) -> bool:
        """Extend the lock to `lease` seconds from now; False if it is no longer ours."""

    async def release(self, space: SpaceKey, token: str) -> None:
        """Let go of the lock, if it is still ours."""

    async def claimed(self, space: SpaceKey) -> bool:
        """Whether some replica holds the space's lock."""

    async def fetched_at(self, space: SpaceKey) -> float | None:
        """When the stored snapshot was listed (wall-clock epoch seconds), or None."""

    async def load(self, space: SpaceKey, max_flows: int) -> Listing | None:
        """The stored snapshot (at most `max_flows` flows), or None."""

    async def save(self, space: SpaceKey, listing: Listing, life: float) -> None:
        """Store `listing` for `life` seconds, unless a newer one is stored already."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A complete listing of `space`, indexed for search."""

    space: str
    index: SearchIndex
    flows: tuple[FlowSummary, ...]
    # Wall-clock epoch seconds when the listing began (shared by every replica that adopted it).
    fetched_at: float
    # The list went on past CATALOG_MAX_FLOWS and was cut there.
    truncated: bool = False


class CatalogStatus(StrEnum):
    """Whether a space's flows can be searched."""

    READY = "ready"
    LOADING = "loading"
    DENIED = "denied"
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class CatalogState:
    """A space's catalog as a user could be told about it.

    READY: a snapshot serves (`reason` set when its last refresh failed, so it may be stale).
    LOADING: no snapshot yet, one is on its way. DENIED: RAM denies ListFlow (`ram_action`
    would enable it). FAILING: no snapshot, and the last attempt failed for `reason`.
    """

    status: CatalogStatus
    space: str
    reason: ErrorKind | None = None
    refreshing: bool = False


@dataclass(eq=False, slots=True)
class _Space:
    """What the catalog holds and knows about one space."""

    space: str | None
    snapshot: Snapshot | None = None
    task: asyncio.Task[None] | None = None
    # No refresh starts before this monotonic time (backoff after failures, denial).
    retry_at: float = float("-inf")
    failures: int = 0
    error: CamsError | BusyError | None = None
    # Wall-clock time of the last failure: only a listing begun after it ends the failure.
    failed_at: float = float("-inf")
    denied: bool = False
    denial_logged: bool = False
    truncation_logged: bool = False
    # Set while a snapshot is held, for `wait`: a stale copy adopted from Redis is one too.
    held: asyncio.Event = field(default_factory=asyncio.Event)


class _LostClaimError(FlowpreviewError):
    """The Redis lock passed to another replica while this one was still paging."""


class FlowCatalog(AsyncCloseable):
    """The flows of each space of one account, in memory, shared through `shared` if given.

    `clock` is monotonic (backoff), `wall_clock` epoch seconds (a snapshot's age, which
    replicas compare), `sleep` waits while another replica refreshes.
    """

    def __init__(
        self,
        client: FlowLister,
        *,
        ttl: float = 300.0,
        page_size: int = 100,
        max_flows: int = 50_000,
        max_spaces: int = DEFAULT_MAX_SPACES,
        shared: CatalogStore | None = None,
        lease: float = LEASE_S,
        pinned: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self.ttl = ttl
        self.page_size = page_size
        self.max_flows = max_flows
        self.max_spaces = max(1, max_spaces)
        # The configured spaces: never dropped to make room for spaces someone typed.
        self._pinned = frozenset(pinned)
        self._shared = shared
        self._lease = lease
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._spaces: OrderedDict[str, _Space] = OrderedDict()
        # Every refresh task, so that close() can cancel and await them all.
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @classmethod
    def create(
        cls,
        client: FlowLister,
        settings: CatalogSettings,
        shared: CatalogStore | None = None,
        *,
        lease: float = LEASE_S,
        pinned: Iterable[str] = (),
    ) -> FlowCatalog:
        """A catalog with the CATALOG_* settings; `pinned` spaces are never dropped."""
        return cls(
            client,
            ttl=settings.ttl,
            page_size=settings.page_size,
            max_flows=settings.max_flows,
            max_spaces=settings.max_spaces,
            shared=shared,
            lease=lease,
            pinned=pinned,
        )

    def peek(self, space: str | None = None) -> Snapshot | None:
        """The snapshot of `space` (default: the configured one), stale or not, or None.

        Never waits. Starts a refresh in the background when there is none or it is older
        than the ttl, unless one is running or a failure's backoff has not passed.
        """
        return self._touch(space).snapshot

    def held(self, space: str | None = None) -> Snapshot | None:
        """The snapshot of `space` if one is held, without starting anything or making room."""
        entry = self._spaces.get(self._client.space_for(space) or "")
        return entry.snapshot if entry is not None else None

    def tracks(self, space: str | None = None) -> bool:
        """Whether `space` was asked about (its flows held, being listed, or failing), without
        starting anything."""
        return (self._client.space_for(space) or "") in self._spaces

    def denied(self, space: str | None = None) -> bool:
        """Whether ListFlow was denied in `space` when last tried, without starting anything:
        for answers anyone may get, people the access rules refuse the space included."""
        entry = self._spaces.get(self._client.space_for(space) or "")
        return entry is not None and entry.denied

    async def wait(self, space: str | None, within: float) -> Snapshot | None:
        """The snapshot of `space`, waiting at most `within` seconds for one when cold.

        A stale snapshot is returned at once (its refresh goes on in the background), and so
        is one adopted from Redis while this replica's own listing goes on. None
        when nothing came in time, or none is coming (denied, or backing off after failure).
        """
        entry = self._touch(space)
        if entry.snapshot is None and entry.task is not None:
            held = asyncio.create_task(entry.held.wait())
            try:
                # asyncio.wait never cancels what it waits for: the refresh goes on.
                await asyncio.wait(
                    {entry.task, held}, timeout=within, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                held.cancel()
        return entry.snapshot

    async def refreshed(self, space: str | None = None) -> Snapshot | None:
        """The snapshot of `space` once the refresh under way, or one due now, has ended.

        Unbounded by design, for a caller that wants the outcome of a whole refresh (the
        benchmark); a refresh ends within its ListFlow calls' own deadlines.
        """
        entry = self._touch(space)
        if entry.task is not None:
            await asyncio.wait({entry.task})
        return entry.snapshot

    def state(self, space: str | None = None) -> CatalogState:
        """Whether `space` can be searched, and why not; starts a refresh as `peek` does."""
        entry = self._touch(space)
        name = entry.space or ""
        refreshing = entry.task is not None
        reason = _reason(entry.error) if entry.failures else None
        if entry.denied:
            return CatalogState(CatalogStatus.DENIED, name, ErrorKind.PERMISSION_DENIED)
        if entry.snapshot is not None:
            return CatalogState(CatalogStatus.READY, name, reason, refreshing)
        if refreshing or not entry.failures:
            return CatalogState(CatalogStatus.LOADING, name, reason, refreshing)
        return CatalogState(CatalogStatus.FAILING, name, reason)

    async def close(self) -> None:
        """Cancel every refresh under way and wait for them to end (releasing their locks)."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _touch(self, space: str | None) -> _Space:
        resolved = self._client.space_for(space)
        key = resolved or ""
        entry = self._spaces.get(key)
        if entry is None:
            self._make_room()
            entry = self._spaces[key] = _Space(resolved)
        else:
            self._spaces.move_to_end(key)
        self._refresh_if_due(key, entry)
        return entry

    def _make_room(self) -> None:
        """Drop the least recently used spaces so that one more fits, idle ones first.

        Pinned spaces stay; with only those left the bound grows by their number.
        """
        while len(self._spaces) >= self.max_spaces:
            droppable = [k for k in self._spaces if k not in self._pinned]
            if not droppable:
                return
            idle = next((k for k in droppable if self._spaces[k].task is None), None)
            key = idle if idle is not None else droppable[0]
            dropped = self._spaces.pop(key)
            if dropped.task is not None:
                dropped.task.cancel()

    def _refresh_if_due(self, key: str, entry: _Space) -> None:
        if self._closed or entry.task is not None or self._clock() < entry.retry_at:
            return
        snapshot = entry.snapshot
        if snapshot is not None and self._wall_clock() - snapshot.fetched_at < self.ttl:
            return
        # Everyone's refresh: it logs with its space, not as the ask that happened to start it.
        task = asyncio.create_task(
            self._refresh(key, entry),
            name=f"catalog refresh {key!r}",
            context=background(space=key),
        )
        entry.task = task
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._refresh_ended, entry))

    def _refresh_ended(self, entry: _Space, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if entry.task is task:
            entry.task = None

    async def _refresh(self, key: str, entry: _Space) -> None:
        try:
            await self._refresh_once(key, entry)
        except (CamsError, BusyError) as error:
            self._failed(key, entry, error)
        except _LostClaimError:
            log.warning(
                "catalog refresh of space %r outlived its Redis lease; another replica took "
                "over, so this one stopped",
                key,
            )
            entry.retry_at = self._clock() + FIRST_RETRY_S
        except Exception:
            # A bug must not leave the space refreshing on every peek, nor an exception in a
            # task nobody awaits.
            log.exception("catalog refresh of space %r failed unexpectedly", key)
            self._failed(key, entry, None)

    async def _refresh_once(self, key: str, entry: _Space) -> None:
        shared, space_key = self._shared, (self._client.account, key)
        if shared is None:
            await self._publish(key, entry, await self._list(entry, None))
            return
        claim = await shared.claim(space_key, self._lease)
        if claim.held_elsewhere:
            await self._follow_holder(key, entry, shared, space_key)
            return
        try:
            # The holder before this one may have just finished: use its snapshot.
            if await self._adopt(key, entry, shared, space_key):
                return
            listing = await self._list(entry, claim.token)
            await self._publish(key, entry, listing)
            await shared.save(space_key, listing, SHARED_LIFE_TTLS * self.ttl)
        finally:
            if claim.token is not None:
                await shared.release(space_key, claim.token)

    async def _list(self, entry: _Space, token: str | None) -> Listing:
        renewed_at = self._clock()

        async def renew() -> None:
            nonlocal renewed_at
            if token is None or self._shared is None:
                return
            if self._clock() - renewed_at < self._lease / 3:
                return
            space_key = (self._client.account, entry.space or "")
            if not await self._shared.renew(space_key, token, self._lease):
                raise _LostClaimError
            renewed_at = self._clock()

        return await list_all(
            self._client,
            entry.space,
            page_size=self.page_size,
            max_flows=self.max_flows,
            fetched_at=self._wall_clock(),
            between_pages=renew,
        )

    async def _follow_holder(
        self, key: str, entry: _Space, shared: CatalogStore, space_key: SpaceKey
    ) -> None:
        """Another replica is listing the space: serve what Redis has, and adopt its result."""
        if await self._adopt(key, entry, shared, space_key):
            return
        delay = POLL_FIRST_S
        give_up_at = self._clock() + MAX_HOLDER_WAIT_S
        while await shared.claimed(space_key) and self._clock() < give_up_at:
            await self._sleep(delay)
            delay = min(delay * 2, POLL_MAX_S)
        if not await self._adopt(key, entry, shared, space_key):
            # The holder failed or vanished: this replica tries itself after a short pause.
            entry.retry_at = self._clock() + FIRST_RETRY_S

    async def _adopt(
        self, key: str, entry: _Space, shared: CatalogStore, space_key: SpaceKey
    ) -> bool:
        """Take the stored snapshot if it is newer than ours; whether ours is fresh now."""
        stored_at = await shared.fetched_at(space_key)
        current = entry.snapshot
        if stored_at is not None and (current is None or stored_at > current.fetched_at):
            listing = await shared.load(space_key, self.max_flows)
            if listing is not None:
                await self._publish(key, entry, listing)
        snapshot = entry.snapshot
        return snapshot is not None and self._wall_clock() - snapshot.fetched_at < self.ttl

    async def _publish(self, key: str, entry: _Space, listing: Listing) -> None:
        if entry.denied and listing.fetched_at <= entry.failed_at:
            # Listed before RAM said no (another replica's older copy): not to be served.
            return
        # Building the index is CPU work proportional to the flows (tens of milliseconds for
        # 10,000): a thread keeps it off the event loop, which previews need.
        index = await asyncio.to_thread(SearchIndex.build, listing.flows)
        current = entry.snapshot
        if current is not None and current.fetched_at > listing.fetched_at:
            return
        entry.snapshot = Snapshot(key, index, listing.flows, listing.fetched_at, listing.truncated)
        entry.held.set()
        if listing.fetched_at > entry.failed_at:
            if entry.failures or entry.denied:
                log.info("catalog of space %r is available again", key)
            entry.failures, entry.error, entry.denied, entry.denial_logged = 0, None, False, False
            entry.retry_at = float("-inf")
        if listing.truncated and not entry.truncation_logged:
            entry.truncation_logged = True
            log.warning(
                "space %r lists more than %d flows; the catalog keeps the first %d "
                "(CATALOG_MAX_FLOWS), so search and the picker miss the rest",
                key,
                self.max_flows,
                len(listing.flows),
            )

    def _failed(self, key: str, entry: _Space, error: CamsError | BusyError | None) -> None:
        now = self._clock()
        entry.failed_at = self._wall_clock()
        if isinstance(error, CamsError) and error.kind is ErrorKind.PERMISSION_DENIED:
            # Asking again changes nothing until someone grants the action.
            entry.denied, entry.snapshot, entry.error = True, None, error
            entry.held.clear()
            entry.retry_at = now + self.ttl
            if not entry.denial_logged:
                entry.denial_logged = True
                log.warning(
                    "CAMS denies %s for space %r (%s): search by name and the flow picker are "
                    "off there until a RAM policy grants it; previews by flow ID still work",
                    Action.LIST_FLOW.ram_action,
                    key,
                    error.describe(),
                )
            return
        entry.failures += 1
        entry.error = error
        delay = min(FIRST_RETRY_S * 2 ** min(entry.failures - 1, MAX_DOUBLINGS), self.ttl)
        entry.retry_at = now + delay
        if entry.failures == 1 and error is not None:
            kept = "keeping the copy it has" if entry.snapshot is not None else "none to serve"
            log.warning(
                "catalog refresh of space %r failed (%s); %s, and retrying with backoff",
                key,
                error,
                kept,
            )
        else:
            log.debug("catalog refresh of space %r failed again; next in %.0fs", key, delay)


def _reason(error: CamsError | BusyError | None) -> ErrorKind | None:
    if isinstance(error, CamsError):
        return error.kind
    if isinstance(error, BusyError):
        # The ListFlow budget is booked up: to a user that is CAMS being busy.
        return ErrorKind.THROTTLED
    # Our own fault, which a user can only be told is an error on the way.
    return ErrorKind.SERVER_ERROR
