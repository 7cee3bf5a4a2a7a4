"""Settings of the preview service: the account's call budget and the cache."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import ConfigError, env_float, env_int
from bot.preview.cache import MAX_NEGATIVE_TTL_S
from bot.preview.limiter import LimiterSettings


@dataclass(frozen=True, slots=True)
class PreviewSettings:
    """Budget and cache sizes, read from CAMS_* variables."""

    limiter: LimiterSettings
    cache_size: int = 10_000
    negative_ttl: float = MAX_NEGATIVE_TTL_S

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PreviewSettings:
        """Read the budget and cache variables; raise ConfigError naming the first bad one."""
        base = LimiterSettings()
        limiter = LimiterSettings(
            rate=env_int(env, "CAMS_QPS", base.rate),
            margin=env_float(env, "CAMS_RATE_MARGIN_S", base.margin, allow_zero=True),
            max_wait=env_float(env, "CAMS_MAX_WAIT_S", base.max_wait, allow_zero=True),
            cooldown=env_float(env, "CAMS_THROTTLE_COOLDOWN_S", base.cooldown, allow_zero=True),
        )
        negative_ttl = env_float(env, "CAMS_NEGATIVE_TTL_S", MAX_NEGATIVE_TTL_S, allow_zero=True)
        if negative_ttl > MAX_NEGATIVE_TTL_S:
            raise ConfigError("CAMS_NEGATIVE_TTL_S", f"must be at most {MAX_NEGATIVE_TTL_S:g}")
        return cls(
            limiter=limiter,
            cache_size=env_int(env, "CAMS_CACHE_SIZE", 10_000),
            negative_ttl=negative_ttl,
        )
