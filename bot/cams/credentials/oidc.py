"""Provider 2 of the chain: OIDC, as RRSA gives it to pods on ACK, through STS AssumeRoleWithOIDC.

The cluster mounts a service-account token (ALIBABA_CLOUD_OIDC_TOKEN_FILE) and rotates it on
its own schedule, so the file is read again at every refresh.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

from bot.cams.credentials.base import Credentials, CredentialsError
from bot.cams.credentials.env import (
    OIDC_TOKEN_FILE,
    RoleArn,
    account_id,
    oidc_provider_arn,
    role_arn,
    session_name,
)
from bot.cams.credentials.provider import Provider
from bot.cams.credentials.sts import StsClient, sts_endpoint
from bot.config import ConfigError, env_str

# A service-account token is about a kilobyte; a larger file is not one.
MAX_TOKEN_BYTES = 64 * 1024


class OidcFetcher:
    """Reads the token file, then asks STS for the role's credentials with it."""

    def __init__(
        self, sts: StsClient, role: RoleArn, provider_arn: str, token_file: Path, session: str
    ) -> None:
        self._sts = sts
        self._role = role
        self._provider_arn = provider_arn
        self._token_file = token_file
        self._session = session

    async def fetch(self) -> Credentials:
        """Fresh credentials for the token the file holds now."""
        # In a thread: the file may be on a network volume, and the loop must not wait on it.
        token = await asyncio.to_thread(_read_token, self._token_file)
        return await self._sts.assume_role_with_oidc(
            self._role.text, self._provider_arn, token, self._session
        )

    async def close(self) -> None:
        """Let go of STS's connection."""
        await self._sts.close()


def _read_token(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_TOKEN_BYTES + 1)
    except OSError as exc:
        raise CredentialsError(
            f"cannot read {OIDC_TOKEN_FILE} ({path}): {exc.strerror or type(exc).__name__}"
        ) from None
    if len(data) > MAX_TOKEN_BYTES:
        raise CredentialsError(f"{OIDC_TOKEN_FILE} ({path}) is larger than a token can be")
    token = data.decode("utf-8", "replace").strip()
    if not token:
        raise CredentialsError(f"{OIDC_TOKEN_FILE} ({path}) is empty")
    return token


def oidc_provider(env: Mapping[str, str]) -> Provider:
    """The provider from ALIBABA_CLOUD_ROLE_ARN, _OIDC_PROVIDER_ARN and _OIDC_TOKEN_FILE (all
    set, as the chain checked). The account is CAMS_ACCOUNT_ID, or the role's."""
    role = role_arn(env)
    token_file = env_str(env, OIDC_TOKEN_FILE)
    if role is None or token_file is None:
        raise ConfigError(OIDC_TOKEN_FILE, "needs ALIBABA_CLOUD_ROLE_ARN beside it")
    if not os.path.isfile(token_file):
        raise ConfigError(OIDC_TOKEN_FILE, f"no such file: {token_file}")
    sts = StsClient(sts_endpoint(env))
    fetcher = OidcFetcher(sts, role, oidc_provider_arn(env), Path(token_file), session_name(env))
    return Provider(
        name=f"OIDC/RRSA: AssumeRoleWithOIDC as {role.text} on {sts.endpoint.host}",
        account=account_id(env) or role.account,
        fetcher=fetcher,
    )
