"""What watches say: a change of status in a channel, and the answers to the watch commands.

A change message is for the whole channel, so it never holds a preview link: **Get my preview**
gives each person who clicks their own, after an access check.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.cams.actions import Action
from bot.cams.errors import ErrorKind
from bot.cams.models import FlowStatus
from bot.slack.blocks.cards import card_value
from bot.slack.blocks.messages import (
    STATUS_WORDS,
    Block,
    Message,
    escape,
    mrkdwn,
    plain,
    private_message,
    quote,
    section,
    slack_date,
)
from bot.slack.constants import COMMAND, GET_MY_PREVIEW_ACTION_ID
from bot.slack.parsing import clip
from bot.store.watches import Change, ChangeKind, Watch

# How much of a section's 3,000 characters the list of watches fills, leaving room for the
# line that counts the rest.
LIST_ROOM = 2900
# What to do about a paused watch, by why CAMS refused its polls.
PAUSE_ADVICE = {
    ErrorKind.PERMISSION_DENIED.value: "An administrator needs to grant the bot {actions}.",
    ErrorKind.WRONG_OWNER.value: (
        "The space belongs to a different Alibaba Cloud account than the bot's."
    ),
    ErrorKind.NOT_SUBSCRIBED.value: (
        "Chat App Message Service is not activated for the bot's Alibaba Cloud account."
    ),
}
PAUSE_ADVICE_ANY = "An administrator needs to look at the bot's access to CAMS."
# Changes that need someone now: posted to the channel as well as in the flow's thread.
URGENT = frozenset({FlowStatus.BLOCKED.value, FlowStatus.THROTTLED.value})
STATUS_FOR = frozenset(status.value for status in FlowStatus)
# How a status reads in a change; one the bot does not know is shown as CAMS wrote it.
SHORT_WORDS: dict[str, str] = {
    FlowStatus.PUBLISHED.value: "Published",
    FlowStatus.DRAFT.value: "Draft",
    FlowStatus.DEPRECATED.value: "Deprecated",
    FlowStatus.THROTTLED.value: ":snail: Throttled",
    FlowStatus.BLOCKED.value: ":octagonal_sign: Blocked",
}


def status_words(status: str | None) -> str:
    """A status in a few words: the bot's own for those it knows, else as CAMS wrote it."""
    if status is None:
        return "unknown"
    return SHORT_WORDS.get(status) or quote(clip(status, 32))


def change_message(change: Change) -> Message:
    """The message a watching channel gets for `change`."""
    name = quote(clip(change.name, 100)) if change.name else f"`{escape(change.flow_id)}`"
    where = f"space `{escape(change.space_id)}`"
    if change.kind is ChangeKind.NEW:
        headline = f":new: New flow {name} in {where}: {status_words(change.new_status)}"
    elif change.kind is ChangeKind.REMOVED:
        headline = f":wastebasket: Flow {name} is gone from {where}: CAMS no longer has it"
    else:
        arrow = f"{status_words(change.old_status)} → *{status_words(change.new_status)}*"
        headline = f"Flow {name}: {arrow}"
    blocks: list[Block] = [section(headline)]
    known = FlowStatus(change.new_status) if change.new_status in STATUS_FOR else None
    if change.kind is ChangeKind.STATUS and known is not None:
        blocks.append({"type": "context", "elements": [mrkdwn(STATUS_WORDS[known])]})
    blocks.append(
        {
            "type": "context",
            "elements": [
                mrkdwn(f"`{escape(change.flow_id)}` · {where} · seen {slack_date(change.seen_at)}")
            ],
        }
    )
    if change.kind is not ChangeKind.REMOVED:
        button = {
            "type": "button",
            "text": plain("Get my preview"),
            "action_id": GET_MY_PREVIEW_ACTION_ID,
            "value": card_value(change.flow_id, change.space_id),
        }
        blocks.append({"type": "actions", "elements": [button]})
    return {"text": _fallback(change), "blocks": blocks}


def _fallback(change: Change) -> str:
    """The change in a line, for notifications: mrkdwn too, so a name is escaped."""
    name = escape(clip(change.name or change.flow_id, 200))
    space = escape(change.space_id)
    if change.kind is ChangeKind.NEW:
        return f"New flow {name} in space {space}: {escape(change.new_status or 'no status')}"
    if change.kind is ChangeKind.REMOVED:
        return f"Flow {name} is gone from space {space}"
    return f"{name}: {escape(change.old_status or '?')} → {escape(change.new_status or '?')}"


def paused_message(watch: Watch, reason: str) -> Message:
    """The one message a channel gets when CAMS refuses the polls of one of its watches;
    `reason` is the ErrorKind's value."""
    if watch.flow_id:
        what, again = f"flow `{escape(watch.flow_id)}`", escape(watch.flow_id)
        actions = f"`{Action.GET_FLOW.ram_action}`"
    else:
        what, again = "every flow", f"space:{escape(watch.space_id)}"
        actions = f"`{Action.LIST_FLOW.ram_action}` and `{Action.GET_FLOW.ram_action}`"
    advice = PAUSE_ADVICE.get(reason, PAUSE_ADVICE_ANY).format(actions=actions)
    text = (
        f":warning: I stopped watching {what} in space `{escape(watch.space_id)}`: CAMS refuses "
        f"the bot there ({escape(clip(reason, 64))}). {advice} Then `{COMMAND} watch {again}` "
        "starts the watch again."
    )
    return {"text": text, "blocks": [section(text)]}


def watching_message(watches: Sequence[Watch]) -> Message:
    """`/flowpreview watching`: the channel's watches, who added each and when."""
    if not watches:
        return private_message(
            f"This channel watches nothing. `{COMMAND} watch <flow ID, link or name>` or "
            f"`{COMMAND} watch space:<id>` starts a watch."
        )
    text = "This channel watches:"
    for shown, watch in enumerate(watches):
        what = f"flow `{escape(watch.flow_id)}`" if watch.flow_id else "every flow"
        paused = f" (paused: {escape(watch.paused_reason)})" if watch.paused_reason else ""
        line = (
            f"\n• {what} in space `{escape(watch.space_id)}`, by <@{escape(watch.created_by)}> "
            f"{slack_date(watch.created_at)}{paused}"
        )
        if len(text) + len(line) > LIST_ROOM:
            # Whole lines only: a cut one could leave a mention or a date half written.
            text += f"\n…and {len(watches) - shown} more."
            break
        text += line
    return private_message(text)
