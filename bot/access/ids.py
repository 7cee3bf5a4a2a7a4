"""The IDs the rules name: Slack channels, users, user groups and teams, and CAMS spaces."""

from __future__ import annotations

import re
from enum import StrEnum

from bot.access.errors import RuleError, RuleErrorKind
from bot.preview.spaces import SPACE_ID


class Kind(StrEnum):
    """What an allow rule names."""

    CHANNEL = "channel"
    USER = "user"
    USERGROUP = "usergroup"


# A Slack ID is a letter telling what it names, then upper-case letters and digits. Slack
# promises no length; the columns hold 64 characters.
_REST = "[A-Z0-9]{1,63}"
CHANNEL_ID = re.compile(f"[CGD]{_REST}")
USER_ID = re.compile(f"[UW]{_REST}")
GROUP_ID = re.compile(f"S{_REST}")
TEAM_ID = re.compile(f"T{_REST}")

_SUBJECTS = {
    Kind.CHANNEL: (CHANNEL_ID, "a Slack channel ID (C..., G... or D...)"),
    Kind.USER: (USER_ID, "a Slack user ID (U... or W...)"),
    Kind.USERGROUP: (GROUP_ID, "a Slack user group ID (S...)"),
}
# Echoed values are cut short: they may be anything someone typed.
_ECHO = 70


def check_subject(kind: Kind, subject: str) -> str:
    """`subject` when it is an ID of what `kind` names; RuleError (invalid) otherwise."""
    pattern, what = _SUBJECTS[kind]
    return _check(pattern, subject, what)


def check_team(team_id: str) -> str:
    """`team_id` when it is a Slack team ID; RuleError (invalid) otherwise."""
    return _check(TEAM_ID, team_id, "a Slack team ID (T...)")


def check_space(space_id: str) -> str:
    """`space_id` when the command's `space:` would take it; RuleError (invalid) otherwise."""
    return _check(SPACE_ID, space_id, "a space ID (1-64 letters, digits, '_' or '-')")


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise RuleError(RuleErrorKind.INVALID, f"{value[:_ECHO]!r} is not {what}")
    return value
