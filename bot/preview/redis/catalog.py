"""Catalog snapshots in Redis, and the lock that lets one replica at a time refresh a space.

Per (account, space), under a hashed key part:

- `flowpreview:catalog:{digest}:snapshot`, a hash: `at` (when the listing began, epoch
  seconds), `truncated` (1 when cut at CATALOG_MAX_FLOWS), `data` (the flows as compact JSON,
  zlib-compressed: about 200 KB for 10,000 flows). Written by `lua/catalog_save.lua`, which
  keeps a snapshot listed later, with `PX` = a dozen ttls.
- `flowpreview:catalog:{digest}:lock`: the refresh lock, `SET NX PX` with a random token,
  renewed and released by `lua/catalog_lock.lua` only by its holder.

While Redis is unreachable every method answers as if nothing were shared (RedisCircuitBreaker's
breaker makes that cost one timeout per outage), so each replica refreshes on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import secrets
import zlib
from collections.abc import Sequence
from importlib import resources
from typing import Any

from bot.cams.models import FlowSummary
from bot.cams.response import MAX_FLOW_ID_LENGTH
from bot.preview.catalog import Claim, SpaceKey
from bot.preview.catalog_listing import Listing
from bot.preview.redis.circuit_breaker import RedisCircuitBreaker, RedisUnavailableError

log = logging.getLogger(__name__)

KEY_PREFIX = "flowpreview:catalog"
FORMAT_VERSION = 1
# Bounds on what is read back, whoever wrote it: 10,000 flows take about 200 KB compressed
# and 750 KB of JSON, so these leave room for the largest catalog allowed and no more.
MAX_STORED_BYTES = 32 << 20
MAX_JSON_BYTES = 160 << 20
# The longest flow ID the client accepts from ListFlow, so that every listed flow can be shared.
MAX_ID_LENGTH = MAX_FLOW_ID_LENGTH
MAX_NAME_LENGTH = 1024
MAX_CATEGORIES = 32
# zlib's fastest level compresses flow lists nearly as well as its default, in a third of
# the time.
COMPRESSION_LEVEL = 1


def _script(name: str) -> str:
    return resources.files("bot.preview.redis").joinpath("lua", name).read_text(encoding="utf-8")


class SharedCatalog:
    """The CatalogStore of a replica, on Redis through `breaker`."""

    def __init__(self, breaker: RedisCircuitBreaker) -> None:
        self._breaker = breaker
        self._save = breaker.client.register_script(_script("catalog_save.lua"))
        self._lock = breaker.client.register_script(_script("catalog_lock.lua"))

    async def claim(self, space: SpaceKey, lease: float) -> Claim:
        """Take the space's refresh lock for `lease` seconds, if nobody holds it."""
        token = secrets.token_hex(16)
        try:
            taken = await self._breaker.call(
                lambda redis: redis.set(
                    catalog_key(space, "lock"), token, nx=True, px=_millis(lease)
                )
            )
        except RedisUnavailableError:
            return Claim()
        return Claim(token) if taken else Claim(held_elsewhere=True)

    async def renew(self, space: SpaceKey, token: str, lease: float) -> bool:
        """Extend our lock to `lease` seconds from now; False if another replica has it now.

        True while Redis is out: nobody else can take it there either.
        """
        try:
            answer = await self._run_lock(space, token, _millis(lease))
        except RedisUnavailableError:
            return True
        return answer == 1

    async def release(self, space: SpaceKey, token: str) -> None:
        """Let go of the lock if it is still ours; an outage lets its lease run out instead."""
        with contextlib.suppress(RedisUnavailableError):
            await self._run_lock(space, token, 0)

    async def _run_lock(self, space: SpaceKey, token: str, lease_ms: int) -> int:
        answer: Any = await self._breaker.call(
            lambda redis: self._lock(
                keys=[catalog_key(space, "lock")], args=[token, lease_ms], client=redis
            )
        )
        return int(answer)

    async def claimed(self, space: SpaceKey) -> bool:
        """Whether some replica holds the space's lock (False while Redis is out)."""
        try:
            held: int = await self._breaker.call(
                lambda redis: redis.exists(catalog_key(space, "lock"))
            )
        except RedisUnavailableError:
            return False
        return held > 0

    async def fetched_at(self, space: SpaceKey) -> float | None:
        """When the stored snapshot was listed, or None (none, unreadable, or Redis out)."""
        try:
            raw = await self._breaker.call(
                lambda redis: redis.hget(catalog_key(space, "snapshot"), "at")
            )
        except RedisUnavailableError:
            return None
        return _moment(raw)

    async def load(self, space: SpaceKey, max_flows: int) -> Listing | None:
        """The stored snapshot, at most `max_flows` flows of it, or None.

        Read only when its size is within bounds, and decoded in a thread: decompressing and
        parsing 10,000 flows takes several milliseconds the event loop should not wait.
        """
        key = catalog_key(space, "snapshot")
        try:
            size: int = await self._breaker.call(lambda redis: redis.hstrlen(key, "data"))
            if not size:
                return None
            if size > MAX_STORED_BYTES:
                log.warning(
                    "ignoring the catalog snapshot in Redis for space %r: %d bytes, more "
                    "than the %d this version reads",
                    space[1],
                    size,
                    MAX_STORED_BYTES,
                )
                return None
            fields: list[bytes | str | None] = await self._breaker.call(
                lambda redis: redis.hmget(key, ["at", "truncated", "data"])
            )
        except RedisUnavailableError:
            return None
        at, truncated, data = fields
        fetched_at = _moment(at)
        if fetched_at is None or not isinstance(data, bytes):
            return None
        return await asyncio.to_thread(_decode, data, fetched_at, truncated == b"1", max_flows)

    async def save(self, space: SpaceKey, listing: Listing, life: float) -> None:
        """Store `listing` for `life` seconds, unless a snapshot listed later is stored."""
        data = await asyncio.to_thread(encode_flows, listing.flows)
        if len(data) > MAX_STORED_BYTES:
            log.warning("catalog of space %r too large to share through Redis", space[1])
            return
        with contextlib.suppress(RedisUnavailableError):
            await self._breaker.call(
                lambda redis: self._save(
                    keys=[catalog_key(space, "snapshot")],
                    args=[repr(listing.fetched_at), int(listing.truncated), data, _millis(life)],
                    client=redis,
                )
            )


