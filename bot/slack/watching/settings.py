"""WATCH_POLL_S, WATCH_MAX_QPS and the bounds on watches, read once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import ConfigError, env_float, env_int

DEFAULT_POLL_S = 900.0
# Polls never go faster than WATCH_MAX_QPS whatever this says; a short one suits a demo.
MIN_POLL_S = 1.0
MAX_POLL_S = 86_400.0
DEFAULT_MAX_QPS = 1.0
# GetFlow allows 5 calls a second per account: polls may take at most 4, leaving people one.
MAX_QPS = 4.0
DEFAULT_PER_CHANNEL = 200
DEFAULT_TOTAL = 5000
MAX_TOTAL = 100_000


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """How often watched flows are polled, how fast, and how many watches there may be."""

    poll_s: float = DEFAULT_POLL_S
    max_qps: float = DEFAULT_MAX_QPS
    per_channel: int = DEFAULT_PER_CHANNEL
    total: int = DEFAULT_TOTAL

    def cycle_s(self, flows: int) -> float:
        """How long a cycle over `flows` watched flows takes at least: the poll interval, or
        flows ÷ WATCH_MAX_QPS seconds when that is longer."""
        return max(self.poll_s, flows / self.max_qps)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WatchSettings:
        """Read the settings; raise ConfigError naming the variable that is wrong."""
        poll_s = env_float(env, "WATCH_POLL_S", DEFAULT_POLL_S)
        if not MIN_POLL_S <= poll_s <= MAX_POLL_S:
            raise ConfigError(
                "WATCH_POLL_S", f"must be {MIN_POLL_S:g} to {MAX_POLL_S:g} seconds, got {poll_s:g}"
            )
        max_qps = env_float(env, "WATCH_MAX_QPS", DEFAULT_MAX_QPS)
        if max_qps > MAX_QPS:
            raise ConfigError(
                "WATCH_MAX_QPS",
                f"must be at most {MAX_QPS:g}: GetFlow allows 5 calls a second, and people "
                "need some",
            )
        per_channel = env_int(env, "WATCH_MAX_PER_CHANNEL", DEFAULT_PER_CHANNEL)
        total = env_int(env, "WATCH_MAX_TOTAL", DEFAULT_TOTAL)
        if total > MAX_TOTAL:
            raise ConfigError("WATCH_MAX_TOTAL", f"must be at most {MAX_TOTAL}")
        if per_channel > total:
            raise ConfigError("WATCH_MAX_PER_CHANNEL", "must be at most WATCH_MAX_TOTAL")
        return cls(poll_s, max_qps, per_channel, total)
