"""A flow's name and status from GetFlow: cached a few minutes, one call per flow at a time.

Previews show them when known. GetFlow has a budget of its own (the client's GetFlow gate),
so asking never spends the preview budget; a GetFlow that RAM denies is logged once per
space and not asked again there for a while, and previews go on without a status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from cachetools import LRUCache, TLRUCache, TTLCache

from bot.cams.actions import Action
from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowDetails
from bot.preview.singleflight import SingleFlight

log = logging.getLogger(__name__)

DetailsKey = tuple[str, str, str]
"""(account, space, flow ID), as the preview cache files its entries."""

Entry = FlowDetails | CamsError

DEFAULT_TTL_S = 180.0
# A flow CAMS says does not exist may be created any moment; remembered only briefly.
NOT_FOUND_TTL_S = 30.0
# How long a space where RAM denies GetFlow goes without asking again.
DENIED_FOR_S = 300.0
MAX_DENIED_SPACES = 1024
# Flows whose details (or "not found") are kept at most: about 600 bytes each.
DEFAULT_MAXSIZE = 10_000


class FlowDescriber(Protocol):
    """The part of the CAMS client the details cache uses."""

    @property
    def account(self) -> str:
        """The Alibaba account (AccessKey ID) the client calls as."""

    def space_for(self, space: str | None) -> str | None:
        """The CustSpaceId a call with `space` uses: the configured default when None."""

    async def get_flow(self, flow_id: str, space: str | None = None) -> FlowDetails:
        """GetFlow, through the client's GetFlow gate and retries."""


class FlowDetailsCache:
    """GetFlow answers per (account, space, flow), kept `ttl` seconds, `maxsize` at most.

    Concurrent asks for one flow share one call (run in its own task: a caller that stops
    waiting does not cancel it, and its answer is cached for the next). A definitive "not
    found" is kept `not_found_ttl` seconds; other errors are not kept, except that a space
    where RAM denies GetFlow is answered with that denial, without a call, for `denied_for`
    seconds. `clock` is monotonic.
    """

    def __init__(
        self,
        client: FlowDescriber,
        *,
        ttl: float = DEFAULT_TTL_S,
        not_found_ttl: float = NOT_FOUND_TTL_S,
        denied_for: float = DENIED_FOR_S,
        maxsize: int = DEFAULT_MAXSIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.ttl = ttl
        self.not_found_ttl = not_found_ttl
        self._entries: TLRUCache[DetailsKey, Entry] = TLRUCache(maxsize, self._ttu, clock)
        self._denied: TTLCache[str, CamsError] = TTLCache(MAX_DENIED_SPACES, denied_for, clock)
        # Spaces whose denial was logged, until GetFlow works there again.
        self._denial_logged: LRUCache[str, bool] = LRUCache(MAX_DENIED_SPACES)
        self._flights: SingleFlight[DetailsKey, FlowDetails] = SingleFlight()

    def _ttu(self, key: DetailsKey, entry: Entry, now: float) -> float:
        return now + (self.ttl if isinstance(entry, FlowDetails) else self.not_found_ttl)

    def _key(self, flow_id: str, space: str | None) -> DetailsKey:
        return (self._client.account, self._client.space_for(space) or "", flow_id)

    def peek(self, flow_id: str, space: str | None = None) -> FlowDetails | None:
        """The cached details of `flow_id` in `space`, without waiting or calling."""
        entry = self._entries.get(self._key(flow_id, space))
        return entry if isinstance(entry, FlowDetails) else None

    def wanted(self, flow_id: str, space: str | None = None) -> bool:
        """Whether a GetFlow for `flow_id` could tell something now: there is a space to ask
        in, nothing is cached for the flow (details or "not found"), and GetFlow is not denied
        in its space."""
        key = self._key(flow_id, space)
        return bool(key[1]) and key not in self._entries and key[1] not in self._denied

    async def get(self, flow_id: str, space: str | None = None) -> FlowDetails:
        """The details of `flow_id` in `space` (default: the configured space).

        Raises CamsError as the client does (a cached "not found", or the space's remembered
        denial, without a call), or BusyError when the GetFlow budget is booked too far ahead.
        """
        key = self._key(flow_id, space)
        cached = self._entries.get(key)
        if cached is None:
            denial = self._denied.get(key[1])
            if denial is None:
                return await self._flights.run(key, lambda: self._fetch(key, flow_id, space))
            cached = denial
        if isinstance(cached, CamsError):
            raise cached.with_traceback(None)
        return cached

    async def _fetch(self, key: DetailsKey, flow_id: str, space: str | None) -> FlowDetails:
        try:
            details = await self._client.get_flow(flow_id, space)
        except CamsError as error:
            if error.kind is ErrorKind.PERMISSION_DENIED:
                self._deny(key[1], error)
            elif error.kind is ErrorKind.NOT_FOUND and error.request_id:
                # CAMS's own word; a refusal made locally costs nothing to repeat.
                self._entries[key] = error
            raise
        self._entries[key] = details
        self._denial_logged.pop(key[1], None)
        return details

    def _deny(self, space: str, error: CamsError) -> None:
        self._denied[space] = error
        if space in self._denial_logged:
            return
        self._denial_logged[space] = True
        log.warning(
            "CAMS denies %s for space %r (%s): previews there go without the flow's status "
            "(and its name unless the catalog lists it) until a RAM policy grants it",
            Action.GET_FLOW.ram_action,
            space,
            error.describe(),
        )
