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

A space is saved (as a channel's space, or in a rule) only when it is one the deployment can use:
listed in CAMS_SPACES when that is set, else one CAMS lists flows in. The answer comes within
the ack budget; a change the database has not taken by then (another process holding the
SQLite write lock, say) is acknowledged as under way, and its outcome follows through the
command's response_url.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.errors import RuleError
from bot.access.ids import Kind, check_space, look_alike_error
from bot.access.policy import AccessDefault
from bot.preview.space_check import SpaceCheck, check_space_known
from bot.slack.admission.asker import Asker
from bot.slack.admission.directory import DirectoryError
from bot.slack.admission.gate import Gate
from bot.slack.blocks import messages
from bot.slack.constants import COMMAND
from bot.slack.deps import Deps
from bot.slack.parsing import HELP_WORDS
from bot.store.database import DatabaseError

log = logging.getLogger(__name__)

WORD = "config"
VERBS = ("space", "rules", "allow", "remove")
KINDS = {"channel": Kind.CHANNEL, "user": Kind.USER, "group": Kind.USERGROUP}
_WORDS = {kind: word for word, kind in KINDS.items()}
# Slack's escaped mentions: <#C123|name>, <@U123|name>, <!subteam^S123|@name>.
MENTION = re.compile(r"<(?:#|@|!subteam\^)([A-Z0-9]+)(?:\|[^>]*)?>")
# At most this many IDs in one allow: a typed list, not a bulk import.
MAX_SUBJECTS = 50
# Said alike whether the space is another workspace's or does not exist: nothing is revealed.
NOT_YOURS = "That space is not one this workspace uses."
# Escaped: mrkdwn takes `<…>` for a link or a mention, even inside code.
USAGE = messages.escape(
    f"`{COMMAND} config` shows this channel's settings. Admins can also use:\n"
    f"• `{COMMAND} config space <space-id>` (or `clear`): this channel's default space\n"
    f"• `{COMMAND} config rules [<space-id>]`: who may see each space\n"
    f"• `{COMMAND} config allow <space-id> channel|user|group <who> …`\n"
    f"• `{COMMAND} config remove <space-id> channel|user|group <who>`"
)
# The ack when the answer is not ready within the ack budget: a change, or anything else.
PENDING = ":hourglass_flowing_sand: Still saving: the outcome follows here in a moment."
PENDING_ANSWER = ":hourglass_flowing_sand: Still looking: the answer follows here in a moment."
CHANGES = frozenset({"space", "allow", "remove"})
_NOT_SAVED = {
    SpaceCheck.NOT_LISTED: (
        "`{space}` is not one of the spaces flowpreview is set up for (CAMS_SPACES), so "
        "nothing was saved."
    ),
    SpaceCheck.UNKNOWN: (
        "CAMS lists no flows in a space `{space}`, so nothing was saved. Check the ID: it is "
        "written exactly as CAMS gives it, letter case included."
    ),
    SpaceCheck.NO_ANSWER: (
        "I could not check `{space}` with CAMS just now, so nothing was saved. Please try "
        "again in a minute."
    ),
    SpaceCheck.CANNOT_LIST: (
        "I cannot check `{space}` with CAMS (this deployment may not list flows), so nothing "
        "was saved. flowpreview's operators can add it to CAMS_SPACES."
    ),
}

# Whether a space may be saved, given at most so many seconds to find out.
SpaceChecker = Callable[[str, float], Awaitable[SpaceCheck]]


def is_config(text: str) -> bool:
    """Whether the command's text asks for the settings."""
    words = text.split(maxsplit=1)
    return bool(words) and words[0].lower() == WORD


async def answer_config(
    ack: AsyncAck,
    deps: Deps,
    client: AsyncWebClient,
    context: Mapping[str, Any],
    text: str,
    *,
    response_url: str,
) -> None:
    """Ack `/flowpreview config ...` within the ack budget: with the answer when it is ready,
    else with PENDING, the answer following through `response_url`."""
    service = deps.service

    async def known(space: str, within: float) -> SpaceCheck:
        return await check_space_known(service.client, service.spaces, space, within)

    loop = asyncio.get_running_loop()
    deadline = deps.delivery.deadline()
    work = asyncio.create_task(
        configure(deps.gate, client, context, text, check=known, deadline=deadline)
    )
    try:
        done, _ = await asyncio.wait({work}, timeout=max(0.0, deadline - loop.time()))
    except asyncio.CancelledError:
        work.cancel()
        raise
    if done:
        await ack(**work.result())
        return
    words = text.split()
    changing = len(words) > 1 and words[1].lower() in CHANGES
    await ack(**_reply(PENDING if changing else PENDING_ANSWER))
    deps.inflight.spawn(_follow_up(work, deps, response_url), response_url)


async def _follow_up(work: asyncio.Task[messages.Message], deps: Deps, response_url: str) -> None:
    try:
        message = await work
    except asyncio.CancelledError:
        # Shutdown: the change is rolled back, and the person gets the restart apology.
        work.cancel()
        raise
    except Exception:
        log.exception("changing the settings failed")
        message = messages.internal_error_message()
    await deps.replies.post(response_url, message)


async def configure(
    gate: Gate | None,
    client: AsyncWebClient,
    context: Mapping[str, Any],
    text: str,
    *,
    check: SpaceChecker,
    deadline: float,
) -> messages.Message:
    """The answer to `/flowpreview config ...`, after making the change it asks for, if any.

    `check` tells whether a space may be saved; it is given until `deadline` (loop time).
    """
    if gate is None:
        return _reply("Settings need the bot's database, and this deployment has none.")
    asker = Asker.of(context)
    words = text.split()[1:]
    verb, rest = (words[0].lower(), words[1:]) if words else ("", [])
    if verb in HELP_WORDS:
        return _reply(USAGE)
    if verb and verb not in VERBS:
        return _reply(f"{_not_understood(words[0], VERBS)}\n{USAGE}")
    try:
        person = await gate.person(client, asker)
    except DirectoryError as error:
        log.warning("could not tell whether %s is an admin: %s", asker.user_id, error)
        return _reply("I could not check who you are just now. Please try again in a minute.")
    if not verb:
        # The channel's space is shown to admins and to those who may use it, no one else.
        if not person.admin and not (await gate.check(client, asker, None)).allowed:
            return messages.refused_message()
        return _settings(gate, asker)
    if not person.admin:
        return _reply(
            "Only workspace admins and owners, and the people flowpreview's operators name as "
            "its admins, can change these settings."
        )
    loop = asyncio.get_running_loop()

    async def unusable(space: str) -> messages.Message | None:
        """Why `space` may not be saved, as the answer; None when it may."""
        check_space(space)
        twin = gate.look_alike(space)
        if twin is not None:
            raise look_alike_error(space, twin)
        found = await check(space, deadline - loop.time())
        if found is SpaceCheck.KNOWN:
            return None
        return _reply(_NOT_SAVED[found].format(space=messages.escape(space)))

    try:
        if verb == "space":
            return await _space(gate, asker, rest, unusable)
        if verb == "rules":
            return await _rules(gate, asker, rest)
        return await _change(gate, client, asker, verb, rest, unusable=unusable)
    except RuleError as error:
        return _reply(f":warning: {messages.escape(error.message)}")
    except DatabaseError as error:
        log.warning("could not change the settings: %s", error)
        return _reply("The settings could not be saved just now. Please try again in a minute.")


def _not_understood(word: str, known: Sequence[str]) -> str:
    """The sentence for a word that is none of `known`, with the closest one if any is close."""
    close = difflib.get_close_matches(word.lower(), known, n=1)
    guess = f" Did you mean `{close[0]}`?" if close else ""
    return f"I don't know `{messages.escape(word[:40])}` here.{guess}"


def _settings(gate: Gate, asker: Asker) -> messages.Message:
    snapshot = gate.book.snapshot()
    own = snapshot.channel_space(asker.team_id, asker.channel_id) if asker.channel_id else None
    default = gate.effective_space(None)
    if own is not None:
        space = f"This channel's default space is `{messages.escape(own)}`."
    elif default is not None:
        space = f"This channel uses the deployment's default space, `{messages.escape(default)}`."
    else:
        space = "This channel has no default space: commands must name one with `space:<id>`."
    return _reply(f"{space}\n{USAGE}")


async def _space(
    gate: Gate,
    asker: Asker,
    rest: Sequence[str],
    unusable: Callable[[str], Awaitable[messages.Message | None]],
) -> messages.Message:
    if len(rest) != 1 or not asker.channel_id:
        return _reply(USAGE)
    if rest[0].lower() == "clear":
        await gate.book.clear_channel_space(asker.team_id, asker.channel_id)
        return _reply("This channel now uses the deployment's default space.")
    space = rest[0]
    if not gate.administers(asker, space):
        return _reply(NOT_YOURS)
    refusal = await unusable(space)
    if refusal is not None:
        return refusal
    await gate.book.set_channel_space(asker.team_id, asker.channel_id, space, by=asker.user_id)
    log.info("%s set the space of %s to %r", asker.user_id, asker.channel_id, space)
    return _reply(f"This channel's default space is now `{messages.escape(space)}`.")


async def _rules(gate: Gate, asker: Asker, rest: Sequence[str]) -> messages.Message:
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
        f"• `{messages.escape(rule.space_id)}`: "
        f"{rule.kind.value} {_mention(rule.kind, rule.subject)}"
        for rule in rules
    ]
    return _reply("Who may see each space:\n" + "\n".join(lines))


