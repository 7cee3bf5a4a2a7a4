"""Alibaba Cloud credentials for CAMS calls: a static AccessKey, or temporary credentials from
the providers of Alibaba's default chain (OIDC/RRSA, an ECS RAM role, a credentials URI,
AssumeRole), refreshed in the background.

`credential_source(env)` picks the provider; `CamsClient` asks the source for credentials at
every attempt and keys budgets and caches by `source.account`.
"""

from bot.cams.credentials.base import (
    Credentials,
    CredentialsError,
    CredentialSource,
)
from bot.cams.credentials.chain import credential_source
from bot.cams.credentials.env import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    ACCOUNT_ID,
    SECURITY_TOKEN,
)
from bot.cams.credentials.refresh import RefreshingSource
from bot.cams.credentials.static import StaticSource

__all__ = [
    "ACCESS_KEY_ID",
    "ACCESS_KEY_SECRET",
    "ACCOUNT_ID",
    "SECURITY_TOKEN",
    "CredentialSource",
    "Credentials",
    "CredentialsError",
    "RefreshingSource",
    "StaticSource",
    "credential_source",
]
