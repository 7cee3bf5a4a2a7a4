"""The Slack directory: who a person is, from users.info and user groups, over loopback against
the fake Slack; caching, single-flight, the bound, and Slack failing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.policy import Person
from bot.slack.admission.directory import Directory, DirectoryError, DirectoryErrorKind
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.payloads import ADMIN_WHO, EXTERNAL_WHO, GUEST_WHO
from tests.fake_clock import FakeClock
from tests.shared.directory import CHANNEL, TEAM, TOKEN, ask, patient

OTHER_TEAM = "T0OTHER01"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack(bot_token=TOKEN) as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.api_url)


def calls(slack: FakeSlack, method: str) -> int:
    return sum(1 for call in slack.api_calls if call.method == method)


@dataclass(frozen=True)
class Case:
    name: str
    user_id: str
    profile: dict[str, Any] = field(default_factory=dict)
    admin_users: tuple[str, ...] = ()
    member_of: tuple[str, ...] = ()
    guest: bool = False
    external: bool = False
    admin: bool = False


CASES = [
    Case("plain member, unknown to the registry", "U0PLAIN01"),
    Case("workspace admin", "U0ADMIN02", {"is_admin": True}, admin=True),
    Case("workspace owner", "U0OWNER01", {"is_owner": True}, admin=True),
    Case("multi-channel guest", "U0GUEST02", {"is_restricted": True}, guest=True),
    Case("single-channel guest", "U0GUEST03", {"is_ultra_restricted": True}, guest=True),
    Case("Slack Connect member", "U0EXT0001", {"team_id": OTHER_TEAM}, external=True),
    Case(
        "another organisation's admin is not ours",
        "U0EXT0002",
        {"team_id": OTHER_TEAM, "is_admin": True, "is_owner": True},
        external=True,
    ),
    Case(
        "Grid member homed in another workspace of the org",
        "W0GRID001",
        {"team_id": OTHER_TEAM, "teams": (OTHER_TEAM, TEAM)},
    ),
    Case("named in ADMIN_USERS", "U0NAMED01", admin_users=("U0NAMED01",), admin=True),
    Case("named in ADMIN_USERS by user ID only", "U0NAMED02", admin_users=("U0NAMED01",)),
    Case(
        "in a group named in ADMIN_USERS",
        "U0GROUPED",
        admin_users=("S0ADMINS1",),
        member_of=("S0ADMINS1",),
        admin=True,
    ),
    Case(
        "external, but named in ADMIN_USERS",
        "U0EXT0003",
        {"team_id": OTHER_TEAM},
        admin_users=("U0EXT0003",),
        external=True,
        admin=True,
    ),
    Case("GUEST_WHO", GUEST_WHO.user_id, guest=True),
    Case("EXTERNAL_WHO", EXTERNAL_WHO.user_id, external=True),
    Case("ADMIN_WHO", ADMIN_WHO.user_id, admin=True),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_who_a_person_is(slack: FakeSlack, client: AsyncWebClient, case: Case) -> None:
    if case.profile:
        slack.people.add(case.user_id, **case.profile)
    slack.people.group("S0ADMINS1", [case.user_id] if case.member_of else [])
    person = await ask(patient(), client, case.user_id, admin_users=case.admin_users)
    assert person == Person(
        team_id=TEAM,
        user_id=case.user_id,
        channel_id=CHANNEL,
        guest=case.guest,
        external=case.external,
        admin=case.admin,
        groups=frozenset(case.member_of),
    )


async def test_groups_are_those_that_matter_and_hold_the_person(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.people.group("S0READERS", ["U0PLAIN01", "U0OTHER01"])
    slack.people.group("S0WRITERS", ["U0OTHER01"])
    slack.people.group("S0UNASKED", ["U0PLAIN01"])
    slack.people.group("S0ADMINS1", ["U0OTHER01"])
    person = await ask(
        patient(),
        client,
        "U0PLAIN01",
        groups={"S0READERS", "S0WRITERS", "S0DELETED"},
        admin_users={"S0ADMINS1", "U0SOMEONE"},
    )
    assert person.groups == frozenset({"S0READERS"})
    assert not person.admin
    asked = {c.params["usergroup"] for c in slack.api_calls if c.method == "usergroups.users.list"}
    # A group Slack no longer has (S0DELETED) has no members, and is no failure.
    assert asked == {"S0READERS", "S0WRITERS", "S0DELETED", "S0ADMINS1"}


async def test_a_second_ask_is_answered_from_memory_until_the_ttl(
    slack: FakeSlack, client: AsyncWebClient, fake_clock: FakeClock
) -> None:
    slack.people.group("S0READERS", ["U0PLAIN01"])
    directory = patient(ttl_s=600, group_ttl_s=300, clock=fake_clock.time)
    first = await ask(directory, client, "U0PLAIN01", groups={"S0READERS"})
    assert (calls(slack, "users.info"), calls(slack, "usergroups.users.list")) == (1, 1)

    slack.people.add("U0PLAIN01", is_admin=True)
    slack.people.group("S0READERS", [])
    fake_clock.advance(299)
    assert await ask(directory, client, "U0PLAIN01", groups={"S0READERS"}) == first
    assert (calls(slack, "users.info"), calls(slack, "usergroups.users.list")) == (1, 1)

    fake_clock.advance(2)
    person = await ask(directory, client, "U0PLAIN01", groups={"S0READERS"})
    assert (person.admin, person.groups) == (False, frozenset())
    assert (calls(slack, "users.info"), calls(slack, "usergroups.users.list")) == (1, 2)

    fake_clock.advance(300)
    person = await ask(directory, client, "U0PLAIN01", groups={"S0READERS"})
    assert person.admin
    assert (calls(slack, "users.info"), calls(slack, "usergroups.users.list")) == (2, 3)


async def test_the_channel_is_the_request_s_not_the_cache_s(client: AsyncWebClient) -> None:
    directory = patient()
    await ask(directory, client, "U0PLAIN01")
    person = await directory.person(
        client, TEAM, "U0PLAIN01", "C0ELSEWHERE", groups_that_matter=(), admin_users=()
    )
    assert person.channel_id == "C0ELSEWHERE"


async def test_concurrent_asks_share_one_call(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.people.group("S0READERS", ["U0PLAIN01"])
    directory = patient()
    people = await asyncio.gather(
        *(ask(directory, client, "U0PLAIN01", groups={"S0READERS"}) for _ in range(10))
    )
    assert {p.groups for p in people} == {frozenset({"S0READERS"})}
    assert (calls(slack, "users.info"), calls(slack, "usergroups.users.list")) == (1, 1)


async def test_concurrent_asks_share_one_failure(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.people.forget("U0GONE001")
    directory = patient()
    outcomes = await asyncio.gather(
        *(ask(directory, client, "U0GONE001") for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(o, DirectoryError) for o in outcomes)
    assert calls(slack, "users.info") == 1


async def test_the_least_recently_asked_person_is_forgotten_beyond_the_bound(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    directory = patient(max_people=2)
    for user_id in ("U0FIRST01", "U0SECOND1", "U0THIRD01"):
        await ask(directory, client, user_id)
    assert calls(slack, "users.info") == 3
    await ask(directory, client, "U0THIRD01")
    await ask(directory, client, "U0SECOND1")
    assert calls(slack, "users.info") == 3
    await ask(directory, client, "U0FIRST01")
    assert calls(slack, "users.info") == 4


async def test_people_are_kept_per_workspace(slack: FakeSlack, client: AsyncWebClient) -> None:
    directory = patient()
    await ask(directory, client, "U0PLAIN01")
    person = await directory.person(
        client, OTHER_TEAM, "U0PLAIN01", CHANNEL, groups_that_matter=(), admin_users=()
    )
    assert calls(slack, "users.info") == 2
    # The fake answers with the token's workspace (TEAM): seen from OTHER_TEAM, an outsider.
    assert person.external


async def test_a_missing_users_read_scope(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.people.scopes.discard("users:read")
    with pytest.raises(DirectoryError) as raised:
        await ask(patient(), client, "U0PLAIN01")
    assert raised.value.kind is DirectoryErrorKind.MISSING_SCOPE
    assert raised.value.method == "users.info"
    assert "users:read" in str(raised.value)


async def test_a_missing_usergroups_read_scope_matters_only_with_groups(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.people.scopes.discard("usergroups:read")
    directory = patient()
    assert not (await ask(directory, client, "U0PLAIN01")).groups
    with pytest.raises(DirectoryError) as raised:
        await ask(directory, client, "U0PLAIN01", admin_users={"S0ADMINS1"})
    assert raised.value.kind is DirectoryErrorKind.MISSING_SCOPE
    assert "usergroups:read" in str(raised.value)


async def test_failures_are_not_remembered(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.people.scopes.discard("users:read")
    directory = patient()
    with pytest.raises(DirectoryError):
        await ask(directory, client, "U0PLAIN01")
    slack.people.scopes.add("users:read")
    assert (await ask(directory, client, "U0PLAIN01")).user_id == "U0PLAIN01"
    assert calls(slack, "users.info") == 2


@pytest.mark.parametrize("gone", ["forgotten", "deactivated"])
async def test_a_person_slack_does_not_know(
    slack: FakeSlack, client: AsyncWebClient, gone: str
) -> None:
    if gone == "forgotten":
        slack.people.forget("U0GONE001")
    else:
        slack.people.add("U0GONE001", deleted=True)
    with pytest.raises(DirectoryError) as raised:
        await ask(patient(), client, "U0GONE001")
    assert raised.value.kind is DirectoryErrorKind.NOT_FOUND


async def test_a_token_slack_refuses(slack: FakeSlack) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url)
    with pytest.raises(DirectoryError) as raised:
        await ask(patient(), wrong, "U0PLAIN01")
    assert raised.value.kind is DirectoryErrorKind.UNAVAILABLE
    assert raised.value.code == "invalid_auth"


async def test_a_slack_too_slow_to_wait_for(slack: FakeSlack, client: AsyncWebClient) -> None:
    with slack.people.stalled(), pytest.raises(DirectoryError) as raised:
        await ask(Directory(timeout_s=0.05), client, "U0PLAIN01")
    assert raised.value.kind is DirectoryErrorKind.UNAVAILABLE
    assert "0.05" in str(raised.value)


async def test_the_fake_checks_the_token_and_answers_in_slack_s_shape(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
    user = (await client.users_info(user="U0PLAIN01"))["user"]
    assert (user["id"], user["team_id"], user["is_admin"], user["deleted"]) == (
        "U0PLAIN01",
        TEAM,
        False,
        False,
    )
    slack.people.group("S0READERS", ["U0B", "U0A"])
    assert (await client.usergroups_users_list(usergroup="S0READERS"))["users"] == ["U0A", "U0B"]
    with pytest.raises(SlackApiError) as raised:
        await client.usergroups_users_list(usergroup="S0MISSING")
    assert raised.value.response["error"] == "no_such_subteam"
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url).users_info(user="U0A")
    assert raised.value.response["error"] == "invalid_auth"