async def _change(
    gate: Gate,
    client: AsyncWebClient,
    asker: Asker,
    verb: str,
    rest: Sequence[str],
    *,
    unusable: Callable[[str], Awaitable[messages.Message | None]],
) -> messages.Message:
    if len(rest) >= 2 and rest[1].lower() not in KINDS:
        return _reply(f"{_not_understood(rest[1], tuple(KINDS))}\n{USAGE}")
    if len(rest) < 3:
        return _reply(USAGE)
    space, word = rest[0], rest[1].lower()
    kind = KINDS[word]
    if not gate.administers(asker, space):
        return _reply(NOT_YOURS)
    subjects = [_subject(item, asker) for item in rest[2:]]
    if len(subjects) > MAX_SUBJECTS or (verb == "remove" and len(subjects) != 1):
        return _reply(USAGE)
    if verb == "remove":
        twin = gate.look_alike(space)
        if twin is not None:
            raise look_alike_error(space, twin)
        return await _remove(gate, client, asker, space, kind=kind, subject=subjects[0])
    # A rule on a space that is gone can still be removed; only a new one needs a real space.
    refusal = await unusable(space)
    if refusal is not None:
        return refusal
    added = await gate.book.allow(space, kind, subjects, by=asker.user_id)
    log.info("%s allowed %s %s in %r", asker.user_id, kind.value, ",".join(added), space)
    who = ", ".join(_mention(kind, subject) for subject in subjects)
    lines = [f"`{messages.escape(space)}` is now open to {who}."]
    first = bool(added) and len(gate.book.snapshot().rules_for(space)) == len(added)
    if first and gate.settings.default is AccessDefault.OPEN:
        who_word = subjects[0] if len(subjects) == 1 else "<who>"
        undo = messages.escape(f"{COMMAND} config remove {space} {_WORDS[kind]} {who_word}")
        each = "" if len(subjects) == 1 else " for each of them"
        lines.append(
            "It had no rules, so it was open to all the workspace's members: now it is closed "
            f"to everyone its rules do not name. To undo, remove the rule with `{undo}`{each}."
        )
    lines.extend(await _left_out(gate, client, asker, space))
    return _reply("\n".join(lines))


