"""Whether a channel is shared with another organisation, as Slack's conversations.info says.

A card everyone in a channel sees may name a flow only when the whole channel may see its
space; with the default policy that means no one from another organisation is in it. Answers
are kept for a while, concurrent asks share one call, and each call has a bounded wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from cachetools import TTLCache
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.policy import AccessDefault, channel_sees
from bot.access.snapshot import RuleSnapshot
from bot.preview.singleflight import SingleFlight
from bot.slack.admission.gate import NO_SPACE, Gate
from bot.slack.edge.web_api import SlackWebError, as_web_client

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 600.0
DEFAULT_MAX_CHANNELS = 10_000
DEFAULT_TIMEOUT_S = 1.0


class ChannelDirectory:
    """Whether conversations.info says a channel is shared outside, cached per (workspace,
    channel)."""

    def __init__(
        self,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        max_channels: int = DEFAULT_MAX_CHANNELS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_s = timeout_s
        self._shared: TTLCache[tuple[str, str], bool] = TTLCache(max_channels, ttl_s, clock)
        self._flights: SingleFlight[tuple[str, str], bool | None] = SingleFlight()

    async def shared_externally(
        self, client: AsyncWebClient, team_id: str, channel_id: str
    ) -> bool | None:
        """Whether people of another organisation are in the channel; None when Slack could
        not say (no scope, not found, down or slow), which the caller treats as shared."""
        key = (team_id, channel_id)
        known = self._shared.get(key)
        if known is not None:
            return known
        return await self._flights.run(key, lambda: self._ask(client, key))

    async def _ask(self, client: AsyncWebClient, key: tuple[str, str]) -> bool | None:
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await as_web_client(client).conversations_info(channel=key[1])
        except SlackWebError as error:
            log.info("cannot tell whether %s is shared: %s", key[1], error)
            return None
        except TimeoutError:
            log.info(
                "cannot tell whether %s is shared: no answer within %g s", key[1], self.timeout_s
            )
            return None
        channel = response.data.get("channel") if isinstance(response.data, dict) else None
        if not isinstance(channel, dict):
            return None
        # Shared with another organisation, about to be, or across an Enterprise Grid org's
        # workspaces (which may hold other customers'): all count.
        shared = any(
            channel.get(flag) is True
            for flag in ("is_ext_shared", "is_pending_ext_shared", "is_org_shared")
        )
        self._shared[key] = shared
        return shared


class ChannelAccess:
    """Whether a whole channel may see a space: the access rules (all open without a gate,
    which means no store of rules), and whether the channel is shared outside."""

    def __init__(
        self,
        gate: Gate | None,
        directory: ChannelDirectory,
        default_space: Callable[[str | None], str | None],
    ) -> None:
        self.gate = gate
        self.directory = directory
        self._default_space = default_space
        self._no_rules = RuleSnapshot()

    def space_of(self, team_id: str, channel_id: str) -> str | None:
        """The space the channel's commands use when they name none (None: the deployment's)."""
        gate = self.gate
        return gate.book.snapshot().channel_space(team_id, channel_id) if gate else None

    async def sees(
        self, client: AsyncWebClient, team_id: str, channel_id: str, space: str | None
    ) -> bool:
        """Whether everyone in `channel_id` may see `space` (None: the deployment's default);
        when Slack cannot say whether the channel is shared, it may not."""
        return await self.seen(client, team_id, channel_id, space) is True

    async def seen(
        self, client: AsyncWebClient, team_id: str, channel_id: str, space: str | None
    ) -> bool | None:
        """As `sees`, but None when it turns on whether the channel is shared outside and
        Slack could not say."""
        gate = self.gate
        effective = self._default_space(space) or NO_SPACE
        snapshot = gate.book.snapshot() if gate is not None else self._no_rules
        default = gate.settings.default if gate is not None else AccessDefault.OPEN
        multi = gate.multi_workspace if gate is not None else False
        decided = channel_sees(
            team_id,
            channel_id,
            effective,
            snapshot,
            default=default,
            multi_workspace=multi,
            shared_externally=False,
        )
        if not decided or snapshot.rules_for(effective):
            # Refused even if unshared, or admitted by a channel rule: Slack need not be asked.
            return decided
        shared = await self.directory.shared_externally(client, team_id, channel_id)
        return None if shared is None else not shared
