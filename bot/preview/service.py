"""The one way into CAMS: cache, then single-flight, then the rate-limited client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from bot.cams.actions import Action
from bot.cams.client import CamsClient
from bot.cams.credentials import Credentials, CredentialSource, credential_source
from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowDetails, FlowPreview, FlowSummary
from bot.cams.settings import CamsSettings
from bot.lifecycle import AsyncCloseable
from bot.logs import log_context
from bot.metrics import CACHE
from bot.preview.cache import CacheKey, Entry, PreviewCache
from bot.preview.catalog import LEASE_S, FlowCatalog
from bot.preview.details import FlowDetailsCache
from bot.preview.errors import BusyError
from bot.preview.limiter import LocalLimiter
from bot.preview.marks import Marks
from bot.preview.metered import metered
from bot.preview.settings import PreviewSettings
from bot.preview.singleflight import SingleFlight
from bot.preview.spaces import SpaceChoice, spaces_from_env

log = logging.getLogger(__name__)

Failure = CamsError | BusyError
Outcome = FlowPreview | Failure

# Looked up once: the local cache is on every ask's path.
_LOCAL_HITS = CACHE.labels("local", "hit")
_LOCAL_MISSES = CACHE.labels("local", "miss")
# Parameter errors that will not change if asked again soon. Other bad requests (unknown
# codes, odd statuses) might be passing trouble, so only these and "not found" are cached.
DEFINITIVE_CODES = ("InvalidParameter", "MissingParameter")


class SharedStore(Protocol):
    """A cache other replicas see too."""

    async def get(self, key: CacheKey) -> Entry | None:
        """The entry for `key`, or None."""

    async def put(self, key: CacheKey, entry: Entry) -> None:
        """Keep `entry` for as long as it is good."""


class Connection(Protocol):
    """The connection to what the replicas share (Redis, behind its circuit breaker), whose
    health the service reports."""

    async def check(self) -> bool:
        """Whether the connection works, trying it if that is due; answers in bounded time."""

    async def close(self) -> None:
        """Let go of the connection."""


class PreviewService(AsyncCloseable):
    """`get(flow_id, space)` for every entry point: Slack listeners and the command line.

    A cached link is served without any call, from this process's cache or, with Redis, from
    the one all replicas share; concurrent asks for the same (account, space, flow) share one
    lookup and one upstream call; every upstream attempt passes the client's rate limiter.
    """

    def __init__(
        self,
        client: CamsClient,
        cache: PreviewCache,
        *,
        shared: SharedStore | None = None,
        connection: Connection | None = None,
        catalog: FlowCatalog | None = None,
        spaces: tuple[SpaceChoice, ...] = (),
        marks: Marks | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        # Each space's flows for search and names; GetFlow's names and statuses.
        self.catalog = catalog if catalog is not None else FlowCatalog(client)
        self.details = FlowDetailsCache(client)
        # The spaces a person may pick from: the default one, then CAMS_SPACES.
        self.spaces = spaces
        # What was done lately, seen by every replica with Redis (an unfurl, say).
        self.marks = marks if marks is not None else Marks()
        self._shared = shared
        self._connection = connection
        self._flights: SingleFlight[CacheKey, FlowPreview] = SingleFlight()

    @classmethod
    def create(
        cls,
        credentials: Credentials | CredentialSource,
        cams: CamsSettings,
        settings: PreviewSettings,
        spaces: tuple[SpaceChoice, ...] = (),
    ) -> PreviewService:
        """Wire the client, its limiters (one per action), the caches and the catalog: local
        ones, or shared with REDIS_URL."""
        cache = PreviewCache(settings.cache_size, negative_ttl=settings.negative_ttl)
        shared = None
        if settings.redis_url is not None:
            # Imported here because Redis support is an optional extra.
            from bot.preview.redis.wiring import connect  # noqa: PLC0415

            shared = connect(settings.redis_url, settings)
        gates = shared.limiters if shared is not None else local_gates(settings)
        client = CamsClient(credentials, cams, gates=metered(gates))
        catalog = FlowCatalog.create(
            client,
            settings.catalog,
            shared.catalog if shared is not None else None,
            # The refresh lock must outlive the slowest page: the client's deadline, after the
            # longest wait for a slot, with room to spare.
            lease=max(LEASE_S, 2 * (cams.deadline + settings.limiter.max_wait)),
            pinned=[space.id for space in spaces] + [cams.default_space or ""],
        )
        return cls(
            client,
            cache,
            shared=shared.cache if shared is not None else None,
            connection=shared.breaker if shared is not None else None,
            catalog=catalog,
            spaces=spaces,
            marks=Marks(shared.marks if shared is not None else None),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PreviewService:
        """Read credentials and settings from the environment; raise ConfigError when bad."""
        return cls.create(
            credential_source(env),
            CamsSettings.from_env(env),
            PreviewSettings.from_env(env),
            spaces_from_env(env),
        )

    async def close(self) -> None:
        """Stop the catalog's refreshes, then close the client (its session and credential
        source) and the Redis connection, if any."""
        await self.catalog.close()
        await self.client.close()
        if self._connection is not None:
            await self._connection.close()

    async def health(self) -> str:
        """`ok`, or `degraded` while the replicas' shared Redis is unreachable or hangs.

        Answers within the connection's check bound (0.1 s with Redis) whatever Redis does.
        """
        if self._connection is not None and not await self._connection.check():
            return "degraded"
        return "ok"

    def peek(self, flow_id: str, space: str | None = None) -> Entry | None:
        """What this process's cache holds for `flow_id` in `space`, without waiting."""
        return self.cache.get(self._key(flow_id, space))

    def known(self, flow_id: str, space: str | None = None) -> FlowDetails | FlowSummary | None:
        """What the caches know of `flow_id` now, without waiting: GetFlow's details (name and
        status), else the catalog's entry (a name), else nothing."""
        details = self.details.peek(flow_id, space)
        if details is not None:
            return details
        # Held only: a preview for a space someone typed must not start or evict a catalog.
        snapshot = self.catalog.held(space)
        return snapshot.index.get(flow_id) if snapshot is not None else None

    def _key(self, flow_id: str, space: str | None) -> CacheKey:
        return (self.client.account, self.client.space_for(space) or "", flow_id)

    async def get(self, flow_id: str, space: str | None = None) -> FlowPreview:
        """The preview of `flow_id` in `space` (default: the configured space).

        Raises CamsError as the client does, or BusyError when the account's budget is booked
        further ahead than CAMS_MAX_WAIT_S.
        """
        key = self._key(flow_id, space)
        cached = self.cache.get(key)
        (_LOCAL_MISSES if cached is None else _LOCAL_HITS).inc()
        if cached is not None:
            return _served(cached)
        # The lookup's task, started in here, logs with the flow and space too.
        with log_context(flow=flow_id, space=key[1]):
            return await self._flights.run(key, lambda: self._fetch(key, flow_id, space))

    async def get_many(
        self, flow_ids: Sequence[str], space: str | None = None
    ) -> list[tuple[str, Outcome]]:
        """Each flow with its preview or the reason it has none, fetched concurrently."""

        async def one(flow_id: str) -> Outcome:
            try:
                return await self.get(flow_id, space)
            except (CamsError, BusyError) as failure:
                return failure

        outcomes = await asyncio.gather(*(one(flow_id) for flow_id in flow_ids))
        return list(zip(flow_ids, outcomes, strict=True))

    async def _fetch(self, key: CacheKey, flow_id: str, space: str | None) -> FlowPreview:
        if self._shared is not None:
            entry = await self._shared.get(key)
            # While Redis is out every lookup misses, as the replica then works alone.
            CACHE.labels("redis", "miss" if entry is None else "hit").inc()
            if isinstance(entry, FlowPreview):
                self.cache.put(key, entry)
            if entry is not None:
                # An error stays where it is: copied here it would live its time twice.
                return _served(entry)
        try:
            preview = await self.client.get_flow_preview_url(flow_id, space)
        except CamsError as error:
            if error.http_status is not None or error.kind is not ErrorKind.BAD_REQUEST:
                # The support trail; what the client refused locally needs none.
                log.warning(
                    "no preview of flow %r: %s%s",
                    flow_id,
                    error,
                    _detail(error),
                    extra={"request_id": error.request_id},
                )
            if _definitive(error):
                await self._keep(key, error)
            raise
        await self._keep(key, preview)
        log.info(
            "fetched preview of flow %r, serving until it nears %s",
            flow_id,
            preview.expires_at,
            extra={"request_id": preview.request_id},
        )
        return preview

    async def _keep(self, key: CacheKey, entry: Entry) -> None:
        self.cache.put(key, entry)
        if self._shared is not None:
            await self._shared.put(key, entry)


def local_gates(settings: PreviewSettings) -> dict[Action, LocalLimiter]:
    """One in-process limiter per action, each with that action's budget."""
    return {action: LocalLimiter(settings.limiter_for(action)) for action in Action}


def _definitive(error: CamsError) -> bool:
    """CAMS's own word (local refusals cost nothing to repeat) that asking again won't change."""
    if not error.request_id:
        return False
    if error.kind is ErrorKind.NOT_FOUND:
        return True
    return error.kind is ErrorKind.BAD_REQUEST and (error.code or "").startswith(DEFINITIVE_CODES)


def _detail(error: CamsError) -> str:
    return (
        f" | AccessDeniedDetail {error.access_denied_detail}" if error.access_denied_detail else ""
    )


def _served(entry: Entry) -> FlowPreview:
    """A cached preview, or the cached definitive error raised afresh."""
    if isinstance(entry, CamsError):
        raise entry.with_traceback(None)
    return entry
