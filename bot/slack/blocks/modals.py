"""The picker's modals as Block Kit dicts, and reading back what comes in view payloads.

Everything a view payload carries was first written here, but it arrives in a request and is
read as untrusted: private_metadata, the selected options and the response_urls are checked
before anything uses them. Text from CAMS passes through `messages.escape` in mrkdwn and is
clipped to Slack's limits everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.cams.models import FlowPreview, FlowSummary
from bot.ids import FLOW_ID, SLACK_CHANNEL_ID, SLACK_VIEW_ID
from bot.preview.service import Failure
from bot.preview.spaces import SpaceChoice
from bot.slack.blocks import messages
from bot.slack.constants import (
    COMMAND,
    PICKER_CALLBACK_ID,
    PICKER_FLOW_ACTION_ID,
    PICKER_FLOW_BLOCK_ID,
    PICKER_RESULT_CALLBACK_ID,
    PICKER_SHARE_ACTION_ID,
    PICKER_SHARE_BLOCK_ID,
    PICKER_SPACE_ACTION_ID,
    PICKER_SPACE_BLOCK_ID,
)
from bot.slack.parsing import clip

View = dict[str, Any]
Option = dict[str, Any]

TITLE = "Flow preview"
# Slack's limits for modals and their options.
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_METADATA = 3000
MAX_SECTION_TEXT = 3000
# What a flow option stands for when it is not a flow: the picker refuses these on submit.
# A colon never appears in a flow ID, so none of them can be mistaken for one.
LOADING = ":loading"
DENIED = ":denied"
UNAVAILABLE = ":unavailable"
REFUSED = ":refused"
# What a refused person is told in the picker: nothing about the space beyond that.
NO_ACCESS = "You don't have access to this space."
NOT_CHECKED = "Slack could not say who you are just now. Please try again in a minute."
NO_MATCH = ":none"
# A flow option's value is `<flow-id>@<space-id>`: a flow picked before the person changed the
# space is then caught on submit rather than asked of a space that does not hold it.
SPACE_MARK = "@"


@dataclass(frozen=True, slots=True)
class Metadata:
    """What a picker view remembers between requests: its space, and the flow it shows."""

    space: str
    flow_id: str | None = None

    def encode(self) -> str:
        """The view's private_metadata: compact JSON, far inside Slack's 3,000 characters."""
        data = {"space": self.space}
        if self.flow_id is not None:
            data["flow"] = self.flow_id
        return json.dumps(data, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class ShareTarget:
    """Where a result view's Share goes: the conversation picked and its response_url."""

    channel_id: str
    response_url: str


def picker_view(spaces: Sequence[SpaceChoice]) -> View:
    """The modal the shortcut opens: a space select and a flow select fed by the catalog.

    With no space configured it explains what to set instead.
    """
    if not spaces:
        return no_space_view()
    chosen = spaces[0]
    options = [_space_option(choice) for choice in spaces[:MAX_OPTIONS]]
    return {
        "type": "modal",
        "callback_id": PICKER_CALLBACK_ID,
        "title": messages.plain(TITLE),
        "submit": messages.plain("Preview"),
        "close": messages.plain("Cancel"),
        "private_metadata": Metadata(chosen.id).encode(),
        "blocks": [
            {
                "type": "input",
                "block_id": PICKER_SPACE_BLOCK_ID,
                "label": messages.plain("Space"),
                "element": {
                    "type": "static_select",
                    "action_id": PICKER_SPACE_ACTION_ID,
                    "options": options,
                    "initial_option": _space_option(chosen),
                },
            },
            {
                "type": "input",
                "block_id": PICKER_FLOW_BLOCK_ID,
                "label": messages.plain("Flow"),
                "element": {
                    "type": "external_select",
                    "action_id": PICKER_FLOW_ACTION_ID,
                    "placeholder": messages.plain("Type part of its name, or its ID"),
                    "min_query_length": 0,
                },
                "hint": messages.plain(
                    "The list shows up to 100 flows of the space, best match first; "
                    "word order, accents and small typos do not matter."
                ),
            },
        ],
    }


