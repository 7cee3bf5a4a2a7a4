"""The default credential chain: which provider the environment asks for, decided once at start-up.

In the order of Alibaba Cloud's default chain, with its variable names:

1. ALIBABA_CLOUD_ACCESS_KEY_ID and _SECRET (and _SECURITY_TOKEN): a static AccessKey;
2. ALIBABA_CLOUD_ROLE_ARN, _OIDC_PROVIDER_ARN and _OIDC_TOKEN_FILE: OIDC / RRSA;
3. ALIBABA_CLOUD_ECS_METADATA (a role name), unless ALIBABA_CLOUD_ECS_METADATA_DISABLED: the
   instance's RAM role;
4. ALIBABA_CLOUD_CREDENTIALS_URI;
5. the AccessKey plus ALIBABA_CLOUD_ROLE_ARN (without the OIDC variables): AssumeRole.

1 and 5 share the AccessKey: beside it, ALIBABA_CLOUD_ROLE_ARN alone means "assume this role
with it", since nothing else would use that variable; with all three OIDC variables set, the
AccessKey wins, as it does in the SDKs. Unlike the SDKs, the metadata service is not probed:
ECS is chosen only when ALIBABA_CLOUD_ECS_METADATA names the role, so that start-up never waits
on an address that does not answer off ECS.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping

from bot.cams.credentials.assume_role import assume_role_provider
from bot.cams.credentials.base import CredentialSource
from bot.cams.credentials.ecs import ecs_provider
from bot.cams.credentials.env import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    CREDENTIALS_URI,
    ECS_METADATA,
    ECS_METADATA_DISABLED,
    OIDC_PROVIDER_ARN,
    OIDC_TOKEN_FILE,
    ROLE_ARN,
)
from bot.cams.credentials.oidc import oidc_provider
from bot.cams.credentials.provider import Provider
from bot.cams.credentials.refresh import Clock, RefreshingSource, Sleep
from bot.cams.credentials.static import static_source
from bot.cams.credentials.uri import uri_provider
from bot.config import ConfigError, env_flag, env_str

_OIDC = (ROLE_ARN, OIDC_PROVIDER_ARN, OIDC_TOKEN_FILE)


def credential_source(
    env: Mapping[str, str],
    *,
    clock: Clock = time.time,
    sleep: Sleep = asyncio.sleep,
    rng: Clock = random.random,
) -> CredentialSource:
    """The source the environment configures; raise ConfigError, one line naming the variables,
    when none is, or the chosen one is incomplete or wrong. Nothing is fetched yet.

    `clock`, `sleep` and `rng` drive refreshes; tests inject them.
    """
    provider = _temporary_provider(env)
    if provider is None:
        return static_source(env)
    return RefreshingSource(
        provider.fetcher,
        provider=provider.name,
        account=provider.account,
        clock=clock,
        sleep=sleep,
        rng=rng,
    )


def _temporary_provider(env: Mapping[str, str]) -> Provider | None:
    """The provider of temporary credentials chosen, or None for the static AccessKey."""
    has_key = any(env_str(env, name) for name in (ACCESS_KEY_ID, ACCESS_KEY_SECRET))
    has_role = env_str(env, ROLE_ARN) is not None
    oidc_set = [name for name in _OIDC if env_str(env, name)]
    # The provider and token variables only mean OIDC: half of it is a mistake, whatever else.
    if oidc_set and set(oidc_set) != {ROLE_ARN} and len(oidc_set) < len(_OIDC):
        missing = [name for name in _OIDC if name not in oidc_set]
        verb = "is" if len(oidc_set) == 1 else "are"
        raise ConfigError(
            " and ".join(missing), f"not set, but {' and '.join(oidc_set)} {verb} (OIDC/RRSA)"
        )
    oidc = len(oidc_set) == len(_OIDC)
    if has_key:
        return assume_role_provider(env) if has_role and not oidc else None
    if oidc:
        return oidc_provider(env)
    if has_role:
        raise ConfigError(
            ROLE_ARN,
            f"set, but nothing to assume the role with: an AccessKey ({ACCESS_KEY_ID} and "
            f"{ACCESS_KEY_SECRET}, for AssumeRole) or {OIDC_PROVIDER_ARN} and {OIDC_TOKEN_FILE} "
            "(RRSA)",
        )
    if env_str(env, ECS_METADATA) and not env_flag(env, ECS_METADATA_DISABLED):
        return ecs_provider(env)
    if env_str(env, CREDENTIALS_URI):
        return uri_provider(env)
    raise ConfigError(
        f"{ACCESS_KEY_ID} and {ACCESS_KEY_SECRET}",
        f"not set, nor any other credentials: export a RAM user's AccessKey allowed "
        f"cams:GetFlowPreviewUrl, or use a role: {ROLE_ARN} with {OIDC_PROVIDER_ARN} and "
        f"{OIDC_TOKEN_FILE} (RRSA on ACK), {ECS_METADATA} (ECS RAM role) or {CREDENTIALS_URI}",
    )
