"""A local stand-in for STS (2015-04-01): AssumeRole and AssumeRoleWithOIDC.

AssumeRole must be signed (ACS3-HMAC-SHA256) by a known RAM user's AccessKey, or by credentials
the mint issued and that have not expired. AssumeRoleWithOIDC is anonymous: the OIDC token is
checked by the issuer registered for the OIDCProviderArn. Parameters are read from the query
and from a form body, with the action in `x-acs-action` or `Action`, so that both our client
and the official SDKs (RPC style, GET with a query) can call it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.cams import signing
from bot.cams.credentials import Credentials
from bot.standin.alibaba.keys import KeyMint
from bot.standin.alibaba.oidc import OidcIssuer, TokenError
from bot.standin.alibaba.trouble import Trouble, add_stats_route

VERSION = "2015-04-01"
DEFAULT_PROVIDER_ARN = "acs:ram::1234567890123456:oidc-provider/ack-rrsa-standin"
MIN_DURATION_S = 900
MAX_DURATION_S = 3600
# How many OIDC token IDs and session names are remembered, for tests to read.
MAX_SEEN = 1000
_ROLE_ARN = re.compile(r"acs:ram::(?P<account>[0-9]+):role/(?P<name>[^\s:]+)")
_SESSION_NAME = re.compile(r"[A-Za-z0-9.@_-]{2,64}")


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


class FakeSts:
    """STS as seen from a client.

    `users` are RAM users' AccessKeys and their account (uid); `providers` map OIDC provider
    ARNs to the issuers whose tokens they accept. Credentials live `lifetime` seconds when set,
    whatever DurationSeconds asks (tests use short lives), else DurationSeconds.
    """

    def __init__(
        self,
        mint: KeyMint,
        *,
        users: Iterable[tuple[Credentials, str]] = (),
        providers: Mapping[str, OidcIssuer] | None = None,
        lifetime: float | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.mint = mint
        self._users = {credentials.access_key_id: (credentials, uid) for credentials, uid in users}
        self._providers = dict(providers or {})
        self.lifetime = lifetime
        self._wall_clock = wall_clock
        self.trouble = Trouble()
        self.issued: deque[Credentials] = deque(maxlen=MAX_SEEN)
        self.token_ids: deque[str] = deque(maxlen=MAX_SEEN)
        self.session_names: deque[str] = deque(maxlen=MAX_SEEN)

    def app(self) -> web.Application:
        """`/` is STS (GET or POST); `GET /_standin/stats` reports counts."""
        app = web.Application()
        app.router.add_route("*", "/", self._handle)
        add_stats_route(app, self.stats)
        return app

    def stats(self) -> dict[str, Any]:
        """Requests by action and outcome, and how many credentials were issued."""
        return {"counts": dict(self.trouble.counts), "issued": len(self.issued)}

    async def _handle(self, request: web.Request) -> web.Response:
        request_id = str(uuid.uuid4()).upper()
        body = await request.read()
        params: dict[str, str] = dict(request.query)
        if request.content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            params.update((name, value) for name, value in form.items() if isinstance(value, str))
        action = request.headers.get("x-acs-action") or params.get("Action", "")
        self.trouble.counts[action or "(none)"] += 1
        await self.trouble.delay()
        try:
            return self._answer(request, action, params, body, request_id)
        except _Refusal as refusal:
            self.trouble.counts[refusal.code] += 1
            return web.json_response(
                {
                    "RequestId": request_id,
                    "HostId": "sts.standin",
                    "Code": refusal.code,
                    "Message": refusal.message,
                },
                status=refusal.status,
            )

    def _answer(
        self,
        request: web.Request,
        action: str,
        params: Mapping[str, str],
        body: bytes,
        request_id: str,
    ) -> web.Response:
        failure = self.trouble.failure()
        if failure is not None:
            raise _Refusal(failure[0], failure[1], "Injected failure.")
        version = request.headers.get("x-acs-version") or params.get("Version")
        if version != VERSION:
            raise _Refusal(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if action == "AssumeRole":
            self._authenticate(request, body)
        elif action != "AssumeRoleWithOIDC":
            raise _Refusal(404, "InvalidAction.NotFound", "Specified api is not found.")
        return self._assume(action, params, request_id)

    def _authenticate(self, request: web.Request, body: bytes) -> None:
        parsed = signing.parse_authorization(request.headers.get("Authorization", ""))
        if parsed is None:
            raise _Refusal(400, "IncompleteSignature", "Missing or malformed signature.")
        caller = self._caller(parsed.access_key_id)
        sent_token = request.headers.get("x-acs-security-token")
        wanted = caller.security_token
        if (wanted is None) != (sent_token is None) or (
            wanted is not None
            and sent_token is not None
            and not hmac.compare_digest(wanted.reveal(), sent_token)
        ):
            raise _Refusal(400, "InvalidSecurityToken.Mismatch", "The security token is invalid.")
        signed = set(parsed.signed_headers)
        acs = {name.lower() for name in request.headers if name.lower().startswith("x-acs-")}
        if "host" not in signed or not acs <= signed:
            raise _Refusal(400, "IncompleteSignature", "host and x-acs-* headers must be signed.")
        digest = hashlib.sha256(body).hexdigest()
        if request.headers.get("x-acs-content-sha256") != digest:
            raise _Refusal(400, "ContentSHA256NotMatched", "Body hash does not match.")
        headers = {name: request.headers.get(name, "") for name in parsed.signed_headers}
        canonical, _ = signing.canonical_request(
            request.method,
            request.path,
            signing.canonical_query(dict(request.query)),
            headers,
            digest,
        )
        expected = signing.signature(caller.access_key_secret.reveal(), canonical)
        if not hmac.compare_digest(expected, parsed.signature):
            raise _Refusal(400, "SignatureDoesNotMatch", "The signature does not match.")

    def _caller(self, access_key_id: str) -> Credentials:
        known = self._users.get(access_key_id)
        if known is not None:
            return known[0]
        grant = self.mint.check(access_key_id)
        if grant is None:
            raise _Refusal(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if grant.expires_at <= self._wall_clock():
            raise _Refusal(400, "InvalidSecurityToken.Expired", "The security token has expired.")
        return grant.credentials

    def _assume(self, action: str, params: Mapping[str, str], request_id: str) -> web.Response:
        needed = ["RoleArn", "RoleSessionName"]
        if action == "AssumeRoleWithOIDC":
            needed += ["OIDCProviderArn", "OIDCToken"]
        for name in needed:
            if not params.get(name):
                raise _Refusal(400, "MissingParameter", f"{name} is mandatory for this action.")
        role = _ROLE_ARN.fullmatch(params["RoleArn"])
        if role is None:
            raise _Refusal(400, "InvalidParameter.RoleArn", "The RoleArn is invalid.")
        session = params["RoleSessionName"]
        if _SESSION_NAME.fullmatch(session) is None:
            raise _Refusal(400, "InvalidParameter.RoleSessionName", "RoleSessionName is invalid.")
        try:
            duration = int(params.get("DurationSeconds", str(MAX_DURATION_S)))
        except ValueError:
            duration = 0
        if not MIN_DURATION_S <= duration <= MAX_DURATION_S:
            raise _Refusal(400, "InvalidParameter.DurationSeconds", "DurationSeconds is invalid.")
        if action == "AssumeRoleWithOIDC":
            self._check_oidc(params["OIDCProviderArn"], params["OIDCToken"])
        self.session_names.append(session)
        life = self.lifetime if self.lifetime is not None else duration
        expires_at = math.floor(self._wall_clock() + life)
        credentials = self.mint.issue(role["account"], expires_at)
        self.issued.append(credentials)
        self.trouble.counts["issued"] += 1
        return web.json_response(
            {
                "RequestId": request_id,
                "AssumedRoleUser": {
                    "Arn": f"acs:ram::{role['account']}:assumed-role/{role['name']}/{session}",
                    "AssumedRoleId": f"3{role['account'][-6:]}:{session}",
                },
                "Credentials": credential_fields(credentials, expires_at),
            }
        )

    def _check_oidc(self, provider_arn: str, token: str) -> None:
        issuer = self._providers.get(provider_arn)
        if issuer is None:
            raise _Refusal(404, "EntityNotExist.OIDCProvider", "The OIDC provider does not exist.")
        try:
            claims = issuer.check(token)
        except TokenError as error:
            raise _Refusal(400, error.code, error.message) from None
        self.token_ids.append(str(claims.get("jti")))


def iso(stamp: float) -> str:
    """Unix time as STS writes an Expiration: 2025-01-31T12:00:00Z."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def credential_fields(credentials: Credentials, expires_at: float) -> dict[str, str]:
    """AccessKeyId, AccessKeySecret, SecurityToken and Expiration, as STS, the instance
    metadata service and credentials URIs all write them."""
    token = credentials.security_token
    return {
        "AccessKeyId": credentials.access_key_id,
        "AccessKeySecret": credentials.access_key_secret.reveal(),
        "SecurityToken": token.reveal() if token is not None else "",
        "Expiration": iso(expires_at),
    }