def catalog_key(space: SpaceKey, part: str) -> str:
    """The Redis key of one part (`snapshot`, `lock`) of a space's catalog.

    Hashed, so that no space ID, whatever its characters, can shape the key; the braces
    keep both parts in one Redis Cluster slot.
    """
    digest = hashlib.sha256(json.dumps(list(space)).encode()).hexdigest()[:40]
    return f"{KEY_PREFIX}:{{{digest}}}:{part}"


def encode_flows(flows: Sequence[FlowSummary]) -> bytes:
    """The flows as compressed compact JSON: `{"v": 1, "flows": [[id, name, [category]]]}`."""
    document = {
        "v": FORMAT_VERSION,
        "flows": [[flow.flow_id, flow.name, list(flow.categories)] for flow in flows],
    }
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return zlib.compress(text.encode(), COMPRESSION_LEVEL)


def _decode(data: bytes, fetched_at: float, truncated: bool, max_flows: int) -> Listing | None:
    """The listing `data` holds, or None for anything too large or that this version cannot
    read (another version's format, damage)."""
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(data, MAX_JSON_BYTES)
        if inflater.unconsumed_tail:
            log.warning("ignoring a catalog snapshot in Redis: over %d bytes", MAX_JSON_BYTES)
            return None
        document = json.loads(text)
        if document["v"] != FORMAT_VERSION:
            return None
        items = document["flows"]
        flows = tuple(_flow(item) for item in items[:max_flows])
    except (zlib.error, ValueError, KeyError, TypeError, IndexError):
        return None
    return Listing(flows, fetched_at, truncated or len(items) > max_flows)


def _flow(item: Any) -> FlowSummary:
    flow_id, name, categories = item
    if not (
        isinstance(flow_id, str)
        and isinstance(name, str)
        and isinstance(categories, list)
        and 0 < len(flow_id) <= MAX_ID_LENGTH
        and len(name) <= MAX_NAME_LENGTH
        and len(categories) <= MAX_CATEGORIES
        and all(isinstance(c, str) and len(c) <= MAX_NAME_LENGTH for c in categories)
    ):
        raise ValueError("not a flow")
    return FlowSummary(flow_id, name, tuple(categories))


def _moment(raw: bytes | str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))
