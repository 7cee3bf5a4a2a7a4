"""`/flowpreview config ...`: a channel's settings and the access rules, from Slack.

Anyone may see the channel's settings; changing them, and reading or changing the rules, is for
workspace admins and owners and the people or group named in ADMIN_USERS.

    /flowpreview config                                  this channel's space and rules
    /flowpreview config space <space-id>                 this channel's default space
    /flowpreview config space clear                      back to the deployment's default
    /flowpreview config rules [<space-id>]               the allow lists
    /flowpreview config allow <space-id> channel|user|group <who> [<who> ...]
    /flowpreview config remove <space-id> channel|user|group <who>

`<who>` is a mention as Slack escapes it (#channel, @person, @group), an ID, or `here` for this
channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.access.errors import RuleError
from bot.access.ids import Kind
from bot.slack import render
from bot.slack.constants import COMMAND
from bot.slack.directory import DirectoryError
from bot.slack.gate import Asker, Gate

log = logging.getLogger(__name__)

WORD = "config"
KINDS = {"channel": Kind.CHANNEL, "user": Kind.USER, "group": Kind.USERGROUP}
# Slack's escaped mentions: <#C123|name>, <@U123|name>, <!subteam^S123|@name>.
MENTION = re.compile(r"<(?:#|@|!subteam\^)([A-Z0-9]+)(?:\|[^>]*)?>")
# At most this many IDs in one allow: a typed list, not a bulk import.
MAX_SUBJECTS = 50
# Said alike whether the space is another workspace's or does not exist: nothing is revealed.
NOT_YOURS = "That space is not one this workspace uses."
USAGE = (
    f"`{COMMAND} config` shows this channel's settings. Admins can also use:\n"
    f"• `{COMMAND} config space <space-id>` (or `clear`): this channel's default space\n"
    f"• `{COMMAND} config rules [<space-id>]`: who may see each space\n"
    f"• `{COMMAND} config allow <space-id> channel|user|group <who> …`\n"
    f"• `{COMMAND} config remove <space-id> channel|user|group <who>`"
)


def is_config(text: str) -> bool:
    """Whether the command's text asks for the settings."""
    words = text.split(maxsplit=1)
    return bool(words) and words[0].lower() == WORD


async def configure(
    gate: Gate | None, client: AsyncWebClient, context: Mapping[str, Any], text: str
) -> render.Message:
    """The answer to `/flowpreview config ...`, after making the change it asks for, if any."""
    if gate is None:
        return _reply("Settings need the bot's database, and this deployment has none.")
    asker = Asker.of(context)
    words = text.split()[1:]
    verb, rest = (words[0].lower(), words[1:]) if words else ("", [])
    if verb not in ("", "space", "rules", "allow", "remove"):
        return _reply(USAGE)
    try:
        person = await gate.person(client, asker)
    except DirectoryError as error:
        log.warning("could not tell whether %s is an admin: %s", asker.user_id, error)
        return _reply("I could not check who you are just now. Please try again in a minute.")
    if not verb:
        # The channel's space is shown to admins and to those who may use it, no one else.
        if not person.admin and not (await gate.check(client, asker, None)).allowed:
            return render.refused_message()
        return _settings(gate, asker)
    if not person.admin:
        return _reply(
            "Only workspace admins and owners, and the people flowpreview's operators name as "
            "its admins, can change these settings."
        )
    try:
        if verb == "space":
            return await _space(gate, asker, rest)
        if verb == "rules":
            return await _rules(gate, asker, rest)
        return await _change(gate, asker, verb, rest)
    except RuleError as error:
        return _reply(f":warning: {render.escape(error.message)}")
    except SQLAlchemyError as error:
        log.warning("could not change the settings: %s", type(error).__name__)
        return _reply("The settings could not be saved just now. Please try again in a minute.")


