"""STS (Security Token Service, API version 2015-04-01) on aiohttp: AssumeRole, signed with an
AccessKey, and AssumeRoleWithOIDC, which is anonymous.

Calls go out as CAMS calls do, ACS3-HMAC-SHA256 with the action and version in x-acs-* headers,
but with the parameters in a form body rather than the query, so that an OIDC token never shows
in a URL a proxy might log.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from yarl import URL

from bot.cams import signing
from bot.cams.credentials.base import Credentials, CredentialsError, temporary_credentials
from bot.cams.credentials.env import STS_ENDPOINT, STS_REGION, VPC_ENDPOINT_ENABLED
from bot.cams.credentials.http import HttpLink
from bot.config import ConfigError, Endpoint, env_flag, env_str

STS_VERSION = "2015-04-01"
DEFAULT_STS_HOST = "sts.aliyuncs.com"
# What the SDKs ask for: a role's maximum session is at least an hour, so this always works.
DURATION_S = 3600
CONNECT_TIMEOUT_S = 5.0
TIMEOUT_S = 10.0
_REGION = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# Enough of STS's own message to act on, bounded.
MAX_MESSAGE_CHARS = 300


def sts_endpoint(env: Mapping[str, str]) -> Endpoint:
    """Where STS is, as Alibaba's SDKs decide it.

    ALIBABA_CLOUD_STS_ENDPOINT (a host or URL; plain http only for loopback) wins; otherwise
    `sts.<region>.aliyuncs.com` with ALIBABA_CLOUD_STS_REGION, or `sts-vpc.<region>...` when
    ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED is true too; otherwise the central sts.aliyuncs.com.
    """
    override = env_str(env, STS_ENDPOINT)
    vpc = env_flag(env, VPC_ENDPOINT_ENABLED)
    if override is not None:
        try:
            return Endpoint.parse(override)
        except ValueError as exc:
            raise ConfigError(STS_ENDPOINT, str(exc)) from None
    region = env_str(env, STS_REGION)
    if region is None:
        if vpc:
            # The SDKs quietly fall back to the public endpoint, which a VPC-only network
            # cannot reach; better said at start-up than found at the first refresh.
            raise ConfigError(
                VPC_ENDPOINT_ENABLED,
                f"needs {STS_REGION}: the VPC endpoint is sts-vpc.<region>.aliyuncs.com",
            )
        return Endpoint.parse(DEFAULT_STS_HOST)
    if _REGION.fullmatch(region) is None:
        raise ConfigError(STS_REGION, f"expected a region ID such as cn-hangzhou, got {region!r}")
    return Endpoint.parse(f"{'sts-vpc' if vpc else 'sts'}.{region}.aliyuncs.com")


class StsError(CredentialsError):
    """STS answered with an error: its Code and RequestId, for support tickets."""

    def __init__(self, action: str, code: str, message: str, request_id: str | None) -> None:
        suffix = f" (RequestId {request_id})" if request_id else ""
        super().__init__(f"STS {action} failed: {code}: {message}{suffix}")
        self.code = code
        self.request_id = request_id


class StsClient:
    """Calls STS at `endpoint`; `wall_clock` dates the signatures (tests pin it)."""

    def __init__(self, endpoint: Endpoint, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.endpoint = endpoint
        self._wall_clock = wall_clock
        self._http = HttpLink(connect_timeout=CONNECT_TIMEOUT_S, timeout=TIMEOUT_S)

    async def assume_role(
        self, caller: Credentials, role_arn: str, session_name: str, duration: int = DURATION_S
    ) -> Credentials:
        """Temporary credentials of `role_arn`, asked for with `caller`'s AccessKey."""
        params = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": str(duration),
        }
        return await self._call("AssumeRole", params, caller)

    async def assume_role_with_oidc(
        self,
        role_arn: str,
        provider_arn: str,
        token: str,
        session_name: str,
        duration: int = DURATION_S,
    ) -> Credentials:
        """Temporary credentials of `role_arn` for an OIDC token of `provider_arn`; no AccessKey
        is needed, the token is the proof."""
        params = {
            "RoleArn": role_arn,
            "OIDCProviderArn": provider_arn,
            "OIDCToken": token,
            "RoleSessionName": session_name,
            "DurationSeconds": str(duration),
        }
        return await self._call("AssumeRoleWithOIDC", params, None)

    async def close(self) -> None:
        """Let go of the connection."""
        await self._http.close()

    async def _call(
        self, action: str, params: Mapping[str, str], caller: Credentials | None
    ) -> Credentials:
        body = signing.canonical_query(params).encode()
        what = f"STS at {self.endpoint.host}"
        answer = await self._http.call(
            "POST",
            URL(f"{self.endpoint.base_url}/"),
            what,
            headers=self._headers(action, body, caller),
            body=body,
        )
        try:
            document = json.loads(answer.body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise CredentialsError(f"{what} answered HTTP {answer.status} without JSON")
        if answer.status != 200:
            raise StsError(
                action,
                _text(document.get("Code")) or f"HTTP {answer.status}",
                _text(document.get("Message")) or "no message",
                _text(document.get("RequestId")) or None,
            )
        fields = document.get("Credentials")
        if not isinstance(fields, dict):
            raise CredentialsError(f"{what} answered {action} without Credentials")
        return temporary_credentials(fields, what)

    def _headers(self, action: str, body: bytes, caller: Credentials | None) -> dict[str, str]:
        signed = {
            "host": self.endpoint.host_header,
            "content-type": "application/x-www-form-urlencoded",
            "x-acs-action": action,
            "x-acs-version": STS_VERSION,
            "x-acs-date": datetime.fromtimestamp(self._wall_clock(), UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "x-acs-signature-nonce": secrets.token_hex(16),
            "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
        }
        if caller is None:
            return {**signed, "Accept": "application/json"}
        if caller.security_token is not None:
            signed["x-acs-security-token"] = caller.security_token.reveal()
        authorization = signing.authorization(
            access_key_id=caller.access_key_id,
            secret=caller.access_key_secret.reveal(),
            method="POST",
            path="/",
            query="",
            headers=signed,
            body_sha256=signed["x-acs-content-sha256"],
        )
        return {**signed, "Authorization": authorization, "Accept": "application/json"}


def _text(value: object) -> str:
    """A field of STS's error answer as one bounded, printable line."""
    if not isinstance(value, str):
        return ""
    line = "".join(ch if ch.isprintable() else " " for ch in value).strip()
    return line[:MAX_MESSAGE_CHARS]