def no_space_view() -> View:
    """The modal shown instead of the picker when no CAMS space is configured at all."""
    text = (
        ":information_source: The picker needs to know which CAMS spaces to list, and none is "
        "configured. An administrator sets `CAMS_CUST_SPACE_ID` (the default space) and, "
        "optionally, `CAMS_SPACES` (more spaces: comma-separated `id` or `id=label`).\n"
        f"Until then, `{COMMAND} <flow-id> space:<CustSpaceId>` previews a flow by its ID."
    )
    return _notice(text, close="Close")


def flow_options(flows: Sequence[FlowSummary], space: SpaceChoice) -> list[Option]:
    """One option per flow of `space`, in the order given, at most MAX_OPTIONS: name, then ID."""
    options: list[Option] = []
    for flow in flows:
        if not FLOW_ID.fullmatch(flow.flow_id):
            # Its value would be refused on submit, so it is not offered.
            continue
        description = " · ".join((flow.flow_id, *flow.categories))
        value = _flow_value(flow.flow_id, space)
        options.append(_option(flow.name or messages.NO_NAME, value, description))
        if len(options) == MAX_OPTIONS:
            break
    return options


def id_option(flow_id: str, space: SpaceChoice) -> Option:
    """An option for a flow ID typed into the list that the catalog does not hold."""
    description = f"not listed in {space.label}; preview it anyway"
    return _option(f"Flow {flow_id}", _flow_value(flow_id, space), description)


def picked_flow(value: str | None) -> str | None:
    """The flow ID a submitted flow option's value names (see flow_refusal), or None."""
    if value is None:
        return None
    flow_id = value.partition(SPACE_MARK)[0]
    return flow_id if FLOW_ID.fullmatch(flow_id) else None


def loading_option(space: SpaceChoice) -> Option:
    """The one option while the space's flows are still being listed."""
    return _option(
        f"Loading the flows of {space.label}…", LOADING, "Type again in a moment to see them."
    )


def denied_option() -> Option:
    """The one option when the bot may not list flows (ListFlow is denied)."""
    return _option(
        "Search needs the RAM action cams:ListFlow",
        DENIED,
        f"Type a flow ID here, or use {COMMAND} <flow-id>",
    )


def refused_option() -> Option:
    """The one option for someone the access rules refuse in the space chosen."""
    return _option("You don't have access to this space", REFUSED, "Ask a flowpreview admin.")


def unavailable_option(space: SpaceChoice) -> Option:
    """The one option when listing the space's flows failed and no copy is left."""
    return _option(
        f"Cannot list the flows of {space.label} right now",
        UNAVAILABLE,
        "Type again in a minute, or type a flow ID here.",
    )


def no_match_option(query: str, space: SpaceChoice) -> Option:
    """The one option when nothing in the space matches what was typed, or it has no flows."""
    if not query.strip():
        return _option(
            f"{space.label} lists no flows", NO_MATCH, "Pick another space, or type a flow ID."
        )
    return _option(
        f"No flow in {space.label} matches “{query.strip()}”",
        NO_MATCH,
        "Try fewer or other words, or a flow ID.",
    )


def flow_refusal(value: str | None, space: SpaceChoice) -> str | None:
    """Why a submitted flow value cannot be previewed, or None when it names a flow.

    Only its shape is checked here; whether the catalog holds it is the caller's business.
    """
    if value is None:
        return "Pick a flow from the list."
    if value == LOADING:
        return f"The flows of {space.label} were still loading. Open the list again and pick one."
    if value == DENIED:
        return (
            "Listing flows needs the RAM action cams:ListFlow. Type the flow's ID in the list, "
            f"or use {COMMAND} <flow-id>."
        )
    if value == REFUSED:
        return NO_ACCESS
    if value == UNAVAILABLE:
        return f"The flows of {space.label} could not be listed. Type the flow's ID instead."
    flow_id, mark, listed_in = value.partition(SPACE_MARK)
    if value == NO_MATCH or not FLOW_ID.fullmatch(flow_id):
        return "Pick a flow from the list."
    # A value without a space comes from a modal opened before values named theirs.
    if mark and listed_in != space.id:
        return f"That flow was listed for another space. Pick it again from {space.label}'s list."
    return None


