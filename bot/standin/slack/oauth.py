"""Slack's side of OAuth v2, for the fake Slack: the consent a test gives, `oauth.v2.access`
(code exchange and token refresh), and which workspace each token it issued belongs to.

A test drives the consent screen in Python: it takes the authorize URL the bot's install
path redirected to, and `approve` gives back the URL Slack would send the browser to, with a
one-time code and the state. With `rotation`, tokens expire after `token_lifetime_s` and come
with a refresh token that works once, as Slack's do.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from bot.standin.slack.payloads import DEFAULT_WHO

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "fake0client0secret0for0tests0000"  # noqa: S105 - the fake's own
# Slack's lifetime for rotating tokens: twelve hours.
TOKEN_LIFETIME_S = 43_200

_Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Workspace:
    """A workspace the app is installed in, and the bot user it gets there."""

    team_id: str
    team_name: str = "Example"
    team_domain: str = "example"
    installer_id: str = "U0INSTALL1"
    bot_user_id: str = "U0FLOWBOT"
    bot_id: str = "B0FLOWBOT"


@dataclass(slots=True)
class _Grant:
    workspace: Workspace
    scopes: str
    redirect_uri: str | None


@dataclass(slots=True)
class _Issued:
    workspace: Workspace
    scopes: str
    refresh_token: str | None = None


@dataclass(slots=True)
class FakeOAuth:
    """The app's OAuth credentials as Slack knows them, and the tokens it has issued.

    `hold_refreshes()` makes token refreshes wait until the returned event is set, so that a
    test can have several requests find a token due at once.
    """

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    app_id: str = DEFAULT_WHO.api_app_id
    rotation: bool = False
    token_lifetime_s: int = TOKEN_LIFETIME_S
    refreshes: int = 0
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _tokens: dict[str, _Issued] = field(default_factory=dict)
    _refresh_tokens: dict[str, _Issued] = field(default_factory=dict)
    _gate: asyncio.Event | None = None

    def approve(
        self, authorize_url: str, workspace: Workspace, *, redirect_uri: str | None = None
    ) -> str:
        """The person installs into `workspace`: where Slack sends the browser back to.

        `redirect_uri` stands for the app's configured one when the authorize URL has none.
        """
        query = URL(authorize_url).query
        if query.get("client_id") != self.client_id:
            raise ValueError(f"no app has the client_id {query.get('client_id')!r}")
        target = query.get("redirect_uri") or redirect_uri
        if target is None:
            raise ValueError("the authorize URL names no redirect_uri: pass the app's")
        code = f"{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self._codes[code] = _Grant(workspace, query.get("scope", ""), query.get("redirect_uri"))
        return str(URL(target).update_query(code=code, state=query.get("state", "")))

    def hold_refreshes(self) -> asyncio.Event:
        """From now on refreshes wait until the returned event is set."""
        self._gate = asyncio.Event()
        return self._gate

    def workspace_of(self, token: str | None) -> Workspace | None:
        """The workspace a live access token was issued for."""
        issued = self._tokens.get(token or "")
        return issued.workspace if issued is not None else None

    def tokens_of(self, team_id: str) -> list[str]:
        """The live access tokens issued for the workspace, oldest first."""
        return [token for token, i in self._tokens.items() if i.workspace.team_id == team_id]

    def revoke(self, team_id: str) -> None:
        """The app is uninstalled from the workspace: none of its tokens work any more."""
        for table in (self._tokens, self._refresh_tokens):
            for token in [t for t, i in table.items() if i.workspace.team_id == team_id]:
                del table[token]

    def auth_test(self, token: str) -> _Json:
        """auth.test for a token this fake issued."""
        issued = self._tokens[token]
        workspace = issued.workspace
        return {
            "ok": True,
            "url": f"https://{workspace.team_domain}.slack.com/",
            "team": workspace.team_name,
            "user": "flowpreview",
            "team_id": workspace.team_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "is_enterprise_install": False,
        }

    async def access(self, params: Mapping[str, str], authorization: str | None) -> _Json:
        """`oauth.v2.access`: a code exchanged for tokens, or a refresh token for new ones."""
        client_id, client_secret = _client(params, authorization)
        if client_id != self.client_id:
            return _error("invalid_client_id")
        if client_secret != self.client_secret:
            return _error("bad_client_secret")
        if params.get("grant_type") == "refresh_token":
            return await self._refresh(params.get("refresh_token", ""))
        grant = self._codes.pop(params.get("code", ""), None)
        if grant is None:
            return _error("invalid_code")
        if grant.redirect_uri is not None and params.get("redirect_uri") != grant.redirect_uri:
            return _error("bad_redirect_uri")
        answer = self._issue(_Issued(grant.workspace, grant.scopes))
        answer["authed_user"] = {"id": grant.workspace.installer_id}
        return answer

    async def _refresh(self, refresh_token: str) -> _Json:
        if self._gate is not None:
            await self._gate.wait()
        # Taken out at once: a refresh token works once, even for two calls at the same time.
        issued = self._refresh_tokens.pop(refresh_token, None)
        if issued is None:
            return _error("invalid_refresh_token")
        self.refreshes += 1
        return self._issue(_Issued(issued.workspace, issued.scopes))

    def _issue(self, issued: _Issued) -> _Json:
        workspace = issued.workspace
        if self.rotation:
            token = f"xoxe.xoxb-1-{secrets.token_hex(24)}"
            issued.refresh_token = f"xoxe-1-{secrets.token_hex(24)}"
            self._refresh_tokens[issued.refresh_token] = issued
        else:
            token = f"xoxb-{secrets.randbelow(10**12)}-{secrets.token_hex(12)}"
        self._tokens[token] = issued
        answer: _Json = {
            "ok": True,
            "app_id": self.app_id,
            "access_token": token,
            "token_type": "bot",
            "scope": issued.scopes,
            "bot_user_id": workspace.bot_user_id,
            "team": {"id": workspace.team_id, "name": workspace.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if issued.refresh_token is not None:
            answer |= {"refresh_token": issued.refresh_token, "expires_in": self.token_lifetime_s}
        return answer


def app_uninstalled(team_id: str, *, api_app_id: str = DEFAULT_WHO.api_app_id) -> bytes:
    """The Events API callback Slack sends when the app is uninstalled from a workspace."""
    return _event(team_id, api_app_id, {"type": "app_uninstalled"})


def tokens_revoked(
    team_id: str,
    *,
    bot_user_ids: tuple[str, ...] = ("U0FLOWBOT",),
    api_app_id: str = DEFAULT_WHO.api_app_id,
) -> bytes:
    """The callback Slack sends when the workspace revokes the app's bot tokens."""
    event = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": list(bot_user_ids)}}
    return _event(team_id, api_app_id, event)


def _event(team_id: str, api_app_id: str, event: _Json) -> bytes:
    now = int(time.time())
    return json.dumps(
        {
            "token": DEFAULT_WHO.verification_token,
            "team_id": team_id,
            "api_app_id": api_app_id,
            "event": {**event, "event_ts": f"{now}.000100"},
            "type": "event_callback",
            "event_id": f"Ev{secrets.token_hex(5).upper()}",
            "event_time": now,
        }
    ).encode()


def _client(params: Mapping[str, str], authorization: str | None) -> tuple[str, str]:
    """The client ID and secret, from HTTP Basic auth (as slack_sdk sends them) or the form."""
    if authorization and authorization.startswith("Basic "):
        try:
            decoded = base64.b64decode(authorization.removeprefix("Basic "), validate=True)
            client_id, _, client_secret = decoded.decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return client_id, client_secret
    return params.get("client_id", ""), params.get("client_secret", "")


def _error(code: str) -> _Json:
    return {"ok": False, "error": code}
