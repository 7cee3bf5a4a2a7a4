"""Posting replies to a response_url: only to Slack's hosts, never following a redirect.

Bolt's `respond()` posts wherever a payload's response_url points and follows redirects
(re-posting on 307), which would hand the preview link to any host a signed payload names.
The bot posts its replies here instead.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from bot import __version__
from bot.cams.response import clean_text
from bot.lifecycle import AsyncCloseable
from bot.metrics import REPLIES
from bot.slack.edge.refusals import RefusalLog
from bot.slack.edge.reply_hosts import ReplyHosts, host_of

log = logging.getLogger(__name__)

# Slack answers a response_url in well under a second; a reply stuck longer is lost anyway.
REPLY_TIMEOUT_S = 10.0
MAX_ANSWER_BYTES = 4096


class ReplyPoster(AsyncCloseable):
    """Posts messages to response_urls on allowed hosts, over one session of its own."""

    def __init__(self, hosts: ReplyHosts, *, timeout: float = REPLY_TIMEOUT_S) -> None:
        self._hosts = hosts
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._refusals = RefusalLog(log)

    async def post(self, response_url: str, message: dict[str, Any]) -> bool:
        """Post `message` to `response_url`; True when Slack took it. Never raises for it."""
        delivered = await self._post(response_url, message)
        REPLIES.labels("delivered" if delivered else "failed").inc()
        return delivered

    async def _post(self, response_url: str, message: dict[str, Any]) -> bool:
        problem = self._hosts.refusal(response_url)
        if problem is not None:
            self._refusals.refused(f"a reply to a response_url ({problem})", host_of(response_url))
            return False
        try:
            async with self._session_for_post().post(
                response_url, json=message, allow_redirects=False, timeout=self._timeout
            ) as answer:
                body = await answer.content.read(MAX_ANSWER_BYTES)
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            # aiohttp's messages can quote the URL, whose path is a bearer token.
            log.warning(
                "could not post a reply to %s: %s", host_of(response_url), type(exc).__name__
            )
            return False
        if status != 200:
            log.warning(
                "%s refused the reply: HTTP %d %s",
                host_of(response_url),
                status,
                clean_text(body.decode("utf-8", "replace")[:200]),
            )
            return False
        return True

    def _session_for_post(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": f"flowpreview/{__version__}"},
                # HTTPS_PROXY and NO_PROXY, as the Web API client honours them: where the
                # only way out is a proxy, replies take it too. The allow-list is checked on
                # the response_url itself, so a proxy does not widen it.
                trust_env=True,
            )
        return self._session

    async def close(self) -> None:
        """Close the session, and log the refusals counted but not yet logged."""
        self._refusals.flush()
        if self._session is not None:
            await self._session.close()
            self._session = None
