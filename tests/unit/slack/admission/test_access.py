"""Access rules over loopback: who is refused, what they are told, what it costs, what is recorded.

The bot runs with a store (SQLite or PostgreSQL), the fake Slack says who each person is
(users.info), and the emulator counts every CAMS call.
"""

from __future__ import annotations

import json

import pytest

from bot.access.ids import Kind
from bot.access.policy import AccessDefault
from bot.metrics import REGISTRY
from bot.slack.admission.gate import Gate
from bot.slack.constants import (
    COMMAND,
    PICKER_FLOW_ACTION_ID,
    PICKER_FLOW_BLOCK_ID,
    PICKER_SPACE_BLOCK_ID,
)
from bot.standin.harness.slack_bot import Bot
from bot.standin.slack import payloads
from bot.store.audit import AuditOutcome, AuditRecord
from bot.store.store import Store
from tests.fake_clock import HANG_GUARD_S
from tests.shared.access import ADMIN, MEMBER, OTHER, SPACE, guarded_bot, listed_spaces

FLOW = "1234567890123456"
GUEST = payloads.GUEST_WHO
EXTERNAL = payloads.EXTERNAL_WHO
REFUSED = "You don't have access to flow previews here"


async def _records(store: Store) -> list[AuditRecord]:
    assert await store.audit.flush(HANG_GUARD_S)
    return list(reversed(await store.audit.query()))


def _refusals(reason: str) -> float:
    return REGISTRY.get_sample_value("flowpreview_access_refused_total", {"reason": reason}) or 0.0


def _gate(bot: Bot) -> Gate:
    """The running bot's access check, whose rule book the tests change as an operator would."""
    assert bot.gate is not None
    return bot.gate


@pytest.mark.parametrize("who", [GUEST, EXTERNAL], ids=["guest", "external"])
async def test_guests_and_external_members_are_refused_without_a_cams_call(
    database_url: str, who: payloads.Who
) -> None:
    reason = "guest" if who is GUEST else "external"
    counted = _refusals(reason)
    async with guarded_bot(database_url) as (bot, store):
        answer, _ = await bot.command(FLOW, who=who)
        search, _ = await bot.command("sign up", who=who)
        records = await _records(store)

    for refused in (answer, search):
        text = json.dumps(refused.json())
        assert REFUSED in text
        assert SPACE not in text, "the refusal says nothing about the space"
        assert FLOW not in text
    assert bot.cams.emulator.by_action == {}, "no upstream call, not even ListFlow"
    assert [(r.outcome, r.flow_id, r.space_id, r.user_id) for r in records] == [
        (AuditOutcome.REFUSED, FLOW, SPACE, who.user_id),
        (AuditOutcome.REFUSED, None, SPACE, who.user_id),
    ]
    assert records[0].reason == f"refused: {reason}"
    assert _refusals(reason) == counted + 2, "counted for the metrics too"


async def test_a_channel_rule_admits_an_external_member_of_that_channel(
    database_url: str,
) -> None:
    async with guarded_bot(database_url) as (bot, store):
        await _gate(bot).book.allow(SPACE, Kind.CHANNEL, [EXTERNAL.channel_id], by="operator")
        answer, _ = await bot.command(FLOW, who=EXTERNAL)
        records = await _records(store)

    assert f"flows/{FLOW}/preview" in answer.body
    assert [(r.outcome, r.user_id) for r in records] == [(AuditOutcome.GIVEN, EXTERNAL.user_id)]


async def test_with_rules_only_those_named_get_in(database_url: str) -> None:
    async with guarded_bot(database_url) as (bot, _):
        await _gate(bot).book.allow(SPACE, Kind.USER, [ADMIN.user_id], by="operator")
        member, _ = await bot.command(FLOW, who=MEMBER)
        named, _ = await bot.command(FLOW, who=ADMIN)

    assert REFUSED in member.body
    assert f"flows/{FLOW}/preview" in named.body
    assert bot.cams.emulator.by_flow == {FLOW: 1}


async def test_closed_by_default_refuses_members_until_a_group_rule_names_them(
    database_url: str,
) -> None:
    async with guarded_bot(database_url, AccessDefault.CLOSED) as (bot, _):
        before, _ = await bot.command(FLOW)
        bot.slack.people.group("S0FLOWTEAM", [MEMBER.user_id])
        await _gate(bot).book.allow(SPACE, Kind.USERGROUP, ["S0FLOWTEAM"], by="operator")
        after, _ = await bot.command(FLOW)

    assert REFUSED in before.body
    assert f"flows/{FLOW}/preview" in after.body


