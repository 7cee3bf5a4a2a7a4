"""Every message the bot shows, as Block Kit JSON.

Blocks are plain dicts: slack_sdk's model classes validate on every `to_dict()` and cost more
than the rest of a cached answer together. The tests parse every message back through those
models, so a message over Slack's limits fails a test. All user and upstream text passes
through `escape`, and what a person typed or CAMS wrote is shown in a code span (`quote`),
so that none of it is taken as formatting; only https preview links of at most 3,000
characters become buttons.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.cams.actions import Action
from bot.cams.errors import ErrorKind
from bot.cams.models import FlowDetails, FlowPreview, FlowStatus, FlowSummary
from bot.preview.errors import BusyError
from bot.preview.service import Failure, Outcome
from bot.slack.constants import (
    COMMAND,
    OPEN_ACTION_ID,
    PICK_ACTION_ID,
    PICKER_NAME,
    SHARE_ACTION_ID,
)
from bot.slack.parsing import MAX_FLOWS, clip

Message = dict[str, Any]
Block = dict[str, Any]
# What is known about a flow besides its preview: GetFlow's details, or the catalog's entry.
Known = FlowDetails | FlowSummary

MAX_BLOCKS = 50
MAX_BUTTON_URL = 3000
EXAMPLE_ID = "1234567890123456"
LOOKALIKE_BACKTICK = "\u02cb"

SENTENCES: dict[ErrorKind, str] = {
    ErrorKind.NOT_SUBSCRIBED: (
        "Chat App Message Service is not activated for the bot's Alibaba Cloud account. "
        "An administrator needs to subscribe to it."
    ),
    ErrorKind.PERMISSION_DENIED: (
        "The bot's Alibaba Cloud RAM user is not allowed to call `{action}`. "
        "An administrator needs to grant that action."
    ),
    ErrorKind.WRONG_OWNER: (
        "This flow or space belongs to a different Alibaba Cloud account than the bot's. "
        "Check the flow ID and the space."
    ),
    ErrorKind.NOT_FOUND: "CAMS has no such flow in this space. Check the flow ID and the space.",
    ErrorKind.BAD_REQUEST: "CAMS did not accept the request: {message}",
    ErrorKind.AUTH_FAILED: (
        "CAMS rejected the bot's Alibaba Cloud credentials. An administrator needs to check "
        "the AccessKey."
    ),
    ErrorKind.THROTTLED: "CAMS is rate-limiting the bot's account right now. Try again {when}.",
    ErrorKind.SERVER_ERROR: "CAMS is having trouble right now. Try again in a minute.",
    ErrorKind.NETWORK: "The bot cannot reach CAMS right now. Try again in a minute.",
    ErrorKind.MALFORMED_RESPONSE: (
        "CAMS sent an answer the bot cannot use. Try again in a minute; if it persists, "
        "tell the bot's maintainers."
    ),
}
# Said of a typed space that differs from a known one only in case or '_' versus '-', without
# naming the known one: whoever typed it may not be let in there.
LOOK_ALIKE = "is not a space I can use: space IDs are written exactly as CAMS gives them"
# How a flow CAMS sent without a name is listed.
NO_NAME = "(no name)"
BUSY_SENTENCE = "Many previews are being fetched right now. Try again {when}."
STATUS_WORDS: dict[FlowStatus, str] = {
    FlowStatus.PUBLISHED: "Published",
    FlowStatus.DRAFT: (
        ":construction: *Draft*: not published yet, so what the preview shows may still change"
    ),
    FlowStatus.DEPRECATED: ":no_entry_sign: *Deprecated*: no longer sent to customers",
    FlowStatus.THROTTLED: (
        ":snail: *Throttled* by Meta: at most 10 new sends an hour until its endpoint recovers"
    ),
    FlowStatus.BLOCKED: (
        ":octagonal_sign: *Blocked* by Meta: no new sends, and people cannot open it"
    ),
}
# What each read action enables, for the sentences that say which one is missing.
ENABLES: dict[Action, str] = {
    Action.GET_FLOW_PREVIEW_URL: "preview links",
    Action.LIST_FLOW: "search by name and the picker",
    Action.GET_FLOW: "the flow's name and status on previews",
}


def escape(text: str) -> str:
    """Text made inert for mrkdwn: Slack's three control characters become entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote(text: str) -> str:
    """`text` as inert inline code: no bold, italics, strike, mention or link inside it.

    Slack has no escape for `*`, `_`, `~` or a backtick, but it renders nothing inside a code
    span. A backtick in the text would end the span, so it is shown as a look-alike,
    the modifier letter grave accent.
    """
    return f"`{escape(text.replace('`', LOOKALIKE_BACKTICK))}`" if text else "(nothing)"


