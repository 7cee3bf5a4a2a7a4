"""Every rule of the access decision, table-driven, on rules read back from either database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest

from bot.access.ids import Kind
from bot.access.policy import (
    AccessDefault,
    Admission,
    Decision,
    Person,
    Refusal,
    channel_sees,
    decide,
)
from bot.access.rules import RuleBook
from bot.access.snapshot import Rule, RuleSnapshot
from bot.store.migrate import bring_up_to_date
from tests.shared.store import database_for, settings_for

RULED = "space-ruled"
OPEN = "space-open"
ELSEWHERE = "space-elsewhere"
RULE_CHANNEL = "C0RULED"
RULE_USER = "U0RULED"
RULE_GROUPS = ("S0RULED", "S1RULED")
BOUND_TEAM = "T0BOUND"
LONE_TEAM = "T0LONE"

MEMBER = Person(
    team_id=BOUND_TEAM,
    user_id="U0MEMBER",
    channel_id="C0OTHER",
    guest=False,
    external=False,
    admin=False,
    groups=frozenset(),
)
GUEST = replace(MEMBER, user_id="U0GUEST", guest=True)
EXTERNAL = replace(MEMBER, user_id="U0PARTNER", external=True)
EXTERNAL_GUEST = replace(EXTERNAL, guest=True)
ADMIN = replace(MEMBER, user_id="U0ADMIN", admin=True)
LONER = replace(MEMBER, team_id=LONE_TEAM)


@dataclass(frozen=True)
class Case:
    person: Person
    space: str
    reason: Admission | Refusal
    subject: str | None = None
    default: AccessDefault = AccessDefault.OPEN
    multi_workspace: bool = False


CASES = {
    # 3: a space without rules is open to members when the default is open, else to nobody.
    "open default admits a member": Case(MEMBER, OPEN, Admission.OPEN_BY_DEFAULT),
    "closed default refuses a member": Case(
        MEMBER, OPEN, Refusal.CLOSED_BY_DEFAULT, default=AccessDefault.CLOSED
    ),
    "open default admits an admin as any member": Case(ADMIN, OPEN, Admission.OPEN_BY_DEFAULT),
    # 4: outsiders get in only by a rule.
    "open default refuses a guest": Case(GUEST, OPEN, Refusal.GUEST),
    "open default refuses an external member": Case(EXTERNAL, OPEN, Refusal.EXTERNAL),
    "an external guest is refused as external": Case(EXTERNAL_GUEST, OPEN, Refusal.EXTERNAL),
    "closed default refuses a guest as a guest": Case(
        GUEST, OPEN, Refusal.GUEST, default=AccessDefault.CLOSED
    ),
    "closed default refuses an external member as external": Case(
        EXTERNAL, OPEN, Refusal.EXTERNAL, default=AccessDefault.CLOSED
    ),
    # 2: a space with rules admits whom they name, and nobody else.
    "a channel rule admits anyone asking in the channel": Case(
        replace(MEMBER, channel_id=RULE_CHANNEL), RULED, Admission.CHANNEL_RULE, RULE_CHANNEL
    ),
    "a user rule admits the user in any channel": Case(
        replace(MEMBER, user_id=RULE_USER), RULED, Admission.USER_RULE, RULE_USER
    ),
    "a user group rule admits a member of the group": Case(
        replace(MEMBER, groups=frozenset({"S0OTHER", RULE_GROUPS[1]})),
        RULED,
        Admission.USERGROUP_RULE,
        RULE_GROUPS[1],
    ),
    "of two matching groups the smallest ID is reported": Case(
        replace(MEMBER, groups=frozenset(RULE_GROUPS)),
        RULED,
        Admission.USERGROUP_RULE,
        RULE_GROUPS[0],
    ),
    "a channel rule is reported before a user rule": Case(
        replace(MEMBER, channel_id=RULE_CHANNEL, user_id=RULE_USER),
        RULED,
        Admission.CHANNEL_RULE,
        RULE_CHANNEL,
    ),
    "rules refuse whom they do not name": Case(MEMBER, RULED, Refusal.NOT_ALLOWED),
    "rules refuse a member of another group": Case(
        replace(MEMBER, groups=frozenset({"S0OTHER"})), RULED, Refusal.NOT_ALLOWED
    ),
    "rules refuse an admin they do not name": Case(ADMIN, RULED, Refusal.NOT_ALLOWED),
    "rules refuse a guest they do not name as not allowed": Case(GUEST, RULED, Refusal.NOT_ALLOWED),
    "a closed default does not matter to a space with rules": Case(
        replace(MEMBER, user_id=RULE_USER),
        RULED,
        Admission.USER_RULE,
        RULE_USER,
        default=AccessDefault.CLOSED,
    ),
    "a channel rule admits a guest": Case(
        replace(GUEST, channel_id=RULE_CHANNEL), RULED, Admission.CHANNEL_RULE, RULE_CHANNEL
    ),
    "a user rule admits an external member": Case(
        replace(EXTERNAL, user_id=RULE_USER), RULED, Admission.USER_RULE, RULE_USER
    ),
    "a group rule admits an external guest": Case(
        replace(EXTERNAL_GUEST, groups=frozenset({RULE_GROUPS[0]})),
        RULED,
        Admission.USERGROUP_RULE,
        RULE_GROUPS[0],
    ),
    # 1: in multi-workspace mode, only spaces bound to the person's team.
    "multi-workspace: a bound space is decided as usual": Case(
        MEMBER, OPEN, Admission.OPEN_BY_DEFAULT, multi_workspace=True
    ),
    "multi-workspace: a bound space with rules is decided by them": Case(
        replace(MEMBER, channel_id=RULE_CHANNEL),
        RULED,
        Admission.CHANNEL_RULE,
        RULE_CHANNEL,
        multi_workspace=True,
    ),
    "multi-workspace: a space not bound to the team is refused": Case(
        MEMBER, ELSEWHERE, Refusal.NOT_BOUND, multi_workspace=True
    ),
    "multi-workspace: a team without bindings may use no space": Case(
        LONER, OPEN, Refusal.NOT_BOUND, multi_workspace=True
    ),
    "multi-workspace: a binding comes before any rule": Case(
        replace(LONER, channel_id=RULE_CHANNEL), RULED, Refusal.NOT_BOUND, multi_workspace=True
    ),
    "single workspace: bindings are not consulted": Case(
        LONER, ELSEWHERE, Admission.OPEN_BY_DEFAULT
    ),
}


@pytest.fixture
async def book(database_url: str) -> AsyncIterator[RuleBook]:
    """A loaded rule book: RULED has one rule of each kind (two groups), OPEN none; BOUND_TEAM
    may use both, LONE_TEAM nothing."""
    database = database_for(database_url)
    await bring_up_to_date(database, settings_for(database_url))
    async with RuleBook(database) as rule_book:
        await rule_book.load()
        await rule_book.allow(RULED, Kind.CHANNEL, [RULE_CHANNEL], by="U0ADMIN")
        await rule_book.allow(RULED, Kind.USER, [RULE_USER], by="U0ADMIN")
        await rule_book.allow(RULED, Kind.USERGROUP, RULE_GROUPS, by="U0ADMIN")
        await rule_book.bind(BOUND_TEAM, RULED)
        await rule_book.bind(BOUND_TEAM, OPEN)
        yield rule_book
    await database.close()


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_the_decision(book: RuleBook, case: Case) -> None:
    decision = decide(case.person, case.space, book.snapshot(), case.default, case.multi_workspace)

    assert decision == Decision(case.space, case.reason, case.subject)
    assert decision.allowed is isinstance(case.reason, Admission)


def test_a_decision_describes_itself_in_one_line() -> None:
    assert Decision(RULED, Admission.USER_RULE, RULE_USER).describe() == (
        f"allowed: user_rule {RULE_USER}"
    )
    assert Decision(OPEN, Admission.OPEN_BY_DEFAULT).describe() == "allowed: open_by_default"
    assert Decision(OPEN, Refusal.GUEST).describe() == "refused: guest"


def test_an_empty_snapshot_has_no_rules_bindings_or_groups() -> None:
    snapshot = RuleSnapshot()

    assert not snapshot.rules_for(RULED)
    assert snapshot.bound(BOUND_TEAM) == frozenset()
    assert snapshot.channel_space(BOUND_TEAM, RULE_CHANNEL) is None
    assert snapshot.groups_named() == frozenset()
    assert decide(MEMBER, OPEN, snapshot, AccessDefault.OPEN, True).reason is Refusal.NOT_BOUND


def _channel_sees(
    space: str,
    *,
    channel: str = "C0OTHER",
    default: AccessDefault = AccessDefault.OPEN,
    shared: bool | None = False,
    multi: bool = False,
    team: str = BOUND_TEAM,
) -> bool:
    snapshot = RuleSnapshot(
        [Rule(RULED, Kind.CHANNEL, RULE_CHANNEL), Rule(RULED, Kind.USER, RULE_USER)],
        bindings=[(BOUND_TEAM, RULED), (BOUND_TEAM, OPEN)],
    )
    return channel_sees(
        team,
        channel,
        space,
        snapshot,
        default=default,
        multi_workspace=multi,
        shared_externally=shared,
    )


def test_a_channel_sees_a_ruled_space_only_by_a_channel_rule() -> None:
    assert _channel_sees(RULED, channel=RULE_CHANNEL, shared=True)
    # A user rule admits that person, not everyone in the channel.
    assert not _channel_sees(RULED, channel="C0OTHER")


def test_a_channel_sees_an_open_space_unless_shared_outside_or_unknown() -> None:
    assert _channel_sees(OPEN)
    assert not _channel_sees(OPEN, shared=True)
    assert not _channel_sees(OPEN, shared=None), "what Slack cannot say counts as shared"
    assert not _channel_sees(OPEN, default=AccessDefault.CLOSED)


def test_with_several_workspaces_a_channel_sees_only_its_bound_spaces() -> None:
    assert _channel_sees(OPEN, multi=True)
    assert not _channel_sees(OPEN, multi=True, team=LONE_TEAM)
    assert not _channel_sees(ELSEWHERE, multi=True)
