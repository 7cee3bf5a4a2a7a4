"""ACCESS_DEFAULT, ADMIN_USERS and ACCESS_CACHE_S, read once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.access.policy import AccessDefault
from bot.access.snapshot import RuleSnapshot
from bot.config import ConfigError, env_float, env_str
from bot.ids import SLACK_USER_GROUP_ID, SLACK_USER_ID

DEFAULT_CACHE_S = 10.0
# Beyond an hour a change would take too long to reach the other replicas to be of use.
MAX_CACHE_S = 3600.0
# Each user group named costs a Slack call per lookup; a list longer than this is a mistake.
MAX_ADMIN_USERS = 1000
_ECHO = 70


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """What a space without rules admits, who administers the bot, and how stale a replica's
    copy of the rules may be (seconds)."""

    default: AccessDefault = AccessDefault.OPEN
    # Slack user IDs (U..., W...) and user group IDs (S...), as ADMIN_USERS lists them.
    admin_users: frozenset[str] = frozenset()
    cache_s: float = DEFAULT_CACHE_S

    @property
    def admin_groups(self) -> frozenset[str]:
        """The user groups among `admin_users`, whose members are admins too."""
        return frozenset(name for name in self.admin_users if SLACK_USER_GROUP_ID.fullmatch(name))

    def groups_that_matter(self, book_snapshot: RuleSnapshot) -> frozenset[str]:
        """The user groups worth asking Slack about: those a rule or ADMIN_USERS names."""
        return book_snapshot.groups_named() | self.admin_groups

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AccessSettings:
        """Read the settings; raise ConfigError naming the variable that is wrong."""
        raw_default = (env_str(env, "ACCESS_DEFAULT") or AccessDefault.OPEN.value).lower()
        if raw_default not in {member.value for member in AccessDefault}:
            raise ConfigError(
                "ACCESS_DEFAULT", f"must be open or closed, got {raw_default[:_ECHO]!r}"
            )
        cache_s = env_float(env, "ACCESS_CACHE_S", DEFAULT_CACHE_S)
        if cache_s > MAX_CACHE_S:
            raise ConfigError("ACCESS_CACHE_S", f"must be at most {MAX_CACHE_S:g} seconds")
        return cls(AccessDefault(raw_default), _admin_users(env_str(env, "ADMIN_USERS")), cache_s)


def _admin_users(raw: str | None) -> frozenset[str]:
    if raw is None:
        return frozenset()
    entries = [entry.strip() for entry in raw.split(",")]
    if len(entries) > MAX_ADMIN_USERS:
        raise ConfigError("ADMIN_USERS", f"names {len(entries)} IDs; at most {MAX_ADMIN_USERS}")
    for entry in entries:
        if not entry:
            raise ConfigError("ADMIN_USERS", "has an empty entry (two commas, or one at an end)")
        if not (SLACK_USER_ID.fullmatch(entry) or SLACK_USER_GROUP_ID.fullmatch(entry)):
            raise ConfigError(
                "ADMIN_USERS",
                f"{entry[:_ECHO]!r} is not a Slack user ID (U..., W...) or user group ID (S...)",
            )
    return frozenset(entries)