def error_sentence(failure: Failure) -> str:
    """One sentence a person can act on, with the Alibaba RequestId for support."""
    if isinstance(failure, BusyError):
        return BUSY_SENTENCE.format(when=_when(failure.retry_after))
    # Clipped before escaping, which can make text five times longer, so that ten of these
    # stay well inside a section's 3,000 characters.
    sentence = SENTENCES[failure.kind].format(
        message=quote(clip(failure.message, 300)),
        when=_when(failure.retry_after),
        action=(failure.action or Action.GET_FLOW_PREVIEW_URL).ram_action,
    )
    if failure.request_id:
        sentence += f" (RequestId {quote(clip(failure.request_id, 64))})"
    return sentence


def preview_message(
    outcomes: Sequence[tuple[str, Outcome]],
    space: str | None,
    now: float,
    known: Mapping[str, Known] | None = None,
) -> Message:
    """The ephemeral answer for up to MAX_FLOWS flows: name and status when `known`, link,
    expiry and buttons per flow."""
    blocks: list[Block] = []
    for index, (flow_id, outcome) in enumerate(outcomes):
        about = known.get(flow_id) if known else None
        blocks.extend(_flow_blocks(index, flow_id, outcome, space, now, about=about))
    privacy = "Only you can see this."
    if any("url" in element for block in blocks for element in block.get("elements", ())):
        privacy += " Anyone holding a preview link can open it."
    notes = [privacy]
    if space:
        notes.insert(0, f"Space `{escape(space)}`")
    blocks.append({"type": "context", "elements": [mrkdwn(" · ".join(notes))]})
    return _message(blocks, _fallback(outcomes), "ephemeral")


def usage_message(
    problem: str | None = None, token: str | None = None, *, search_denied: bool = False
) -> Message:
    """How to use the command, after what was wrong if anything was (about `token`).

    `search_denied`: ListFlow is denied for the default space, so the help says what search
    needs instead of promising it.
    """
    syntax = escape(f"{COMMAND} <flow-id or name> [space:<CustSpaceId>]")
    search = (
        f"• :warning: Search by name is off: {search_denied_sentence()}\n"
        if search_denied
        else f"• Or a flow's name, or part of it: `{COMMAND} sign up` (case, accents, word "
        "order and small typos don't matter).\n"
    )
    usage = (
        f"*Usage:* `{syntax}`\n"
        f"• Up to {MAX_FLOWS} flow IDs (runs of 10 to 20 digits) or flow links "
        "(`…/flows/&lt;id&gt;/…`).\n"
        f"{search}"
        "• `space:&lt;id&gt;` asks in that CAMS space instead of the default one.\n"
        f"• `{COMMAND} watch &lt;flow or space:id&gt;` tells this channel when a flow's status "
        f"changes; `{COMMAND} watching` lists its watches.\n"
        f"• Example: `{COMMAND} {EXAMPLE_ID}`\n"
        "• Or pick *Get flow preview* from a message's ⋯ menu to preview the flows it mentions, "
        f"or *{PICKER_NAME}* from the shortcuts menu to pick a flow from a list."
    )
    blocks: list[Block] = []
    if problem:
        about = f"{quote(token)} " if token is not None else ""
        blocks.append(section(f":warning: {about}{escape(problem)}"))
    blocks.append(section(usage))
    return _message(blocks, f"Usage: {COMMAND} <flow-id or name> [space:<id>]", "ephemeral")


def fetching_message(flow_ids: Sequence[str]) -> Message:
    """The immediate answer when the previews will follow through response_url."""
    names = ", ".join(f"`{escape(flow_id)}`" for flow_id in flow_ids)
    text = f":hourglass_flowing_sand: Fetching the preview of {names}…"
    return _message([section(text)], "Fetching…", "ephemeral")


def no_flows_message() -> Message:
    """The answer to a shortcut on a message that names no flow."""
    text = (
        "I found no flows in that message: no flow ID, flow link or name of a flow in the "
        "default space. A flow ID is a run of 10 to 20 digits, like "
        f"`{EXAMPLE_ID}`, or sits in a link like "
        f"`https://business.facebook.com/wa/manage/flows/{EXAMPLE_ID}/preview/`."
    )
    return _message([section(text)], text, "ephemeral")


def internal_error_message() -> Message:
    """The answer when the bot itself failed; the details are in its logs."""
    text = (
        ":warning: Something went wrong inside flowpreview. "
        "Its maintainers can find the details in its logs."
    )
    return _message([section(text)], text, "ephemeral")