async def _remove(
    gate: Gate, client: AsyncWebClient, asker: Asker, space: str, *, kind: Kind, subject: str
) -> messages.Message:
    removed = await gate.book.remove(space, kind, subject)
    log.info("%s removed %s %s from %r", asker.user_id, kind.value, subject, space)
    if not removed:
        return _reply("There was no such rule.")
    lines = [f"Removed {_mention(kind, subject)} from `{messages.escape(space)}`."]
    if not gate.book.snapshot().rules_for(space):
        if gate.settings.default is AccessDefault.OPEN:
            lines.append("It has no rules left: it is open to all the workspace's members again.")
    else:
        lines.extend(await _left_out(gate, client, asker, space))
    return _reply("\n".join(lines))


async def _left_out(gate: Gate, client: AsyncWebClient, asker: Asker, space: str) -> list[str]:
    """A warning when the space's rules, as they now are, do not let the admin in."""
    try:
        # Asked again: a group the rules name only now matters only now.
        person = await gate.person(client, asker)
    except DirectoryError as error:
        log.warning("could not tell whether %s is still let in: %s", asker.user_id, error)
        return []
    if gate.allowed(person, space).allowed:
        return []
    return [
        f":warning: These rules do not name you, this channel or a group of yours: you can no "
        f"longer preview the flows of `{messages.escape(space)}` yourself (you can still change "
        "its rules)."
    ]


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


def _reply(text: str) -> messages.Message:
    return messages.private_message(text)
