"""Alibaba Cloud credentials that never show themselves in a log, a message or a repr, and the
source every CAMS call asks for them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.cams.credentials.env import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN
from bot.config import ConfigError, Secret, env_str
from bot.errors import FlowpreviewError


@dataclass(frozen=True, slots=True)
class Credentials:
    """An AccessKey pair, optionally with an STS security token.

    `expires_at` is when temporary credentials stop working (Unix time); None when no expiry
    is known, as for a RAM user's AccessKey.
    """

    access_key_id: str
    access_key_secret: Secret
    security_token: Secret | None = None
    expires_at: float | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        """Read the standard ALIBABA_CLOUD_* variables; raise ConfigError naming what is missing."""
        key_id = env_str(env, ACCESS_KEY_ID)
        secret = env_str(env, ACCESS_KEY_SECRET)
        pairs = ((ACCESS_KEY_ID, key_id), (ACCESS_KEY_SECRET, secret))
        missing = [name for name, value in pairs if value is None]
        if key_id is None or secret is None:
            raise ConfigError(
                " and ".join(missing),
                "not set; export a RAM user's AccessKey that is allowed cams:GetFlowPreviewUrl",
            )
        token = env_str(env, SECURITY_TOKEN)
        return cls(key_id, Secret(secret), Secret(token) if token else None)


class CredentialsError(FlowpreviewError):
    """No usable credentials could be had; the message says why and never holds a secret."""


class CredentialSource(Protocol):
    """Where a CAMS client gets the credentials that sign each attempt."""

    @property
    def provider(self) -> str:
        """Which provider of the chain this is, for the start-up log; never a secret."""

    @property
    def account(self) -> str:
        """The Alibaba Cloud account the calls are made for: the key of budgets and caches.

        Stable for the source's life, even while temporary AccessKey IDs change.
        """

    async def current(self) -> Credentials:
        """Credentials to sign with now. Never waits because a refresh is due; raises
        CredentialsError only when no usable credentials can be had in bounded time."""

    def expires_at(self) -> float | None:
        """When the credentials in hand expire (Unix time); None when they do not."""

    def start(self) -> None:
        """Begin fetching and refreshing in the background, before the first ask needs them
        (called once the event loop runs); a source that fetches nothing does nothing."""

    async def close(self) -> None:
        """Stop refreshing and let go of connections."""


def parse_expiration(text: object, what: str) -> float:
    """An `Expiration` as Alibaba writes it (ISO 8601, UTC: 2025-01-31T12:00:00Z) as Unix time."""
    if not isinstance(text, str):
        raise CredentialsError(f"{what} answered without an Expiration")
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise CredentialsError(f"{what} answered an Expiration that is not a time") from None
    # Alibaba's are UTC, with or without the Z.
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def temporary_credentials(fields: Mapping[str, object], what: str) -> Credentials:
    """Read AccessKeyId, AccessKeySecret, SecurityToken and Expiration: the shape shared by STS,
    the instance metadata service and credentials URIs. Errors name fields, never values."""
    names = ("AccessKeyId", "AccessKeySecret", "SecurityToken")
    values = [fields.get(name) for name in names]
    missing = [
        name
        for name, value in zip(names, values, strict=True)
        if not (isinstance(value, str) and value)
    ]
    if missing:
        raise CredentialsError(f"{what} answered without {', '.join(missing)}")
    key_id, secret, token = (str(value) for value in values)
    return Credentials(
        key_id, Secret(secret), Secret(token), parse_expiration(fields.get("Expiration"), what)
    )


def success_answer_credentials(status: int, body: bytes | str, what: str) -> Credentials:
    """The credentials in an HTTP answer shaped `{"Code": "Success", "AccessKeyId", ...}`, as
    the ECS metadata service and a credentials URI send them; CredentialsError otherwise.
    `what` names the source in the error."""
    if status != 200:
        raise CredentialsError(f"{what} answered HTTP {status}")
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise CredentialsError(f"{what} answered without JSON")
    if document.get("Code") != "Success":
        raise CredentialsError(f"{what} answered Code {str(document.get('Code'))[:40]!r}")
    return temporary_credentials(document, what)
