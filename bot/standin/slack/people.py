"""Who is who in the fake Slack: the answers of `users.info` and `usergroups.users.list`.

Tests fill the registry (`fake.people.add(...)`, `fake.people.group(...)`); anyone not in it is
a plain member of the workspace asking, so requests from any made-up user still work. GUEST_WHO,
EXTERNAL_WHO and ADMIN_WHO (bot/standin/slack/payloads.py) are known from the start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bot.standin.slack.payloads import ADMIN_WHO, EXTERNAL_WHO, GUEST_WHO

_Json = dict[str, Any]

# The scope each method needs, as Slack documents it.
SCOPES = {"users.info": "users:read", "usergroups.users.list": "usergroups:read"}
PEOPLE_METHODS = tuple(SCOPES)
# The workspace EXTERNAL_WHO belongs to: another organisation's, met in a Slack Connect channel.
PARTNER_TEAM_ID = "T0PARTNER"


@dataclass(frozen=True, slots=True)
class Member:
    """A Slack user as users.info describes them.

    `team_id` None means the workspace whose token asks (a member of the installing team).
    `teams` lists the workspaces of an Enterprise Grid org the user is in (users.info's
    `enterprise_user.teams`), empty outside Grid.
    """

    user_id: str
    team_id: str | None = None
    is_admin: bool = False
    is_owner: bool = False
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    deleted: bool = False
    teams: tuple[str, ...] = ()

    def as_slack(self, asking_team: str) -> _Json:
        """The `user` object of users.info, for a token of `asking_team`."""
        team_id = self.team_id or asking_team
        user: _Json = {
            "id": self.user_id,
            "team_id": team_id,
            "name": self.user_id.lower(),
            "deleted": self.deleted,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": False,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": self.is_ultra_restricted,
            "is_bot": False,
            "is_app_user": False,
        }
        if self.teams:
            user["enterprise_user"] = {"id": self.user_id, "teams": list(self.teams)}
        return user


class People:
    """The fake's directory: members, user groups, the scopes the bot token was granted.

    `scopes` starts with both read scopes; remove one to get Slack's `missing_scope`.
    """

    def __init__(self) -> None:
        self.scopes: set[str] = set(SCOPES.values())
        self._members: dict[str, Member] = {
            GUEST_WHO.user_id: Member(GUEST_WHO.user_id, is_restricted=True),
            EXTERNAL_WHO.user_id: Member(EXTERNAL_WHO.user_id, team_id=PARTNER_TEAM_ID),
            ADMIN_WHO.user_id: Member(ADMIN_WHO.user_id, is_admin=True),
        }
        self._unknown: set[str] = set()
        self._groups: dict[str, frozenset[str]] = {}
        self._gate: asyncio.Event | None = None

    def add(
        self,
        user_id: str,
        *,
        team_id: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        deleted: bool = False,
        teams: Iterable[str] = (),
    ) -> Member:
        """Describe `user_id` (replacing what was known); fields as Member's."""
        member = Member(
            user_id,
            team_id,
            is_admin,
            is_owner,
            is_restricted,
            is_ultra_restricted,
            deleted,
            tuple(teams),
        )
        self._members[user_id] = member
        self._unknown.discard(user_id)
        return member

    def forget(self, user_id: str) -> None:
        """From now on users.info answers `user_not_found` for `user_id`."""
        self._members.pop(user_id, None)
        self._unknown.add(user_id)

    def group(self, group_id: str, members: Iterable[str]) -> None:
        """Make user group `group_id` (S…) exist with exactly `members`."""
        self._groups[group_id] = frozenset(members)

    def drop_group(self, group_id: str) -> None:
        """Delete user group `group_id`: usergroups.users.list answers `no_such_subteam`."""
        self._groups.pop(group_id, None)

    @contextmanager
    def stalled(self) -> Iterator[None]:
        """While in use, users.info and usergroups.users.list keep their answers back (a
        Slack too slow to wait for); they answer when it ends."""
        gate = asyncio.Event()
        self._gate = gate
        try:
            yield
        finally:
            self._gate = None
            gate.set()

    async def answer(self, method: str, params: Mapping[str, str], asking_team: str) -> _Json:
        """The answer to `method` (one of PEOPLE_METHODS) for a token of `asking_team`."""
        if self._gate is not None:
            await self._gate.wait()
        needed = SCOPES[method]
        if needed not in self.scopes:
            provided = ",".join(sorted(self.scopes))
            return {"ok": False, "error": "missing_scope", "needed": needed, "provided": provided}
        if method == "users.info":
            return self._user(params.get("user", ""), asking_team)
        members = self._groups.get(params.get("usergroup", ""))
        if members is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": sorted(members)}

    def _user(self, user_id: str, asking_team: str) -> _Json:
        if not user_id.startswith(("U", "W")) or user_id in self._unknown:
            return {"ok": False, "error": "user_not_found"}
        member = self._members.get(user_id) or Member(user_id)
        return {"ok": True, "user": member.as_slack(asking_team)}
