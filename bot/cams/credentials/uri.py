"""Provider 4 of the chain: ALIBABA_CLOUD_CREDENTIALS_URI, a server (usually a sidecar) that
answers GET with `{"Code": "Success", "AccessKeyId", "AccessKeySecret", "SecurityToken",
"Expiration"}`.

Alibaba's SDKs take plain http anywhere for it. Here, as for every other endpoint of the bot,
plain http is allowed only on loopback: the answer is a secret, and a sidecar in the same pod or
on the same host is on loopback anyway. Anything further away needs https.
"""

from __future__ import annotations

from collections.abc import Mapping

from yarl import URL

from bot.cams.credentials.base import Credentials, success_answer_credentials
from bot.cams.credentials.env import ACCOUNT_ID, CREDENTIALS_URI, account_id
from bot.cams.credentials.http import HttpLink
from bot.cams.credentials.provider import Provider
from bot.config import ConfigError, Endpoint, env_str

CONNECT_TIMEOUT_S = 5.0
TIMEOUT_S = 10.0


class UriFetcher:
    """GETs credentials from `url`."""

    def __init__(self, url: URL) -> None:
        self._url = url
        # Named by origin only: a path or query may hold a token of the sidecar's own.
        self.origin = str(url.origin())
        self._http = HttpLink(connect_timeout=CONNECT_TIMEOUT_S, timeout=TIMEOUT_S)

    async def fetch(self) -> Credentials:
        """Fresh credentials from the server."""
        what = f"the credentials URI at {self.origin}"
        answer = await self._http.call("GET", self._url, what)
        return success_answer_credentials(answer.status, answer.body, what)

    async def close(self) -> None:
        """Let go of the connection."""
        await self._http.close()


def credentials_uri(env: Mapping[str, str]) -> URL:
    """ALIBABA_CLOUD_CREDENTIALS_URI, checked: an http(s) URL; plain http only on loopback."""
    raw = env_str(env, CREDENTIALS_URI) or ""
    try:
        url = URL(raw)
    except ValueError as exc:
        raise ConfigError(CREDENTIALS_URI, str(exc)) from None
    if not url.absolute or url.user is not None or url.password is not None:
        raise ConfigError(
            CREDENTIALS_URI, "expected http(s)://host[:port]/path, without user or password"
        )
    try:
        Endpoint.parse(str(url.origin()))
    except ValueError as exc:
        raise ConfigError(CREDENTIALS_URI, str(exc)) from None
    return url


def uri_provider(env: Mapping[str, str]) -> Provider:
    """The provider for ALIBABA_CLOUD_CREDENTIALS_URI. CAMS_ACCOUNT_ID is required, as for an
    ECS role: nothing in the environment says which account the credentials act for."""
    fetcher = UriFetcher(credentials_uri(env))
    account = account_id(env)
    if account is None:
        raise ConfigError(
            ACCOUNT_ID,
            f"required with {CREDENTIALS_URI}: set it to the Alibaba Cloud account ID (UID) the "
            "credentials belong to, the key of the account's CAMS budget and cache",
        )
    return Provider(name=f"credentials URI at {fetcher.origin}", account=account, fetcher=fetcher)
