"""A local credentials-URI server, as a sidecar would run one: `GET <path>` answers
`{"Code": "Success", "AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.standin.alibaba.keys import KeyMint
from bot.standin.alibaba.sts import credential_fields
from bot.standin.alibaba.trouble import Trouble, add_stats_route

DEFAULT_PATH = "/v1/credentials"


class CredentialsUriServer:
    """Issues credentials of `account` that live `lifetime` seconds, at `path`."""

    def __init__(
        self,
        mint: KeyMint,
        *,
        account: str,
        lifetime: float = 3600,
        path: str = DEFAULT_PATH,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.mint = mint
        self.account = account
        self.lifetime = lifetime
        self.path = path
        self._wall_clock = wall_clock
        self.trouble = Trouble()

    def app(self) -> web.Application:
        """`GET path`, and `GET /_standin/stats`."""
        app = web.Application()
        app.router.add_get(self.path, self._credentials)
        add_stats_route(app, self.stats)
        return app

    def stats(self) -> dict[str, Any]:
        """Requests, issued credentials and failures."""
        return {"counts": dict(self.trouble.counts)}

    async def _credentials(self, request: web.Request) -> web.Response:
        self.trouble.counts["request"] += 1
        await self.trouble.delay()
        failure = self.trouble.failure()
        if failure is not None:
            return web.json_response({"Code": failure[1]}, status=failure[0])
        expires_at = math.floor(self._wall_clock() + self.lifetime)
        credentials = self.mint.issue(self.account, expires_at)
        self.trouble.counts["issued"] += 1
        return web.json_response({"Code": "Success", **credential_fields(credentials, expires_at)})