async def test_the_picker_offers_only_the_spaces_a_person_may_see(database_url: str) -> None:
    async with guarded_bot(database_url) as (bot, _):
        await _gate(bot).book.allow(OTHER, Kind.USER, [ADMIN.user_id], by="operator")
        await bot.post(payloads.global_shortcut(trigger_id=bot.slack.new_trigger_id()))
        change = await bot.slack.next_view(within=HANG_GUARD_S)
        offered = [o["value"] for o in change.view["blocks"][0]["element"]["options"]]
        # A request forged to list the other space's flows gets nothing from it.
        body = payloads.block_suggestion(
            change.view,
            block_id=PICKER_FLOW_BLOCK_ID,
            action_id=PICKER_FLOW_ACTION_ID,
            value="",
            chosen={
                PICKER_SPACE_BLOCK_ID: {
                    "text": {"type": "plain_text", "text": OTHER},
                    "value": OTHER,
                }
            },
        )
        forged = (await bot.post(body)).json()

    assert offered == [SPACE]
    assert [o["value"] for o in forged["options"]] == [":refused"]
    assert all(OTHER not in r.raw_path for r in bot.cams.emulator.recorded)


async def test_admins_set_the_channels_space_and_others_may_not(database_url: str) -> None:
    async with guarded_bot(database_url) as (bot, _):
        refused, _ = await bot.command(f"config space {OTHER}", who=MEMBER)
        allowed, _ = await bot.command(f"config space {OTHER}", who=ADMIN)
        shown, _ = await bot.command("config", who=MEMBER)
        answer, _ = await bot.command(FLOW, who=MEMBER)

    assert "Only workspace admins" in refused.body
    assert f"now `{OTHER}`" in allowed.body
    assert f"default space is `{OTHER}`" in shown.body
    assert f"flows/{FLOW}/preview" in answer.body
    assert all(f"CustSpaceId={OTHER}" in r.raw_path for r in bot.cams.emulator.recorded)


async def test_admins_manage_rules_from_slack(database_url: str) -> None:
    async with guarded_bot(database_url) as (bot, _):
        allow, _ = await bot.command(
            f"config allow {SPACE} user <@{ADMIN.user_id}|admin>", who=ADMIN
        )
        listed, _ = await bot.command("config rules", who=ADMIN)
        member, _ = await bot.command(FLOW, who=MEMBER)
        removed, _ = await bot.command(f"config remove {SPACE} user {ADMIN.user_id}", who=ADMIN)
        again, _ = await bot.command(FLOW, who=MEMBER)
        bad, _ = await bot.command(f"config allow {SPACE} user not-an-id", who=ADMIN)

    assert f"`{SPACE}` is now open to <@{ADMIN.user_id}>" in allow.body
    assert f"user <@{ADMIN.user_id}>" in listed.body
    assert REFUSED in member.body
    assert "Removed" in removed.body
    assert f"flows/{FLOW}/preview" in again.body
    assert ":warning:" in bad.body


async def test_a_rule_added_applies_at_once_to_someone_just_let_in(database_url: str) -> None:
    async with guarded_bot(database_url) as (bot, _):
        before, _ = await bot.command(FLOW, who=MEMBER)
        await _gate(bot).book.allow(SPACE, Kind.USER, [ADMIN.user_id], by="operator")
        after, _ = await bot.command(FLOW, who=MEMBER)

    assert f"flows/{FLOW}/preview" in before.body
    assert REFUSED in after.body


async def test_the_channels_settings_are_not_shown_to_someone_refused(database_url: str) -> None:
    async with guarded_bot(database_url) as (bot, store):
        guest, _ = await bot.command("config", who=GUEST)
        member, _ = await bot.command("config", who=MEMBER)
        records = await _records(store)

    assert REFUSED in guest.body
    assert SPACE not in guest.body
    assert f"`{SPACE}`" in member.body
    assert [(r.outcome, r.user_id) for r in records] == [(AuditOutcome.REFUSED, GUEST.user_id)]


