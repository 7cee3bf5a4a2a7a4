"""Checking the IDs the rules name: Slack channels, users, user groups and teams, and CAMS
spaces (their shapes are in bot.ids)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from bot.access.errors import RuleError, RuleErrorKind
from bot.ids import (
    SLACK_CHANNEL_ID,
    SLACK_TEAM_ID,
    SLACK_USER_GROUP_ID,
    SLACK_USER_ID,
    SPACE_ID,
    space_key,
)


class Kind(StrEnum):
    """What an allow rule names."""

    CHANNEL = "channel"
    USER = "user"
    USERGROUP = "usergroup"


_SUBJECTS = {
    Kind.CHANNEL: (SLACK_CHANNEL_ID, "a Slack channel ID (C..., G... or D...)"),
    Kind.USER: (SLACK_USER_ID, "a Slack user ID (U... or W...)"),
    Kind.USERGROUP: (SLACK_USER_GROUP_ID, "a Slack user group ID (S...)"),
}
# Echoed values are cut short: they may be anything someone typed.
_ECHO = 70


def check_subject(kind: Kind, subject: str) -> str:
    """`subject` when it is an ID of what `kind` names; RuleError (invalid) otherwise."""
    pattern, what = _SUBJECTS[kind]
    return _check(pattern, subject, what)


def check_team(team_id: str) -> str:
    """`team_id` when it is a Slack team ID; RuleError (invalid) otherwise."""
    return _check(SLACK_TEAM_ID, team_id, "a Slack team ID (T...)")


def check_space(space_id: str) -> str:
    """`space_id` when the command's `space:` would take it; RuleError (invalid) otherwise."""
    return _check(SPACE_ID, space_id, "a space ID (1-64 letters, digits, '_' or '-')")


class SpaceKeys:
    """Spaces by what they look like once case and '_' versus '-' are set aside, to find the
    look-alikes of a space at once."""

    __slots__ = ("_keys",)

    def __init__(self, spaces: Iterable[str]) -> None:
        keys: dict[str, set[str]] = {}
        for space in set(spaces):
            keys.setdefault(space_key(space), set()).add(space)
        self._keys = {key: frozenset(spellings) for key, spellings in keys.items()}

    def look_alike(self, space_id: str) -> str | None:
        """A space held that `space_id` differs from only in case or '_' versus '-'; None when
        there is none, or `space_id` is itself held."""
        spellings = self._keys.get(space_key(space_id))
        if not spellings or space_id in spellings:
            return None
        return min(spellings)


def look_alike_error(space_id: str, known: str) -> RuleError:
    """The refusal of a space ID that is a look-alike of the known space `known`."""
    return RuleError(
        RuleErrorKind.LOOK_ALIKE,
        f"{space_id[:_ECHO]!r} is not {known!r}: space IDs are written exactly as CAMS gives "
        "them, letter case, '-' and '_' included",
    )


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise RuleError(RuleErrorKind.INVALID, f"{value[:_ECHO]!r} is not {what}")
    return value
