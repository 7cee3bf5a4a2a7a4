"""Who a Slack user is, as the access rules need it: users.info and user group membership.

Each answer is kept for a while (a person for `ttl_s`, a group's members for `group_ttl_s`),
concurrent asks for the same one share one call, and every call has `timeout_s` to answer.
Slack is asked with the token of the workspace the request came for; a Slack Connect member of
another organisation is described by that workspace's users.info, with their own team_id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cachetools import TTLCache
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.policy import Person
from bot.errors import FlowpreviewError
from bot.preview.singleflight import SingleFlight
from bot.slack.edge.web_api import SlackWebError, WebErrorKind, as_web_client

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 600.0
DEFAULT_GROUP_TTL_S = 300.0
DEFAULT_MAX_PEOPLE = 10_000
DEFAULT_TIMEOUT_S = 1.0
# Group member lists are kept per (workspace, group); each may list thousands of people.
MAX_GROUPS = 1_000
# usergroups.users.list is a Tier 2 method (20+ a minute): a cold ask naming many groups
# queues them rather than firing them all at once.
GROUP_CALLS_AT_ONCE = 4

# Answers about a group that mean "nobody is in it": it was deleted, or the plan has no groups.
_EMPTY_GROUP_ERRORS = frozenset({"no_such_subteam", "plan_upgrade_required"})
_NOT_FOUND_ERRORS = frozenset({"user_not_found", "users_not_found"})


class DirectoryErrorKind(StrEnum):
    """Why Slack could not say who someone is."""

    UNAVAILABLE = "unavailable"
    MISSING_SCOPE = "missing_scope"
    NOT_FOUND = "not_found"


class DirectoryError(FlowpreviewError):
    """users.info or usergroups.users.list gave no usable answer.

    `method` is the Web API method, `code` Slack's error code when it sent one. The message is
    one line and carries no token.
    """

    def __init__(
        self, kind: DirectoryErrorKind, method: str, problem: str, *, code: str | None = None
    ) -> None:
        super().__init__(f"{method}: {problem}")
        self.kind = kind
        self.method = method
        self.code = code


@dataclass(frozen=True, slots=True)
class _Profile:
    """What users.info says that access decisions use."""

    team_id: str
    # Enterprise Grid: the org's workspaces the user is in (users.info enterprise_user.teams).
    teams: frozenset[str]
    guest: bool
    workspace_admin: bool


class Directory:
    """Describes the person behind a request, from Slack, with bounded caches.

    `clock` is monotonic seconds; TTLs are measured on it. At most `max_people` people and
    MAX_GROUPS groups are kept, the least recently used going first.
    """

    def __init__(
        self,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        group_ttl_s: float = DEFAULT_GROUP_TTL_S,
        max_people: int = DEFAULT_MAX_PEOPLE,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_s = timeout_s
        self._profiles: TTLCache[tuple[str, str], _Profile] = TTLCache(max_people, ttl_s, clock)
        self._groups: TTLCache[tuple[str, str], frozenset[str]] = TTLCache(
            MAX_GROUPS, group_ttl_s, clock
        )
        self._profile_flights: SingleFlight[tuple[str, str], _Profile] = SingleFlight()
        self._group_flights: SingleFlight[tuple[str, str], frozenset[str]] = SingleFlight()
        self._group_calls = asyncio.Semaphore(GROUP_CALLS_AT_ONCE)

    async def person(
        self,
        client: AsyncWebClient,
        team_id: str,
        user_id: str,
        channel_id: str,
        *,
        groups_that_matter: Collection[str],
        admin_users: Collection[str],
    ) -> Person:
        """Who `user_id` is, asking in `channel_id` of the workspace `team_id`.

        `team_id` is the workspace the app is installed in and `client` carries its token
        (not a team_id taken from the request alone: a Slack Connect member's may be their
        own). `groups_that_matter` are the user groups named in access rules; `admin_users`
        are ADMIN_USERS' user and group IDs. Raises DirectoryError when Slack cannot tell.
        """
        # Whatever Slack answers then comes back as a JSON object or a SlackWebError.
        client = as_web_client(client)
        admin_groups = {entry for entry in admin_users if entry.startswith("S")}
        wanted = sorted(set(groups_that_matter) | admin_groups)
        # Every request asks this: when all is cached it is answered without a task.
        known = self._profiles.get((team_id, user_id))
        cached = [self._groups.get((team_id, group)) for group in wanted]
        memberships = [members for members in cached if members is not None]
        if known is not None and len(memberships) == len(wanted):
            profile = known
        else:
            profile, memberships = await asyncio.gather(
                self._profile(client, team_id, user_id),
                asyncio.gather(*(self._members(client, team_id, group) for group in wanted)),
            )
        groups = frozenset(
            g for g, members in zip(wanted, memberships, strict=True) if user_id in members
        )
        external = profile.team_id != team_id and team_id not in profile.teams
        # Another organisation's admins are not this workspace's: only ADMIN_USERS makes them one.
        admin = (
            (profile.workspace_admin and not external)
            or user_id in admin_users
            or not admin_groups.isdisjoint(groups)
        )
        return Person(
            team_id=team_id,
            user_id=user_id,
            channel_id=channel_id,
            guest=profile.guest,
            external=external,
            admin=admin,
            groups=groups,
        )

    async def _profile(self, client: AsyncWebClient, team_id: str, user_id: str) -> _Profile:
        key = (team_id, user_id)
        cached = self._profiles.get(key)
        if cached is not None:
            return cached
        return await self._profile_flights.run(key, lambda: self._fetch_profile(client, key))

    async def _fetch_profile(self, client: AsyncWebClient, key: tuple[str, str]) -> _Profile:
        method = "users.info"
        answer = await self._call(method, client.users_info(user=key[1]))
        user = answer.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("team_id"), str):
            raise DirectoryError(DirectoryErrorKind.UNAVAILABLE, method, "no user in the answer")
        if user.get("deleted") is True:
            raise DirectoryError(DirectoryErrorKind.NOT_FOUND, method, "the user is deactivated")
        enterprise = user.get("enterprise_user")
        teams = enterprise.get("teams") if isinstance(enterprise, dict) else None
        profile = _Profile(
            team_id=user["team_id"],
            teams=frozenset(t for t in teams or () if isinstance(t, str)),
            guest=user.get("is_restricted") is True or user.get("is_ultra_restricted") is True,
            workspace_admin=user.get("is_admin") is True or user.get("is_owner") is True,
        )
        self._profiles[key] = profile
        return profile

    async def _members(self, client: AsyncWebClient, team_id: str, group_id: str) -> frozenset[str]:
        key = (team_id, group_id)
        cached = self._groups.get(key)
        if cached is not None:
            return cached
        return await self._group_flights.run(key, lambda: self._fetch_members(client, key))

    async def _fetch_members(self, client: AsyncWebClient, key: tuple[str, str]) -> frozenset[str]:
        method = "usergroups.users.list"
        async with self._group_calls:
            try:
                answer = await self._call(method, client.usergroups_users_list(usergroup=key[1]))
            except DirectoryError as error:
                if error.code not in _EMPTY_GROUP_ERRORS:
                    raise
                # Remembered like an answer, so this is logged once per group_ttl_s at most.
                log.warning("user group %s in %s has no members: Slack says %s", *key, error.code)
                answer = {"users": []}
        users = answer.get("users")
        if not isinstance(users, list):
            raise DirectoryError(DirectoryErrorKind.UNAVAILABLE, method, "no users in the answer")
        members = frozenset(u for u in users if isinstance(u, str))
        self._groups[key] = members
        return members

    async def _call(self, method: str, call: Coroutine[Any, Any, Any]) -> dict[str, Any]:
        """The answer of `call` to `method`, within timeout_s, or a DirectoryError."""
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await call
        except SlackWebError as error:
            raise _directory_error(method, error) from None
        except TimeoutError:
            raise DirectoryError(
                DirectoryErrorKind.UNAVAILABLE, method, f"no answer within {self.timeout_s:g} s"
            ) from None
        data = response.data
        return data if isinstance(data, dict) else {}


def _directory_error(method: str, error: SlackWebError) -> DirectoryError:
    refused = error.kind is WebErrorKind.REFUSED
    if refused and error.code == "missing_scope":
        kind = DirectoryErrorKind.MISSING_SCOPE
    elif refused and error.code in _NOT_FOUND_ERRORS:
        kind = DirectoryErrorKind.NOT_FOUND
    else:
        kind = DirectoryErrorKind.UNAVAILABLE
    return DirectoryError(kind, method, error.problem, code=error.code)