async def test_an_unknown_space_gets_a_sentence_and_nothing_is_saved(database_url: str) -> None:
    async with guarded_bot(database_url) as (bot, _):
        # Without CAMS_SPACES, CAMS is asked once: it lists no flows in a space that is not.
        unknown, _ = await bot.command("config space nope", who=ADMIN)
        rule, _ = await bot.command(f"config allow nope user {ADMIN.user_id}", who=ADMIN)
        checked = dict(bot.cams.emulator.by_action)
        known, _ = await bot.command(f"config space {OTHER}", who=ADMIN)
        # With CAMS_SPACES, only the spaces it lists, and CAMS is not asked.
        bot.service.spaces = listed_spaces(SPACE, OTHER)
        bot.cams.emulator.reset()
        unlisted, _ = await bot.command("config space cams-else", who=ADMIN)
        listed, _ = await bot.command(f"config space {SPACE}", who=ADMIN)
        rules = await _gate(bot).book.rules()

    assert "CAMS lists no flows in a space `nope`, so nothing was saved" in unknown.body
    assert "nothing was saved" in rule.body
    assert checked == {"ListFlow": 2}
    assert f"now `{OTHER}`" in known.body
    assert "is not one of the spaces flowpreview is set up for" in unlisted.body
    assert f"now `{SPACE}`" in listed.body
    assert bot.cams.emulator.by_action == {}
    assert rules == []


@pytest.mark.parametrize("typed", ["CAMS-ACME", "cams_acme", "Cams_Acme"])
async def test_a_look_alike_of_a_space_with_rules_is_refused_with_a_sentence(
    database_url: str, typed: str
) -> None:
    async with guarded_bot(database_url) as (bot, _):
        bot.service.spaces = ()
        await _gate(bot).book.allow(OTHER, Kind.USER, [ADMIN.user_id], by="operator")
        preview, _ = await bot.command(f"{FLOW} space:{typed}", who=MEMBER)
        search, _ = await bot.command(f"sign up space:{typed}", who=MEMBER)
        allow, _ = await bot.command(f"config allow {typed} user {MEMBER.user_id}", who=ADMIN)
        channel, _ = await bot.command(f"config space {typed}", who=ADMIN)
        rules = await _gate(bot).book.rules()

    for refused in (preview, search):
        assert "is not a space I can use" in refused.body
        assert OTHER not in refused.body, "the look-alike's twin is not named"
    for warned in (allow, channel):
        assert f"is not '{OTHER}'" in warned.body
    assert bot.cams.emulator.by_action == {}, "no call on any spelling"
    assert [(r.space_id, r.subject) for r in rules] == [(OTHER, ADMIN.user_id)]


async def test_the_first_rule_says_it_closes_the_space_and_warns_an_admin_left_out(
    database_url: str,
) -> None:
    async with guarded_bot(database_url) as (bot, _):
        bot.service.spaces = listed_spaces(SPACE, OTHER)
        first, _ = await bot.command(f"config allow {SPACE} user {MEMBER.user_id}", who=ADMIN)
        second, _ = await bot.command(f"config allow {SPACE} channel here", who=ADMIN)
        removed, _ = await bot.command(f"config remove {SPACE} channel here", who=ADMIN)
        last, _ = await bot.command(f"config remove {SPACE} user {MEMBER.user_id}", who=ADMIN)

    assert "It had no rules" in first.body
    assert "closed to everyone its rules do not name" in first.body
    assert (
        f"To undo, remove the rule with `{COMMAND} config remove {SPACE} user {MEMBER.user_id}`"
        in first.body
    )
    assert "These rules do not name you" in first.body
    assert "It had no rules" not in second.body
    assert "do not name you" not in second.body, "this channel's rule lets the admin in"
    assert "These rules do not name you" in removed.body
    assert "open to all the workspace's members again" in last.body


@pytest.mark.parametrize(
    ("text", "word", "guess"),
    [
        (f"config spce {OTHER}", "spce", "space"),
        (f"config alow {OTHER} user U0ADMIN001", "alow", "allow"),
        (f"config allow {OTHER} chanel here", "chanel", "channel"),
        ("config frobnicate", "frobnicate", None),
    ],
)
async def test_a_mistyped_config_word_is_named(
    database_url: str, text: str, word: str, guess: str | None
) -> None:
    async with guarded_bot(database_url) as (bot, _):
        answer, _ = await bot.command(text, who=ADMIN)

    assert f"I don't know `{word}`" in answer.body
    assert (f"Did you mean `{guess}`?" in answer.body) == (guess is not None)
    assert f"{COMMAND} config space &lt;space-id&gt;" in answer.body, "with the usage"


async def test_help_from_someone_refused_starts_no_cams_call(database_url: str) -> None:
    async with guarded_bot(database_url) as (bot, _):
        answer, _ = await bot.command("help", who=GUEST)
        tracked = bot.service.catalog.tracks(SPACE)

    assert "Usage" in answer.body
    assert not tracked, "the default space's catalog is not even started"
    assert bot.cams.emulator.by_action == {}
