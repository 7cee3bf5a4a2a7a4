"""Provider 3 of the chain: the RAM role of an ECS instance or ECI container, from the instance
metadata service, with IMDSv2 session tokens.

Each refresh first asks for a session token (`PUT /latest/api/token`) and sends it with the
credentials request. A metadata service that gives no token is asked without one (IMDSv1),
unless ALIBABA_CLOUD_IMDSV1_DISABLED is true.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import quote

from yarl import URL

from bot.cams.credentials.base import Credentials, CredentialsError, success_answer_credentials
from bot.cams.credentials.env import (
    ACCOUNT_ID,
    ECS_METADATA,
    IMDSV1_DISABLED,
    account_id,
)
from bot.cams.credentials.http import HttpLink
from bot.cams.credentials.provider import Provider
from bot.config import ConfigError, env_flag, env_str

log = logging.getLogger(__name__)

METADATA_URL = "http://100.100.100.200"
TOKEN_PATH = "/latest/api/token"  # noqa: S105 - a path
CREDENTIALS_PATH = "/latest/meta-data/ram/security-credentials/"
TOKEN_TTL_HEADER = "X-aliyun-ecs-metadata-token-ttl-seconds"  # noqa: S105 - a header name
TOKEN_HEADER = "X-aliyun-ecs-metadata-token"  # noqa: S105 - a header name
# The longest a token may live: one token per refresh, and refreshes are hours apart.
TOKEN_TTL_S = 21600
# The service is on the instance's own link: an answer takes milliseconds or never comes.
CONNECT_TIMEOUT_S = 1.0
TIMEOUT_S = 5.0


class EcsFetcher:
    """Gets `role`'s credentials from the metadata service at `metadata_url`.

    `metadata_url` is the service's fixed address; only tests point it elsewhere.
    """

    def __init__(
        self, role: str, *, imdsv1_disabled: bool, metadata_url: str = METADATA_URL
    ) -> None:
        self._role = role
        self._imdsv1_disabled = imdsv1_disabled
        self._base = metadata_url.rstrip("/")
        self._http = HttpLink(connect_timeout=CONNECT_TIMEOUT_S, timeout=TIMEOUT_S)

    async def fetch(self) -> Credentials:
        """Fresh credentials of the instance's role."""
        token = await self._token()
        headers = {TOKEN_HEADER: token} if token is not None else {}
        url = URL(self._base + CREDENTIALS_PATH + quote(self._role, safe=""), encoded=True)
        answer = await self._http.call("GET", url, "the ECS metadata service", headers=headers)
        if answer.status == 404:
            raise CredentialsError(
                f"the ECS metadata service knows no role {self._role!r} ({ECS_METADATA}): is "
                "it the RAM role attached to this instance?"
            )
        return success_answer_credentials(answer.status, answer.body, "the ECS metadata service")

    async def _token(self) -> str | None:
        """A session token, or None to go on without one (IMDSv1) where that is allowed."""
        try:
            answer = await self._http.call(
                "PUT",
                URL(self._base + TOKEN_PATH),
                "the ECS metadata service (IMDSv2 token)",
                headers={TOKEN_TTL_HEADER: str(TOKEN_TTL_S)},
            )
        except CredentialsError as error:
            problem = str(error)
        else:
            token = answer.body.decode("ascii", "replace").strip()
            if answer.status == 200 and token:
                return token
            problem = f"the ECS metadata service gave no IMDSv2 token (HTTP {answer.status})"
        if self._imdsv1_disabled:
            raise CredentialsError(f"{problem}; {IMDSV1_DISABLED} forbids IMDSv1")
        log.debug("%s; asking without a token (IMDSv1)", problem)
        return None

    async def close(self) -> None:
        """Let go of the connection."""
        await self._http.close()


def ecs_provider(env: Mapping[str, str], *, metadata_url: str = METADATA_URL) -> Provider:
    """The provider for the role named by ALIBABA_CLOUD_ECS_METADATA.

    CAMS_ACCOUNT_ID is required: the environment does not hold the role's account, and the
    temporary AccessKey IDs change at every refresh, so there is nothing else stable to key
    budgets and caches by.
    """
    role = env_str(env, ECS_METADATA)
    if role is None:
        raise ConfigError(ECS_METADATA, "not set; the name of the instance's RAM role")
    account = account_id(env)
    if account is None:
        raise ConfigError(
            ACCOUNT_ID,
            f"required with {ECS_METADATA}: set it to the Alibaba Cloud account ID (UID) the "
            "role belongs to, the key of the account's CAMS budget and cache",
        )
    fetcher = EcsFetcher(
        role, imdsv1_disabled=env_flag(env, IMDSV1_DISABLED), metadata_url=metadata_url
    )
    return Provider(
        name=f"ECS RAM role {role} (instance metadata)", account=account, fetcher=fetcher
    )
