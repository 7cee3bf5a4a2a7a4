"""An immutable copy of the rules, channel spaces and workspace bindings, as deciding reads them."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.access.ids import Kind, SpaceKeys


@dataclass(frozen=True, slots=True)
class Rule:
    """One allow rule: `subject` (a channel, user or user group, as `kind` says) may preview
    the flows of `space_id`."""

    space_id: str
    kind: Kind
    subject: str


@dataclass(frozen=True, slots=True)
class SpaceRules:
    """A space's allow list, by kind; empty when the space has no rules."""

    channels: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    usergroups: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.channels) + len(self.users) + len(self.usergroups)

    def match(
        self, channel_id: str, user_id: str, groups: frozenset[str]
    ) -> tuple[Kind, str] | None:
        """The first rule that admits someone asking in `channel_id` (channel rules first, then
        user, then user group rules), as its kind and subject; None when none does."""
        if channel_id in self.channels:
            return Kind.CHANNEL, channel_id
        if user_id in self.users:
            return Kind.USER, user_id
        common = groups & self.usergroups
        # The smallest, so that the same person is always admitted by the same rule.
        return (Kind.USERGROUP, min(common)) if common else None


NO_RULES = SpaceRules()


class RuleSnapshot:
    """The rules and settings as they were read at one moment; never changes."""

    __slots__ = ("_bound", "_channel_spaces", "_groups", "_keys", "_spaces")

    def __init__(
        self,
        rules: Iterable[Rule] = (),
        channel_spaces: Mapping[tuple[str, str], str] | None = None,
        bindings: Iterable[tuple[str, str]] = (),
    ) -> None:
        """`channel_spaces` maps (team, channel) to a space; `bindings` are (team, space) pairs.

        Teams and spaces are kept as the one string Python interns for each: read from the
        database, every row brings its own copy of a team or space that thousands of rows may
        name. Channels, users and groups are left as they are: most are named once, and an
        interned string costs a place in Python's table besides.
        """
        intern = sys.intern
        by_space: defaultdict[str, dict[Kind, set[str]]] = defaultdict(
            lambda: {kind: set() for kind in Kind}
        )
        for rule in rules:
            by_space[intern(rule.space_id)][rule.kind].add(rule.subject)
        self._spaces = {
            space: SpaceRules(
                frozenset(kinds[Kind.CHANNEL]),
                frozenset(kinds[Kind.USER]),
                frozenset(kinds[Kind.USERGROUP]),
            )
            for space, kinds in by_space.items()
        }
        self._groups = frozenset(
            group for space in self._spaces.values() for group in space.usergroups
        )
        self._channel_spaces = {
            (intern(team), channel): intern(space)
            for (team, channel), space in (channel_spaces or {}).items()
        }
        bound: defaultdict[str, set[str]] = defaultdict(set)
        for team, space in bindings:
            bound[intern(team)].add(intern(space))
        self._bound = {team: frozenset(spaces) for team, spaces in bound.items()}
        self._keys = SpaceKeys(
            (*self._spaces, *self._channel_spaces.values(), *(s for b in bound.values() for s in b))
        )

    def rules_for(self, space_id: str) -> SpaceRules:
        """The allow list of `space_id` (empty when it has none)."""
        return self._spaces.get(space_id, NO_RULES)

    def channel_space(self, team_id: str, channel_id: str) -> str | None:
        """The space a channel's commands use when they name none, if one was set for it."""
        return self._channel_spaces.get((team_id, channel_id))

    def channel_spaces(self, team_id: str) -> list[tuple[str, str]]:
        """Every channel of `team_id` with a space of its own, and that space, by channel."""
        return sorted(
            (channel, space)
            for (team, channel), space in self._channel_spaces.items()
            if team == team_id
        )

    def bound(self, team_id: str) -> frozenset[str]:
        """The spaces `team_id` may use in multi-workspace mode (none when it has no binding)."""
        return self._bound.get(team_id, frozenset())

    def look_alike(self, space_id: str) -> str | None:
        """A space some rule, channel or binding names that `space_id` differs from only in
        case or '_' versus '-'; None when there is none, or `space_id` is itself named."""
        return self._keys.look_alike(space_id)

    def groups_named(self) -> frozenset[str]:
        """Every user group some rule names: the groups worth asking Slack about."""
        return self._groups