def fetching_view(flow_id: str, about: messages.Known | None) -> View:
    """The modal while the preview is fetched; views.update replaces it when it is ready."""
    text = f":hourglass_flowing_sand: Fetching the preview…\n{messages.flow_title(flow_id, about)}"
    return _notice(text, close="Close")


def result_view(
    preview: FlowPreview, *, space: str, about: messages.Known | None, now: float
) -> View:
    """The preview in the modal: name and status as far as known, Open preview, expiry, and
    a conversation picker to share it."""
    title = messages.flow_title(preview.flow_id, about)
    blocks: list[View] = [_section(f"{title}\nSpace `{messages.escape(space)}`")]
    button = messages.open_button(preview)
    if button is None:
        blocks.append(
            _section(":warning: The preview link is too long for Slack to show as a button.")
        )
        return _notice_of(blocks, close="Done")
    request = f"RequestId {messages.quote(clip(preview.request_id, 64))}"
    blocks += [
        {"type": "actions", "block_id": "picker_open", "elements": [button]},
        {
            "type": "context",
            "elements": [
                messages.mrkdwn(f"{messages.expiry_text(preview, now)} · {request}"),
                messages.mrkdwn("Anyone holding a preview link can open it."),
            ],
        },
        {
            "type": "input",
            "block_id": PICKER_SHARE_BLOCK_ID,
            "optional": True,
            "label": messages.plain("Share in"),
            "element": {
                "type": "conversations_select",
                "action_id": PICKER_SHARE_ACTION_ID,
                "placeholder": messages.plain("Pick a channel or a conversation"),
                "response_url_enabled": True,
                "default_to_current_conversation": True,
            },
            "hint": messages.plain(
                "Posts a card there: everyone who clicks it gets their own link. "
                "Leave it empty to close."
            ),
        },
    ]
    return {
        "type": "modal",
        "callback_id": PICKER_RESULT_CALLBACK_ID,
        "title": messages.plain(TITLE),
        "submit": messages.plain("Share"),
        "close": messages.plain("Done"),
        "private_metadata": Metadata(space, preview.flow_id).encode(),
        "blocks": blocks,
    }


def failure_view(flow_id: str, about: messages.Known | None, space: str, failure: Failure) -> View:
    """The modal when the preview could not be had: one sentence a person can act on."""
    text = f":warning: {messages.flow_title(flow_id, about)}\n{messages.error_sentence(failure)}"
    where = {"type": "context", "elements": [messages.mrkdwn(f"Space `{messages.escape(space)}`")]}
    return _notice_of([_section(text), where], close="Done")


def internal_error_view() -> View:
    """The modal when the bot itself failed; the details are in its logs."""
    return _notice(
        ":warning: Something went wrong inside flowpreview. "
        "Its maintainers can find the details in its logs.",
        close="Done",
    )


def refused_view(*, unverified: bool = False) -> View:
    """The modal for someone refused: nothing about the space."""
    return _notice(messages.refused_text(unverified=unverified), close="Close")


def outdated_view() -> View:
    """The modal for a submission this bot cannot read back (an old or altered view)."""
    return _notice(
        ":warning: This form is out of date. Close it and pick *Preview a WhatsApp Flow* again.",
        close="Close",
    )


def sharing_view(target: ShareTarget) -> View:
    """The modal while the preview is being posted to the conversation."""
    text = f":hourglass_flowing_sand: Sharing the preview in {_conversation(target.channel_id)}…"
    return _notice(text, close="Close")


def shared_view(target: ShareTarget, *, posted: bool) -> View:
    """The modal once the post is done: where it went, or that Slack did not take it."""
    where = _conversation(target.channel_id)
    if posted:
        return _notice(f":white_check_mark: Shared in {where}.", close="Done")
    return _notice(
        f":warning: Slack did not take the preview for {where}. Try again in a moment, "
        f"or use *Share in channel* under `{COMMAND} <flow-id>`.",
        close="Done",
    )


