"""The one way into CAMS: cache, then single-flight, then the rate-limited client."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Self

import aiohttp

from bot.cams.client import AttemptGate, CamsClient
from bot.cams.credentials import Credentials
from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowPreview
from bot.cams.settings import CamsSettings
from bot.preview.cache import CacheKey, PreviewCache
from bot.preview.limiter import LocalLimiter
from bot.preview.settings import PreviewSettings
from bot.preview.singleflight import SingleFlight

log = logging.getLogger(__name__)

# Answers that will not change if asked again soon; anything else is never cached.
DEFINITIVE = frozenset({ErrorKind.NOT_FOUND, ErrorKind.BAD_REQUEST})


class PreviewService:
    """`get(flow_id, space)` for every entry point: Slack listeners and the command line.

    A cached link is served without any call; concurrent asks for the same (account, space,
    flow) share one upstream call; every upstream attempt passes the client's rate limiter.
    """

    def __init__(self, client: CamsClient, cache: PreviewCache) -> None:
        self.client = client
        self.cache = cache
        self._flights: SingleFlight[CacheKey, FlowPreview] = SingleFlight()

    @classmethod
    def create(
        cls,
        credentials: Credentials,
        cams: CamsSettings,
        settings: PreviewSettings,
        *,
        gate: AttemptGate | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> PreviewService:
        """Wire a client behind `gate` (default: a LocalLimiter) and a fresh cache."""
        client = CamsClient(
            credentials, cams, session=session, gate=gate or LocalLimiter(settings.limiter)
        )
        return cls(client, PreviewCache(settings.cache_size, negative_ttl=settings.negative_ttl))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PreviewService:
        """Read credentials and settings from the environment; raise ConfigError when bad."""
        return cls.create(
            Credentials.from_env(env), CamsSettings.from_env(env), PreviewSettings.from_env(env)
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the client's session if it owns one."""
        await self.client.close()

    async def get(self, flow_id: str, space: str | None = None) -> FlowPreview:
        """The preview of `flow_id` in `space` (default: the configured space).

        Raises CamsError as the client does, or Busy when the account's budget is booked
        further ahead than CAMS_MAX_WAIT_S.
        """
        key = (self.client.account, self.client.space_for(space) or "", flow_id)
        cached = self.cache.get(key)
        if isinstance(cached, FlowPreview):
            return cached
        if isinstance(cached, CamsError):
            raise cached.with_traceback(None)
        return await self._flights.run(key, lambda: self._fetch(key, flow_id, space))

    async def _fetch(self, key: CacheKey, flow_id: str, space: str | None) -> FlowPreview:
        try:
            preview = await self.client.get_flow_preview_url(flow_id, space)
        except CamsError as error:
            # Only CAMS's own word is definitive; local refusals cost nothing to repeat.
            if error.kind in DEFINITIVE and error.request_id:
                self.cache.put(key, error)
            raise
        self.cache.put(key, preview)
        log.info(
            "fetched preview of flow %r, serving until it nears %s", flow_id, preview.expires_at
        )
        return preview
