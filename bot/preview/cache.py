"""Previews kept until shortly before their links expire, and brief memory of definitive misses."""

from __future__ import annotations

import time
from collections.abc import Callable

from cachetools import TLRUCache

from bot.cams.errors import CamsError
from bot.cams.models import FlowPreview

CacheKey = tuple[str, str, str]
"""(account, space, flow ID): one Alibaba account's answer for one flow in one space."""

Entry = FlowPreview | CamsError

MIN_MARGIN_S = 60.0
MARGIN_SHARE = 0.1
MAX_NEGATIVE_TTL_S = 30.0


def serve_until(preview: FlowPreview, now: float) -> float:
    """The last instant (epoch seconds) a link may be served: its expiry less a margin.

    The margin is the larger of 60 s and 10% of the life it has left, so that a person who
    opens the link a little later still finds it working.
    """
    expires = preview.expires_at.timestamp()
    return expires - max(MIN_MARGIN_S, MARGIN_SHARE * (expires - now))


def good_until(entry: Entry, now: float, negative_ttl: float) -> float:
    """Until when (epoch seconds) `entry` may be served: a link to its margin, an error briefly."""
    if isinstance(entry, FlowPreview):
        return serve_until(entry, now)
    return now + negative_ttl


class PreviewCache:
    """A bounded, least-recently-used map from CacheKey to a preview or a definitive error.

    `timer` is the wall clock in epoch seconds, since link expiries are absolute.
    """

    def __init__(
        self,
        maxsize: int = 10_000,
        *,
        negative_ttl: float = MAX_NEGATIVE_TTL_S,
        timer: Callable[[], float] = time.time,
    ) -> None:
        self.negative_ttl = min(negative_ttl, MAX_NEGATIVE_TTL_S)
        self._entries: TLRUCache[CacheKey, Entry] = TLRUCache(maxsize, self._ttu, timer)

    def _ttu(self, key: CacheKey, entry: Entry, now: float) -> float:
        return good_until(entry, now, self.negative_ttl)

    def get(self, key: CacheKey) -> Entry | None:
        """The live entry for `key`, or None; expired entries are never returned."""
        return self._entries.get(key)

    def put(self, key: CacheKey, entry: Entry) -> None:
        """Keep `entry` for as long as it is good (a link about to expire is not kept)."""
        self._entries[key] = entry

    def __len__(self) -> int:
        return len(self._entries)
