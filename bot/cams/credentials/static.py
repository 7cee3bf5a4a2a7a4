"""Provider 1 of the chain: the AccessKey in the environment, optionally with an STS token."""

from __future__ import annotations

from collections.abc import Mapping

from bot.cams.credentials.base import Credentials
from bot.cams.credentials.env import account_id


class StaticSource:
    """Credentials that never change; `account` defaults to their AccessKey ID."""

    def __init__(
        self, credentials: Credentials, *, account: str | None = None, provider: str = "static"
    ) -> None:
        self._credentials = credentials
        self._account = account or credentials.access_key_id
        self._provider = provider

    @property
    def provider(self) -> str:
        """The provider's name, for the start-up log."""
        return self._provider

    @property
    def account(self) -> str:
        """The account that budgets and caches are keyed by."""
        return self._account

    async def current(self) -> Credentials:
        """The credentials, at once."""
        return self._credentials

    def expires_at(self) -> float | None:
        """When the credentials expire: unknown for these, even with an STS token."""
        return self._credentials.expires_at

    def start(self) -> None:
        """Nothing to fetch."""

    async def close(self) -> None:
        """Nothing to let go of."""


def static_source(env: Mapping[str, str]) -> StaticSource:
    """ALIBABA_CLOUD_ACCESS_KEY_ID and _SECRET (and _SECURITY_TOKEN); raise ConfigError naming
    what is missing. The account is CAMS_ACCOUNT_ID, or the AccessKey ID."""
    credentials = Credentials.from_env(env)
    kind = "with an STS token " if credentials.security_token is not None else ""
    return StaticSource(
        credentials,
        account=account_id(env),
        provider=f"environment AccessKey {kind}(ALIBABA_CLOUD_ACCESS_KEY_ID)",
    )
