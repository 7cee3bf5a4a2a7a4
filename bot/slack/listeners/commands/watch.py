"""`/flowpreview watch <flow ID | link | name>`, `watch space:<id>`, `unwatch <same>` and
`watching`: a channel subscribes to a flow's changes of status, or to a whole space's.

Only someone admitted to the space may start a watch, and only in a channel that may see it
(a rule admits the channel, or the default is open and the channel is not shared outside), and
one the bot is in: it posts there. Everything else gets a sentence; refusals and watches are on
the audit trail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.cams.errors import CamsError, ErrorKind
from bot.ids import SPACE_ID
from bot.preview.errors import BusyError
from bot.slack.admission.asker import Asker
from bot.slack.admission.gate import admitted
from bot.slack.blocks import messages
from bot.slack.blocks.watching import watching_message
from bot.slack.constants import COMMAND
from bot.slack.deps import Deps
from bot.slack.edge.web_api import SlackWebError, as_web_client
from bot.slack.parsing import (
    MAX_FLOWS,
    SPACE_PREFIX,
    PreviewRequest,
    UsageRequest,
    parse_command,
)
from bot.store.audit import AuditOutcome
from bot.store.watches import Watches, WatchLimitError

WORDS = frozenset({"watch", "unwatch", "watching"})
USAGE = (
    f"`{COMMAND} watch <flow ID, link or name>` watches one flow here; "
    f"`{COMMAND} watch space:<id>` every flow of a space; `{COMMAND} unwatch …` stops; "
    f"`{COMMAND} watching` lists this channel's watches."
)
NO_STORE = "Watches are kept in the bot's database, which is not configured."
NOT_IN_CHANNEL = (
    "I'm not in this channel, so I could not post its changes here. Invite me first "
    "(`/invite @flowpreview`), then ask again."
)
NOT_A_CHANNEL = "Watches post to a channel: ask in the channel that should hear the changes."


def is_watch(text: str) -> bool:
    """Whether the command's text is about watches."""
    words = text.split(maxsplit=1)
    return bool(words) and words[0].lower() in WORDS


async def answer_watch(
    ack: AsyncAck,
    deps: Deps,
    client: AsyncWebClient,
    context: Mapping[str, Any],
    text: str,
) -> None:
    """Ack a watch command with its answer, within the ack budget."""
    try:
        async with asyncio.timeout(deps.delivery.ack_budget):
            message = await _answer(deps, as_web_client(client), context, text)
    except TimeoutError:
        message = messages.private_message(
            ":hourglass_flowing_sand: That took too long to check. Please try again."
        )
    await ack(**message)


async def _answer(
    deps: Deps, client: AsyncWebClient, context: Mapping[str, Any], text: str
) -> messages.Message:
    watches = deps.watches
    if watches is None:
        return messages.private_message(NO_STORE)
    parts = text.split(maxsplit=1)
    verb, rest = parts[0].lower(), (parts[1] if len(parts) > 1 else "")
    asker = Asker.of(context)
    if not asker.channel_id:
        return messages.private_message(NOT_A_CHANNEL)
    if verb == "watching":
        return watching_message(await watches.for_channel(asker.team_id, asker.channel_id))
    target = _target(rest)
    if isinstance(target, str):
        return messages.private_message(target)
    space, flow_id, words = target
    # Admitted first: a name is looked for only in a space the person may see.
    verdict = await admitted(deps.gate, client, context, space, (flow_id,) if flow_id else ())
    if verdict.look_alike and space is not None:
        return messages.usage_message(messages.LOOK_ALIKE, space)
    if not verdict.allowed:
        return messages.refused_message(unverified=verdict.unverified)
    shown = deps.service.client.space_for(verdict.space)
    if shown is None:
        return messages.no_space_message()
    if words is not None:
        named = await _named(deps, words, shown)
        if not isinstance(named, str):
            return named
        flow_id = named
    if verb == "unwatch":
        removed = await watches.remove(asker.team_id, asker.channel_id, shown, flow_id)
        if removed:
            deps.auditor.watch(asker, shown, flow_id, AuditOutcome.UNWATCHED)
        said = "no longer watches" if removed else "was not watching"
        return messages.private_message(f"This channel {said} {_what(flow_id, shown)}.")
    if not await deps.channels.sees(client, asker.team_id, asker.channel_id, verdict.space):
        why = "refused: the channel may not see the space"
        deps.auditor.refused(asker, shown, why, (flow_id,) if flow_id else ())
        # The same sentence as a refused preview: nothing about the space or the channel.
        return messages.refused_message()
    return await _start(deps, client, asker, shown, flow_id)


