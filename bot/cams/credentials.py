"""Alibaba Cloud credentials that never show themselves in a log, a message or a repr."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import ConfigError, Secret, env_str

ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 - a variable name
SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105 - a variable name


@dataclass(frozen=True, slots=True)
class Credentials:
    """An AccessKey pair, optionally with an STS security token."""

    access_key_id: str
    access_key_secret: Secret
    security_token: Secret | None = None

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
