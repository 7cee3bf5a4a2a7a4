"""Provider 5 of the chain: the environment's AccessKey assumes ALIBABA_CLOUD_ROLE_ARN through
STS AssumeRole, and CAMS is called as the role."""

from __future__ import annotations

from collections.abc import Mapping

from bot.cams.credentials.base import Credentials
from bot.cams.credentials.env import RoleArn, account_id, role_arn, session_name
from bot.cams.credentials.provider import Provider
from bot.cams.credentials.sts import StsClient, sts_endpoint
from bot.config import ConfigError


class AssumeRoleFetcher:
    """Asks STS for the role's credentials, signing with the AccessKey it was given."""

    def __init__(self, sts: StsClient, caller: Credentials, role: RoleArn, session: str) -> None:
        self._sts = sts
        self._caller = caller
        self._role = role
        self._session = session

    async def fetch(self) -> Credentials:
        """Fresh credentials of the role."""
        return await self._sts.assume_role(self._caller, self._role.text, self._session)

    async def close(self) -> None:
        """Let go of STS's connection."""
        await self._sts.close()


def assume_role_provider(env: Mapping[str, str]) -> Provider:
    """The provider from the AccessKey variables and ALIBABA_CLOUD_ROLE_ARN; raise ConfigError
    naming what is missing. The account is CAMS_ACCOUNT_ID, or the role's."""
    caller = Credentials.from_env(env)
    role = role_arn(env)
    if role is None:
        raise ConfigError("ALIBABA_CLOUD_ROLE_ARN", "not set")
    sts = StsClient(sts_endpoint(env))
    return Provider(
        name=f"AssumeRole as {role.text} with the environment AccessKey on {sts.endpoint.host}",
        account=account_id(env) or role.account,
        fetcher=AssumeRoleFetcher(sts, caller, role, session_name(env)),
    )