async def _start(
    deps: Deps, client: AsyncWebClient, asker: Asker, space: str, flow_id: str | None
) -> messages.Message:
    """Save the watch, once the bot is known to be in the channel; a paused one resumes."""
    watches = deps.watches
    assert watches is not None
    if not await _bot_is_in(client, asker.channel_id):
        return messages.private_message(NOT_IN_CHANNEL)
    if flow_id is not None and not await _looked_up(deps, watches, space, flow_id):
        return messages.private_message(
            f"CAMS has no flow `{messages.escape(flow_id)}` in space `{messages.escape(space)}`, "
            "so there is nothing to watch. Check the flow ID and the space."
        )
    try:
        watch, created = await watches.add(
            asker.team_id, asker.channel_id, space, flow_id, asker.user_id
        )
    except WatchLimitError as error:
        return messages.private_message(f":warning: {messages.escape(str(error))}")
    what = _what(flow_id, space)
    if not created and watch.paused_reason is None:
        return messages.private_message(f"This channel already watches {what}.")
    if not created:
        await watches.resume(watch.id)
    deps.auditor.watch(asker, space, flow_id, AuditOutcome.WATCHED)
    hears = "its status changes" if flow_id else "a flow's status changes, or one appears or goes"
    return messages.private_message(
        f":eyes: This channel now watches {what}: it hears here when {hears}."
    )


def _target(rest: str) -> tuple[str | None, str | None, str | None] | str:
    """(space typed, flow ID, name words), at most one of the last two, neither for a whole
    space; or a sentence saying what is wrong."""
    tokens = rest.split()
    if len(tokens) == 1 and tokens[0].lower().startswith(SPACE_PREFIX):
        space = tokens[0][len(SPACE_PREFIX) :]
        if not SPACE_ID.fullmatch(space):
            return f"That is not a space ID. {USAGE}"
        return space, None, None
    request = parse_command(rest)
    if isinstance(request, UsageRequest):
        return USAGE
    if isinstance(request, PreviewRequest):
        if len(request.flow_ids) != 1:
            return f"Watch one flow at a time. {USAGE}"
        return request.space, request.flow_ids[0], None
    return request.space, None, request.words


async def _named(deps: Deps, words: str, space: str) -> str | messages.Message:
    """The one flow of `space` that `words` name, or the answer listing the matches."""
    snapshot = await deps.service.catalog.wait(space, deps.delivery.ack_budget / 2)
    if snapshot is None:
        return messages.private_message(
            f"The flow list of space {messages.quote(space)} is not at hand yet: try again in "
            "a moment, or give the flow's ID."
        )
    result = snapshot.index.search(words, MAX_FLOWS)
    if result.clear is not None:
        return result.clear.flow_id
    flows = [match.flow for match in result.matches]
    if len(flows) == 1:
        return flows[0].flow_id
    if not flows:
        return messages.no_match_message(
            words, space, len(snapshot.flows), truncated=snapshot.truncated
        )
    return messages.matches_message(words, space, flows, {})


async def _looked_up(deps: Deps, watches: Watches, space: str, flow_id: str) -> bool:
    """Look the flow up before watching it: False when CAMS has no such flow. Its status now
    is what the first poll compares with, so a change made before that poll is not missed."""
    try:
        details = await deps.service.client.get_flow(flow_id, space)
    except CamsError as error:
        # Any other failure (a permission, an outage) is the poller's to meet and to tell.
        return error.kind is not ErrorKind.NOT_FOUND
    except BusyError:
        return True
    await watches.observe(space, flow_id, details.name, details.status_text)
    return True


async def _bot_is_in(client: AsyncWebClient, channel_id: str) -> bool:
    """Whether the bot is a member of the channel (it posts there); a DM with the bot counts."""
    try:
        answer = await client.conversations_info(channel=channel_id)
    except SlackWebError:
        return False
    channel = answer.data.get("channel") if isinstance(answer.data, dict) else None
    if not isinstance(channel, dict):
        return False
    return channel.get("is_member") is True or channel.get("is_im") is True


def _what(flow_id: str | None, space: str) -> str:
    flow = f"flow `{messages.escape(flow_id)}`" if flow_id else "every flow"
    return f"{flow} in space `{messages.escape(space)}`"
