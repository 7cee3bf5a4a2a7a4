"""A local stand-in for the ECS instance metadata service's RAM role credentials, with IMDSv2.

`PUT /latest/api/token` (with `X-aliyun-ecs-metadata-token-ttl-seconds`) gives a session token;
requests carrying it in `X-aliyun-ecs-metadata-token` are IMDSv2, requests without it IMDSv1.
`tokens=False` plays a service (or a proxy) that does not answer the PUT; `require_token=True`
an instance set to refuse IMDSv1.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.standin.alibaba.keys import KeyMint
from bot.standin.alibaba.sts import credential_fields, iso
from bot.standin.alibaba.trouble import Trouble, add_stats_route

TOKEN_TTL_HEADER = "X-aliyun-ecs-metadata-token-ttl-seconds"  # noqa: S105 - a header name
TOKEN_HEADER = "X-aliyun-ecs-metadata-token"  # noqa: S105 - a header name
MAX_TOKEN_TTL_S = 21600
ROLES_PATH = "/latest/meta-data/ram/security-credentials/"
# Session tokens remembered at most; the oldest go first.
MAX_TOKENS = 1000


class FakeEcsMetadata:
    """The metadata service of an instance whose RAM role is `role`, in account `account`."""

    def __init__(
        self,
        mint: KeyMint,
        *,
        role: str,
        account: str,
        lifetime: float = 6 * 3600,
        tokens: bool = True,
        require_token: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.mint = mint
        self.role = role
        self.account = account
        self.lifetime = lifetime
        self.tokens = tokens
        self.require_token = require_token
        self._wall_clock = wall_clock
        self._issued_tokens: OrderedDict[str, float] = OrderedDict()
        self.trouble = Trouble()

    def app(self) -> web.Application:
        """The token and credentials paths, and `GET /_standin/stats`."""
        app = web.Application()
        app.router.add_put("/latest/api/token", self._token)
        app.router.add_get(ROLES_PATH, self._roles)
        app.router.add_get(ROLES_PATH + "{role}", self._credentials)
        add_stats_route(app, self.stats)
        return app

    def stats(self) -> dict[str, Any]:
        """Requests by kind: token, v1, v2, and refusals."""
        return {"counts": dict(self.trouble.counts)}

    async def _token(self, request: web.Request) -> web.Response:
        self.trouble.counts["token"] += 1
        await self.trouble.delay()
        if not self.tokens:
            return web.Response(status=404, text="Not Found")
        try:
            ttl = int(request.headers.get(TOKEN_TTL_HEADER, ""))
        except ValueError:
            ttl = 0
        if not 1 <= ttl <= MAX_TOKEN_TTL_S:
            return web.Response(status=400, text="Bad Request: invalid token ttl")
        token = secrets.token_urlsafe(32)
        self._issued_tokens[token] = self._wall_clock() + ttl
        if len(self._issued_tokens) > MAX_TOKENS:
            self._issued_tokens.popitem(last=False)
        return web.Response(text=token)

    async def _roles(self, request: web.Request) -> web.Response:
        self._check(request)
        return web.Response(text=self.role)

    async def _credentials(self, request: web.Request) -> web.Response:
        self._check(request)
        await self.trouble.delay()
        failure = self.trouble.failure()
        if failure is not None:
            return web.Response(status=failure[0], text=failure[1])
        if request.match_info["role"] != self.role:
            return web.Response(status=404, text="Not Found")
        expires_at = math.floor(self._wall_clock() + self.lifetime)
        credentials = self.mint.issue(self.account, expires_at)
        self.trouble.counts["issued"] += 1
        return web.json_response(
            {
                **credential_fields(credentials, expires_at),
                "LastUpdated": iso(self._wall_clock()),
                "Code": "Success",
            }
        )

    def _check(self, request: web.Request) -> None:
        """Count the request as v1 or v2; refuse a bad token, or v1 where it is refused."""
        token = request.headers.get(TOKEN_HEADER)
        if token is None:
            self.trouble.counts["v1"] += 1
            if self.require_token:
                raise web.HTTPForbidden(text="Forbidden: IMDSv1 is disabled on this instance")
            return
        self.trouble.counts["v2"] += 1
        expires = self._issued_tokens.get(token)
        if expires is None or expires <= self._wall_clock():
            raise web.HTTPUnauthorized(text="Unauthorized: invalid or expired token")
