"""Settings of the flow catalog: how fresh it is kept, the ListFlow page size, its bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.cams.client import MAX_PAGE_SIZE
from bot.config import ConfigError, env_float, env_int

# Refreshing more often than this would spend the ListFlow budget for little gain.
MIN_TTL_S = 10.0
# Each flow held costs about half a kilobyte with its search entry (bench/bench_state.py); this
# caps one space's memory at a few hundred megabytes whatever is configured.
MAX_FLOWS_LIMIT = 500_000
# Spaces whose flows are held at once, the configured ones counted (those are never dropped);
# past the bound the least recently used other is let go. The limit keeps a typo from holding
# them all.
DEFAULT_MAX_SPACES = 64
MAX_SPACES_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class CatalogSettings:
    """How the catalog of each space is kept: refreshed after `ttl` seconds, listed
    `page_size` flows per ListFlow call, cut at `max_flows` flows; at most `max_spaces` spaces
    held, the configured ones counted (and never dropped)."""

    ttl: float = 300.0
    page_size: int = 100
    max_flows: int = 50_000
    max_spaces: int = DEFAULT_MAX_SPACES

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CatalogSettings:
        """Read CATALOG_TTL_S, CATALOG_PAGE_SIZE, CATALOG_MAX_FLOWS and CATALOG_MAX_SPACES;
        raise ConfigError naming a bad one."""
        base = cls()
        ttl = env_float(env, "CATALOG_TTL_S", base.ttl)
        if ttl < MIN_TTL_S:
            raise ConfigError("CATALOG_TTL_S", f"must be at least {MIN_TTL_S:g}, got {ttl:g}")
        page_size = env_int(env, "CATALOG_PAGE_SIZE", base.page_size)
        if page_size > MAX_PAGE_SIZE:
            raise ConfigError(
                "CATALOG_PAGE_SIZE", f"must be at most {MAX_PAGE_SIZE}, got {page_size}"
            )
        max_flows = env_int(env, "CATALOG_MAX_FLOWS", base.max_flows)
        if max_flows > MAX_FLOWS_LIMIT:
            raise ConfigError(
                "CATALOG_MAX_FLOWS", f"must be at most {MAX_FLOWS_LIMIT}, got {max_flows}"
            )
        max_spaces = env_int(env, "CATALOG_MAX_SPACES", base.max_spaces)
        if max_spaces > MAX_SPACES_LIMIT:
            raise ConfigError(
                "CATALOG_MAX_SPACES", f"must be at most {MAX_SPACES_LIMIT}, got {max_spaces}"
            )
        return cls(ttl=ttl, page_size=page_size, max_flows=max_flows, max_spaces=max_spaces)
