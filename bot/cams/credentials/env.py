"""The variables of Alibaba Cloud's default credential chain, named as its SDKs name them, and the
checks on their values that every provider shares."""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import ConfigError, env_str

ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 - a variable name
SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105 - a variable name
ROLE_ARN = "ALIBABA_CLOUD_ROLE_ARN"
ROLE_SESSION_NAME = "ALIBABA_CLOUD_ROLE_SESSION_NAME"
OIDC_PROVIDER_ARN = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
OIDC_TOKEN_FILE = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"  # noqa: S105 - a variable name
ECS_METADATA = "ALIBABA_CLOUD_ECS_METADATA"
ECS_METADATA_DISABLED = "ALIBABA_CLOUD_ECS_METADATA_DISABLED"
IMDSV1_DISABLED = "ALIBABA_CLOUD_IMDSV1_DISABLED"
CREDENTIALS_URI = "ALIBABA_CLOUD_CREDENTIALS_URI"
STS_ENDPOINT = "ALIBABA_CLOUD_STS_ENDPOINT"
STS_REGION = "ALIBABA_CLOUD_STS_REGION"
VPC_ENDPOINT_ENABLED = "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"
# Ours, not the SDKs': the stable identity that budgets and caches are keyed by.
ACCOUNT_ID = "CAMS_ACCOUNT_ID"

# acs:ram::<uid>:role/<name>; the uid is the account the role, and so every call made as it,
# belongs to.
_ROLE_ARN = re.compile(r"acs:ram::(?P<account>[0-9]+):role/(?P<name>[^\s:]+)")
_OIDC_PROVIDER_ARN = re.compile(r"acs:ram::[0-9]+:oidc-provider/[^\s:]+")
# STS's own rule for RoleSessionName.
_SESSION_NAME = re.compile(r"[A-Za-z0-9.@_-]{2,64}")
_SESSION_PREFIX = "flowpreview-"
# It ends up in Redis keys and metric-free log lines: plain, bounded text only.
_ACCOUNT = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True, slots=True)
class RoleArn:
    """A RAM role's ARN and the account (uid) that owns it."""

    text: str
    account: str


def role_arn(env: Mapping[str, str]) -> RoleArn | None:
    """ALIBABA_CLOUD_ROLE_ARN, checked, or None when unset."""
    raw = env_str(env, ROLE_ARN)
    if raw is None:
        return None
    match = _ROLE_ARN.fullmatch(raw)
    if match is None:
        raise ConfigError(ROLE_ARN, "expected a RAM role ARN, acs:ram::<account uid>:role/<name>")
    return RoleArn(raw, match["account"])


def oidc_provider_arn(env: Mapping[str, str]) -> str:
    """ALIBABA_CLOUD_OIDC_PROVIDER_ARN, checked; the caller knows it is set."""
    raw = env_str(env, OIDC_PROVIDER_ARN) or ""
    if _OIDC_PROVIDER_ARN.fullmatch(raw) is None:
        raise ConfigError(
            OIDC_PROVIDER_ARN,
            "expected an OIDC provider ARN, acs:ram::<account uid>:oidc-provider/<name>",
        )
    return raw


def session_name(env: Mapping[str, str], host: str | None = None) -> str:
    """ALIBABA_CLOUD_ROLE_SESSION_NAME, or `flowpreview-<host name>`: what ActionTrail shows as
    the session that made each call, so that a replica's calls can be told apart."""
    raw = env_str(env, ROLE_SESSION_NAME)
    if raw is not None:
        if _SESSION_NAME.fullmatch(raw) is None:
            raise ConfigError(
                ROLE_SESSION_NAME, "must be 2-64 letters, digits or . @ _ - (STS's rule)"
            )
        return raw
    host = host if host is not None else socket.gethostname()
    cleaned = re.sub(r"[^A-Za-z0-9.@_-]", "-", host) or "host"
    return (_SESSION_PREFIX + cleaned)[:64]


def account_id(env: Mapping[str, str]) -> str | None:
    """CAMS_ACCOUNT_ID, checked, or None when unset."""
    raw = env_str(env, ACCOUNT_ID)
    if raw is not None and _ACCOUNT.fullmatch(raw) is None:
        raise ConfigError(
            ACCOUNT_ID, "must be 1-64 letters, digits, . _ or - (the Alibaba Cloud account ID)"
        )
    return raw