def _settings(gate: Gate, asker: Asker) -> render.Message:
    snapshot = gate.book.snapshot()
    own = snapshot.channel_space(asker.team_id, asker.channel_id) if asker.channel_id else None
    default = gate.effective_space(None)
    if own is not None:
        space = f"This channel's default space is `{render.escape(own)}`."
    elif default is not None:
        space = f"This channel uses the deployment's default space, `{render.escape(default)}`."
    else:
        space = "This channel has no default space: commands must name one with `space:<id>`."
    return _reply(f"{space}\n{USAGE}")


async def _space(gate: Gate, asker: Asker, rest: Sequence[str]) -> render.Message:
    if len(rest) != 1 or not asker.channel_id:
        return _reply(USAGE)
    if rest[0].lower() != "clear" and not gate.administers(asker, rest[0]):
        return _reply(NOT_YOURS)
    if rest[0].lower() == "clear":
        await gate.book.clear_channel_space(asker.team_id, asker.channel_id)
        return _reply("This channel now uses the deployment's default space.")
    await gate.book.set_channel_space(asker.team_id, asker.channel_id, rest[0], by=asker.user_id)
    log.info("%s set the space of %s to %r", asker.user_id, asker.channel_id, rest[0])
    return _reply(f"This channel's default space is now `{render.escape(rest[0])}`.")


async def _rules(gate: Gate, asker: Asker, rest: Sequence[str]) -> render.Message:
    if len(rest) > 1:
        return _reply(USAGE)
    if rest and not gate.administers(asker, rest[0]):
        return _reply(NOT_YOURS)
    rules = [
        rule
        for rule in await gate.book.rules(rest[0] if rest else None)
        if gate.administers(asker, rule.space_id)
    ]
    if not rules:
        return _reply(
            f"No rules: spaces are {gate.settings.default.value} to the workspace's own "
            "members, and closed to guests and people from other organisations."
        )
    lines = [
        f"• `{render.escape(rule.space_id)}`: {rule.kind.value} {_mention(rule.kind, rule.subject)}"
        for rule in rules
    ]
    return _reply("Who may see each space:\n" + "\n".join(lines))


async def _change(gate: Gate, asker: Asker, verb: str, rest: Sequence[str]) -> render.Message:
    if len(rest) < 3 or rest[1].lower() not in KINDS:
        return _reply(USAGE)
    space, kind = rest[0], KINDS[rest[1].lower()]
    if not gate.administers(asker, space):
        return _reply(NOT_YOURS)
    subjects = [_subject(word, asker) for word in rest[2:]]
    if len(subjects) > MAX_SUBJECTS or (verb == "remove" and len(subjects) != 1):
        return _reply(USAGE)
    if verb == "allow":
        added = await gate.book.allow(space, kind, subjects, by=asker.user_id)
        log.info("%s allowed %s %s in %r", asker.user_id, kind.value, ",".join(added), space)
        who = ", ".join(_mention(kind, subject) for subject in subjects)
        return _reply(f"`{render.escape(space)}` is now open to {who}.")
    removed = await gate.book.remove(space, kind, subjects[0])
    log.info("%s removed %s %s from %r", asker.user_id, kind.value, subjects[0], space)
    if not removed:
        return _reply("There was no such rule.")
    return _reply(f"Removed {_mention(kind, subjects[0])} from `{render.escape(space)}`.")


def _subject(word: str, asker: Asker) -> str:
    if word.lower() == "here":
        return asker.channel_id
    match = MENTION.fullmatch(word)
    return match.group(1) if match else word


def _mention(kind: Kind, subject: str) -> str:
    """How Slack shows an ID, as a live mention (IDs are checked when the rule is saved)."""
    if kind is Kind.CHANNEL:
        return f"<#{subject}>"
    if kind is Kind.USER:
        return f"<@{subject}>"
    return f"<!subteam^{subject}>"


def _reply(text: str) -> render.Message:
    return render.private_message(text)