REFUSED_TEXT = (
    ":no_entry: You don't have access to flow previews here. If you should, ask a flowpreview "
    "admin in your workspace to let you or this channel in."
)


def private_message(text: str) -> Message:
    """`text` (mrkdwn the bot wrote, with anything typed escaped) for the asker alone."""
    return _message([section(text)], text, "ephemeral")


# When Slack cannot say who is asking (down, slow, or answering garbage), nobody is let in, and
# the person is told why: asking an admin would not help.
UNVERIFIED_TEXT = (
    ":warning: I could not check with Slack who you are just now, so I can't show flow "
    "previews. Please try again in a minute."
)


def refused_text(*, unverified: bool = False) -> str:
    """Why someone is refused: the access rules, or Slack not saying who they are."""
    return UNVERIFIED_TEXT if unverified else REFUSED_TEXT


def refused_message(*, unverified: bool = False) -> Message:
    """The answer to someone refused; it says nothing about the space."""
    text = refused_text(unverified=unverified)
    return _message([section(text)], text, "ephemeral")


def restarted_message() -> Message:
    """The last word to someone whose reply was not ready when the bot shut down."""
    text = (
        ":warning: flowpreview restarted before your preview was ready. "
        "Please try again in a moment."
    )
    return _message([section(text)], text, "ephemeral")


def matches_message(
    words: str,
    space: str,
    matches: Sequence[FlowSummary],
    statuses: Mapping[str, FlowStatus],
) -> Message:
    """Several flows match a search: each with its name, status when known, and a button."""
    count = len(matches)
    if count >= MAX_FLOWS:
        header = f"The {MAX_FLOWS} best matches for {quote(words)} in space {quote(space)}."
    else:
        plural = "s" if count != 1 else ""
        header = f"{count} flow{plural} in space {quote(space)} match {quote(words)}."
    header += " Pick one:"
    blocks: list[Block] = [section(header)]
    for index, flow in enumerate(matches[:MAX_FLOWS]):
        status = statuses.get(flow.flow_id)
        name = quote(clip(flow.name, 100)) if flow.name else NO_NAME
        text = f"{name} · `{escape(flow.flow_id)}`"
        if status is not None:
            text += f"\n{STATUS_WORDS[status]}"
        block = section(text, f"match-{index}")
        block["accessory"] = {
            "type": "button",
            "text": plain("Preview"),
            "action_id": PICK_ACTION_ID,
            "value": share_value(flow.flow_id, space),
        }
        blocks.append(block)
    blocks.append({"type": "context", "elements": [mrkdwn("Only you can see this.")]})
    names = ", ".join(f.name or NO_NAME for f in matches[:MAX_FLOWS])
    fallback = f"{count} flows match {words!r}: {names}"
    return _message(blocks, escape(clip(fallback, 500)), "ephemeral")


def no_match_message(words: str, space: str, flows: int, *, truncated: bool = False) -> Message:
    """No flow of the space matches: say where the bot looked and what to try.

    `truncated`: the space holds more flows than the bot keeps (CATALOG_MAX_FLOWS).
    """
    among = f"the first {flows} flows the bot keeps of" if truncated else f"the {flows} flows in"
    text = (
        f"No flow among {among} space {quote(space)} is named like {quote(words)}. "
        "Try fewer or shorter words, check the spelling, or add `space:&lt;id&gt;` to look in "
        f"another space. The *{PICKER_NAME}* shortcut lists every flow, and "
        f"`{COMMAND} &lt;flow-id&gt;` works with the ID from the CAMS console."
    )
    return _message([section(text)], f"No flow in space {space} matches.", "ephemeral")


def search_unavailable_message(space: str, *, denied: bool, loading: bool) -> Message:
    """Search cannot run: ListFlow is denied, or the space's flow list is not loaded."""
    if denied:
        text = (
            f":warning: Search by name is not available: {search_denied_sentence()} "
            f"Meanwhile `{COMMAND} &lt;flow-id&gt;` works."
        )
    elif loading:
        text = (
            f":hourglass_flowing_sand: The flow list of space {quote(space)} is still loading. "
            "Try again in a moment."
        )
    else:
        text = (
            f":warning: The bot cannot load the flow list of space {quote(space)} right now. "
            f"Try again in a minute, or use `{COMMAND} &lt;flow-id&gt;`."
        )
    return _message([section(text)], "Search by name is not available right now.", "ephemeral")


def search_denied_sentence() -> str:
    """Which RAM action enables search, for the help text and the refusals."""
    action = Action.LIST_FLOW
    return (
        f"the bot's RAM user may not call `{action.ram_action}`, which enables "
        f"{ENABLES[action]}. An administrator can grant it."
    )


