"""Settings of the preview service: the account's call budgets, the caches, and Redis."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.cams.actions import Action
from bot.config import ConfigError, env_float, env_int, env_str
from bot.preview.cache import MAX_NEGATIVE_TTL_S
from bot.preview.catalog_settings import CatalogSettings
from bot.preview.limiter import LimiterSettings

REDIS_SCHEMES = ("redis", "rediss", "unix")


def rate_variable(action: Action) -> str:
    """The variable that sets `action`'s own calls per second, e.g. CAMS_QPS_LISTFLOW."""
    return f"CAMS_QPS_{action.value.upper()}"


@dataclass(frozen=True, slots=True)
class PreviewSettings:
    """Budgets, cache size, and the Redis shared by `replicas` replicas (None: no sharing).

    Each action has a budget of its own, as Alibaba counts each action's calls apart: `limiter`,
    with the action's own rate when `rates` gives it one.
    """

    limiter: LimiterSettings
    cache_size: int = 10_000
    negative_ttl: float = MAX_NEGATIVE_TTL_S
    redis_url: str | None = None
    replicas: int = 2
    rates: tuple[tuple[Action, int], ...] = ()
    catalog: CatalogSettings = field(default_factory=CatalogSettings)

    def limiter_for(self, action: Action) -> LimiterSettings:
        """The budget of `action`'s calls: `limiter` with that action's own rate, if it has one."""
        rate = dict(self.rates).get(action, self.limiter.rate)
        return dataclasses.replace(self.limiter, rate=rate)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PreviewSettings:
        """Read the budget, cache and Redis variables; raise ConfigError naming a bad one.

        CAMS_QPS is every action's rate; CAMS_QPS_<ACTION> (rate_variable) overrides it.
        """
        base = LimiterSettings()
        limiter = LimiterSettings(
            rate=env_int(env, "CAMS_QPS", base.rate),
            margin=env_float(env, "CAMS_RATE_MARGIN_S", base.margin, allow_zero=True),
            max_wait=env_float(env, "CAMS_MAX_WAIT_S", base.max_wait, allow_zero=True),
            cooldown=env_float(env, "CAMS_THROTTLE_COOLDOWN_S", base.cooldown, allow_zero=True),
            max_cooldown=env_float(env, "CAMS_MAX_COOLDOWN_S", base.max_cooldown),
        )
        if limiter.cooldown > limiter.max_cooldown:
            raise ConfigError(
                "CAMS_THROTTLE_COOLDOWN_S",
                f"must be at most CAMS_MAX_COOLDOWN_S ({limiter.max_cooldown:g})",
            )
        negative_ttl = env_float(env, "CAMS_NEGATIVE_TTL_S", MAX_NEGATIVE_TTL_S, allow_zero=True)
        if negative_ttl > MAX_NEGATIVE_TTL_S:
            raise ConfigError("CAMS_NEGATIVE_TTL_S", f"must be at most {MAX_NEGATIVE_TTL_S:g}")
        rates = tuple(
            (action, env_int(env, rate_variable(action), limiter.rate)) for action in Action
        )
        return cls(
            limiter=limiter,
            rates=rates,
            catalog=CatalogSettings.from_env(env),
            cache_size=env_int(env, "CAMS_CACHE_SIZE", 10_000),
            negative_ttl=negative_ttl,
            redis_url=_redis_url(env_str(env, "REDIS_URL")),
            replicas=env_int(env, "CAMS_REPLICAS", 2),
        )


def _redis_url(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        # Imported here because Redis support is an optional extra.
        from redis.connection import parse_url  # noqa: PLC0415
    except ImportError:
        raise ConfigError(
            "REDIS_URL",
            "is set, but Redis support is not installed: pip install 'flowpreview[redis]'",
        ) from None
    scheme = value.partition("://")[0]
    if scheme not in REDIS_SCHEMES:
        raise ConfigError(
            "REDIS_URL", f"must start with {', '.join(s + '://' for s in REDIS_SCHEMES)}"
        )
    try:
        parse_url(value)  # type: ignore[no-untyped-call]  # untyped in redis-py
    except ValueError as exc:
        raise ConfigError("REDIS_URL", f"cannot be read: {exc}") from None
    return value
