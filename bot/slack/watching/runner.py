"""A replica's watching: its poller (working while it holds the lease) and its poster, started
with the server and stopped with it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.preview.service import PreviewService
from bot.slack.admission.channels import ChannelAccess
from bot.slack.constants import SLACK_API_URL
from bot.slack.edge.web_api import SlackWebClient
from bot.slack.settings import SlackSettings
from bot.slack.watching.poller import Poller
from bot.slack.watching.poster import ChangePoster
from bot.slack.watching.settings import WatchSettings
from bot.store.audit import AuditTrail
from bot.store.watches import Watches

log = logging.getLogger(__name__)

# How long a shutdown lets the posts under way finish.
FINISH_S = 5.0


class Watching:
    """The poller and the poster of one replica."""

    def __init__(self, poller: Poller, poster: ChangePoster) -> None:
        self.poller = poller
        self.poster = poster
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Poll (when this replica holds the lease) and post, in the background."""
        self._tasks = [
            asyncio.create_task(self._forever("polling", self.poller.run)),
            asyncio.create_task(self._forever("posting", self.poster.run)),
        ]

    async def stop(self) -> None:
        """Stop polling, let the posts under way finish (for a while), and let the lease go,
        so that another replica takes over at once."""
        if self._tasks:
            polling, posting = self._tasks
            self._tasks = []
            polling.cancel()
            self.poster.finish()
            _, late = await asyncio.wait({posting}, timeout=FINISH_S)
            for task in late:
                task.cancel()
            await asyncio.gather(polling, posting, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.poller.stop()

    @staticmethod
    async def _forever(what: str, run: Callable[[], Awaitable[None]]) -> None:
        # A database or Slack outage must not end watching for good: it starts again. Only a
        # run asked to finish returns.
        while True:
            try:
                await run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watch: %s failed; starting again in a minute", what)
                await asyncio.sleep(60.0)
            else:
                return


def build_watching(
    slack: SlackSettings,
    service: PreviewService,
    watches: Watches,
    settings: WatchSettings,
    bolt: AsyncApp,
    *,
    channels: ChannelAccess | None = None,
    trail: AuditTrail | None = None,
) -> Watching:
    """The poller and poster for this replica, posting with each workspace's bot token."""
    api_url = slack.api_url or SLACK_API_URL
    one = (
        SlackWebClient(token=slack.bot_token.reveal(), base_url=api_url)
        if slack.bot_token is not None
        else None
    )

    async def client_for(team_id: str) -> AsyncWebClient | None:
        if one is not None:
            return one
        # Looked up each time: a rotated token replaces the one kept.
        store = bolt.installation_store
        bot = await store.async_find_bot(enterprise_id=None, team_id=team_id) if store else None
        if bot is None or bot.bot_token is None:
            return None
        return SlackWebClient(token=bot.bot_token, base_url=api_url)

    def leading() -> bool:
        return poller.holds()

    poster = ChangePoster(watches, client_for, trail=trail, leading=leading, channels=channels)
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    poller = Poller(
        service, watches, settings, holder=holder, notify=poster.notify_paused, found=poster.wake
    )
    return Watching(poller, poster)