def no_space_message() -> Message:
    """A search with no space to search in."""
    text = (
        ":warning: Search by name needs a CAMS space: add `space:&lt;CustSpaceId&gt;`, or ask "
        "the bot's operator to set `CAMS_CUST_SPACE_ID`."
    )
    return _message([section(text)], "Search by name needs a space.", "ephemeral")


def searching_message(words: str, space: str) -> Message:
    """The immediate answer when the space's flow list is still loading."""
    text = (
        f":hourglass_flowing_sand: Loading the flow list of space {quote(space)} to look for "
        f"{quote(words)}…"
    )
    return _message([section(text)], "Searching…", "ephemeral")


def share_value(flow_id: str, space: str | None) -> str:
    """What the Share button carries: enough to fetch the same preview again."""
    return json.dumps({"flow": flow_id, "space": space}, separators=(",", ":"))


def flow_title(flow_id: str, about: Known | None) -> str:
    """`*Flow* `name` · `id``, with its status in plain words when GetFlow told it."""
    if about is None:
        return f"*Flow `{escape(flow_id)}`*"
    title = (
        f"*Flow* {quote(clip(about.name, 100))} · `{escape(flow_id)}`"
        if about.name
        else f"*Flow `{escape(flow_id)}`*"
    )
    status = about.status if isinstance(about, FlowDetails) else None
    return f"{title}\n{STATUS_WORDS[status]}" if status is not None else title


def _flow_blocks(
    index: int,
    flow_id: str,
    outcome: Outcome,
    space: str | None,
    now: float,
    *,
    about: Known | None,
) -> list[Block]:
    title = flow_title(flow_id, about)
    if not isinstance(outcome, FlowPreview):
        text = f":warning: {title}: {error_sentence(outcome)}"
        return [section(text, f"flow-{index}")]
    button = open_button(outcome)
    if button is None:
        text = f":warning: {title}: the preview link is too long for Slack to show as a button."
        return [section(text, f"flow-{index}")]
    share = {
        "type": "button",
        "text": plain("Share in channel"),
        "action_id": SHARE_ACTION_ID,
        "value": share_value(flow_id, space),
    }
    return [
        section(f"{title}\n{expiry_text(outcome, now)}", f"flow-{index}"),
        {"type": "actions", "block_id": f"actions-{index}", "elements": [button, share]},
    ]


def open_button(preview: FlowPreview) -> Block | None:
    """The **Open preview** URL button, or None when the link is not https or too long."""
    url = preview.preview_url
    if not url.startswith("https://") or len(url) > MAX_BUTTON_URL:
        return None
    return {
        "type": "button",
        "text": plain("Open preview"),
        "action_id": OPEN_ACTION_ID,
        "url": url,
        "style": "primary",
    }


def expiry_text(preview: FlowPreview, now: float) -> str:
    """When the link expires, in the viewer's time zone, and how long is left."""
    return f"Link expires {slack_date(preview.expires_at)} ({time_left(preview, now)})"


def slack_date(at: datetime) -> str:
    """`at` (an aware UTC time) as Slack's date token: shown in the viewer's time zone, with
    the UTC time where a client cannot."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def time_left(preview: FlowPreview, now: float) -> str:
    """How long the link has left, as the preview shows it: the only part that moves with time."""
    seconds = int(preview.expires_at.timestamp()) - now
    if seconds <= 0:
        return "expired"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} left"
    return "less than a minute left"


def _when(retry_after: float | None) -> str:
    if retry_after is None or retry_after <= 1:
        return "in a few seconds"
    return f"in {math.ceil(retry_after)} seconds"


def _fallback(outcomes: Sequence[tuple[str, Outcome]]) -> str:
    lines = []
    for flow_id, outcome in outcomes:
        if isinstance(outcome, FlowPreview):
            lines.append(f"Flow {flow_id}: {escape(outcome.preview_url)}")
        else:
            lines.append(f"Flow {flow_id}: no preview")
    return "\n".join(lines)


def _message(blocks: list[Block], text: str, response_type: str) -> Message:
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"{len(blocks)} blocks; Slack allows {MAX_BLOCKS} in one message")
    return {
        "response_type": response_type,
        "text": text,
        "blocks": blocks,
    }


def section(text: str, block_id: str | None = None) -> Block:
    """A section block of mrkdwn `text`."""
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def mrkdwn(text: str) -> Block:
    """A mrkdwn text object."""
    return {"type": "mrkdwn", "text": text}


def plain(text: str) -> Block:
    """A plain_text object, emoji shortcodes shown."""
    return {"type": "plain_text", "text": text, "emoji": True}