def read_metadata(raw: object, spaces: Sequence[SpaceChoice]) -> Metadata | None:
    """The view's private_metadata, if it is ours: a known space and a well-formed flow ID."""
    if not isinstance(raw, str) or len(raw) > MAX_METADATA:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not set(data) <= {"space", "flow"}:
        return None
    space, flow_id = data.get("space"), data.get("flow")
    if not isinstance(space, str) or space not in {choice.id for choice in spaces}:
        return None
    if flow_id is not None and (not isinstance(flow_id, str) or not FLOW_ID.fullmatch(flow_id)):
        return None
    return Metadata(space, flow_id)


def selected_value(view: Mapping[str, Any], block_id: str, action_id: str) -> str | None:
    """The value of the option selected in `block_id`/`action_id` of the view's state."""
    selected = _state_of(view, block_id, action_id).get("selected_option")
    value = selected.get("value") if isinstance(selected, dict) else None
    return value if isinstance(value, str) else None


def chosen_space(view: Mapping[str, Any], spaces: Sequence[SpaceChoice]) -> SpaceChoice | None:
    """The space selected in a picker view, else the one its metadata names; None if neither
    is one of `spaces`."""
    by_id = {choice.id: choice for choice in spaces}
    selected = selected_value(view, PICKER_SPACE_BLOCK_ID, PICKER_SPACE_ACTION_ID)
    if selected is not None:
        return by_id.get(selected)
    metadata = read_metadata(view.get("private_metadata"), spaces)
    return by_id.get(metadata.space) if metadata is not None else None


def share_target(response_urls: object) -> ShareTarget | None:
    """The conversation a result view's Share names, from the submission's response_urls."""
    if not isinstance(response_urls, list):
        return None
    for entry in response_urls:
        if not isinstance(entry, dict) or entry.get("block_id") != PICKER_SHARE_BLOCK_ID:
            continue
        channel_id, url = entry.get("channel_id"), entry.get("response_url")
        # The URL's host is checked where it is posted to (ReplyPoster's allow-list).
        if isinstance(channel_id, str) and SLACK_CHANNEL_ID.fullmatch(channel_id):
            return ShareTarget(channel_id, url) if isinstance(url, str) else None
        return None
    return None


def view_id_of(view: Mapping[str, Any]) -> str | None:
    """The view's Slack ID, when it looks like one."""
    view_id = view.get("id")
    return view_id if isinstance(view_id, str) and SLACK_VIEW_ID.fullmatch(view_id) else None


def _state_of(view: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    block = values.get(block_id) if isinstance(values, dict) else None
    element = block.get(action_id) if isinstance(block, dict) else None
    return element if isinstance(element, dict) else {}


def _conversation(channel_id: str) -> str:
    return f"<#{channel_id}>" if channel_id[0] in "CG" else "the conversation you picked"


def _space_option(choice: SpaceChoice) -> Option:
    description = choice.id if choice.label != choice.id else None
    return _option(choice.label, choice.id, description)


def _flow_value(flow_id: str, space: SpaceChoice) -> str:
    return f"{flow_id}{SPACE_MARK}{space.id}"


def _option(text: str, value: str, description: str | None = None) -> Option:
    option: Option = {"text": messages.plain(clip(text, MAX_OPTION_TEXT)), "value": value}
    if description:
        option["description"] = messages.plain(clip(description, MAX_OPTION_TEXT))
    return option


def _notice(text: str, *, close: str) -> View:
    return _notice_of([_section(text)], close=close)


def _notice_of(blocks: list[View], *, close: str) -> View:
    """A modal that only tells something: no inputs, no submit, nothing to read back."""
    return {
        "type": "modal",
        "title": messages.plain(TITLE),
        "close": messages.plain(close),
        "blocks": blocks,
    }


def _section(text: str) -> View:
    return messages.section(clip(text, MAX_SECTION_TEXT))
