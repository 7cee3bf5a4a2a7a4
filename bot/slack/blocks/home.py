"""The Home tab's view: search, recent previews, pinned flows, help, and an admin's rules.

It never holds a preview link: each flow has a **Preview** button, whose click opens a modal
with the link for the person alone. The view stays inside Slack's 100 blocks and 250 KB: rows
that do not fit are left out and counted in a line that says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.cams.models import FlowDetails
from bot.slack.blocks.messages import (
    STATUS_WORDS,
    Block,
    Known,
    escape,
    mrkdwn,
    plain,
    quote,
    section,
)
from bot.slack.constants import (
    COMMAND,
    HOME_PIN_ACTION_ID,
    HOME_PREVIEW_ACTION_ID,
    HOME_SEARCH_ACTION_ID,
    HOME_SEARCH_BLOCK_ID,
    HOME_UNPIN_ACTION_ID,
    PICKER_NAME,
)
from bot.slack.parsing import MAX_NAME_LENGTH, clip

View = dict[str, object]

MAX_VIEW_BLOCKS = 100
MAX_VIEW_BYTES = 250_000
MAX_SECTION_TEXT = 3000
# Blocks one listed flow takes: its section (with Preview) and its Pin or Unpin button.
ROW_BLOCKS = 2


@dataclass(frozen=True, slots=True)
class HomeFlow:
    """A flow listed on the Home tab: its space (None: the deployment's default), what is
    known of it, and whether the person pinned it."""

    flow_id: str
    space: str | None
    about: Known | None
    pinned: bool


@dataclass(frozen=True, slots=True)
class AdminPart:
    """What an admin sees: each channel's space, and who may see each space."""

    channel_spaces: Sequence[tuple[str, str]] = ()
    # (space, kind, subject) for every rule on a space the admin administers.
    rules: Sequence[tuple[str, str, str]] = ()
    default: str = "open"


@dataclass(frozen=True, slots=True)
class HomeContent:
    """Everything the Home tab shows one person."""

    query: str | None = None
    # None: no search asked; else its matches, best first.
    results: Sequence[HomeFlow] | None = None
    # Spaces whose flow list is still loading or cannot be had, so a search missed them.
    unsearched: Sequence[str] = ()
    recent: Sequence[HomeFlow] = ()
    pins: Sequence[HomeFlow] = ()
    # Whether there is a database keeping pins and the audit trail.
    kept: bool = True
    spaces: Sequence[str] = field(default_factory=tuple)
    admin: AdminPart | None = None
    notice: str | None = None
    # Slack could not say who the person is: nothing but that is shown.
    unverified: bool = False


def home_view(content: HomeContent) -> View:
    """The view to publish, within Slack's limits."""
    head = _head(content)
    tail = _tail(content)
    lists = _lists(content)
    budget = MAX_VIEW_BLOCKS - len(head) - len(tail)
    body: list[Block] = []
    left_out = 0
    for heading, rows, empty in lists:
        body.append(heading)
        budget -= 1
        if not rows and empty:
            body.append(_context(empty))
            budget -= 1
        for number, row in enumerate(rows):
            # Room for this row and, if rows remain after it, the line saying so.
            if budget < ROW_BLOCKS + 1:
                left_out += len(rows) - number
                break
            body.extend(_row(row))
            budget -= ROW_BLOCKS
    if left_out:
        body.append(_context(f"{left_out} more not shown: Slack's Home tab holds only so much."))
    view = _view(content, head + body + tail)
    while len(json.dumps(view)) > MAX_VIEW_BYTES and len(body) > ROW_BLOCKS:
        # Never reached with clipped names; kept so that no view Slack would refuse is sent.
        del body[-ROW_BLOCKS:]
        view = _view(content, head + body + tail)
    return view


def home_metadata(view: object) -> str | None:
    """The search a published Home view shows (its private_metadata), if any."""
    if not isinstance(view, dict):
        return None
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except (ValueError, RecursionError, TypeError):
        return None
    query = data.get("q") if isinstance(data, dict) else None
    return query[:MAX_NAME_LENGTH] if isinstance(query, str) and query.strip() else None


def _view(content: HomeContent, blocks: list[Block]) -> View:
    metadata = json.dumps({"q": content.query} if content.query else {}, separators=(",", ":"))
    return {"type": "home", "private_metadata": metadata, "blocks": blocks}


def _head(content: HomeContent) -> list[Block]:
    blocks: list[Block] = [{"type": "header", "text": plain("WhatsApp flow previews")}]
    if content.unverified:
        blocks.append(
            section(
                ":warning: I could not check with Slack who you are just now. Open this tab "
                "again in a minute."
            )
        )
        return blocks
    if content.notice:
        blocks.append(section(content.notice))
    if not content.spaces:
        blocks.append(section(":no_entry: You don't have access to any CAMS space here."))
        return blocks
    search: Block = {
        "type": "input",
        "block_id": HOME_SEARCH_BLOCK_ID,
        "dispatch_action": True,
        "label": plain("Find a flow by name"),
        "element": {
            "type": "plain_text_input",
            "action_id": HOME_SEARCH_ACTION_ID,
            "max_length": MAX_NAME_LENGTH,
            "placeholder": plain("Type part of a flow's name and press Enter"),
            "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]},
        },
    }
    if content.query:
        search["element"]["initial_value"] = content.query
    blocks.append(search)
    return blocks


def _lists(content: HomeContent) -> list[tuple[Block, Sequence[HomeFlow], str | None]]:
    if content.unverified or not content.spaces:
        return []
    lists: list[tuple[Block, Sequence[HomeFlow], str | None]] = []
    if content.results is not None and content.query:
        missed = ""
        if content.unsearched:
            names = ", ".join(quote(space) for space in content.unsearched)
            missed = f" The flow lists of {names} are not loaded yet; try again in a moment."
        empty = f"No flow is named like {quote(content.query)}.{missed}"
        heading = section(f"*Flows named like {quote(content.query)}*")
        lists.append((heading, content.results, empty if not content.results else None))
        if content.results and missed:
            lists.append((_context(missed.strip()), (), None))
    if not content.kept:
        note = "Recent previews and pins need the bot's database, which is not configured."
        lists.append((section("*Recent and pinned*"), (), note))
        return lists
    lists.append(
        (section("*Pinned*"), content.pins, "Nothing pinned yet: *Pin* any flow listed here.")
    )
    lists.append((section("*Your recent previews*"), content.recent, "No previews yet."))
    return lists


def _row(flow: HomeFlow) -> list[Block]:
    about = flow.about
    name = quote(clip(about.name, 100)) if about is not None and about.name else None
    text = f"{name} · `{escape(flow.flow_id)}`" if name else f"`{escape(flow.flow_id)}`"
    if isinstance(about, FlowDetails) and about.status is not None:
        text += f"\n{STATUS_WORDS[about.status]}"
    if flow.space is not None:
        text += f"\nSpace `{escape(flow.space)}`"
    value = json.dumps({"flow": flow.flow_id, "space": flow.space}, separators=(",", ":"))
    block = section(text)
    block["accessory"] = {
        "type": "button",
        "text": plain("Preview"),
        "action_id": HOME_PREVIEW_ACTION_ID,
        "value": value,
    }
    pin = {
        "type": "button",
        "text": plain("Unpin" if flow.pinned else "Pin"),
        "action_id": HOME_UNPIN_ACTION_ID if flow.pinned else HOME_PIN_ACTION_ID,
        "value": value,
    }
    return [block, {"type": "actions", "elements": [pin]}]


def _tail(content: HomeContent) -> list[Block]:
    help_text = (
        "*How to get a preview*\n"
        f"• `{COMMAND} <flow ID, link or name>` in any conversation, `{COMMAND} help` for more.\n"
        "• *Get flow preview* in a message's ⋯ menu previews the flows it mentions.\n"
        f"• *{PICKER_NAME}* in the shortcuts menu picks a flow from a list.\n"
        "• A pasted flow link becomes a card with *Get my preview*.\n"
        "Preview links are private: they are shown only to you, never on this page."
    )
    blocks: list[Block] = [{"type": "divider"}, section(help_text)]
    admin = content.admin
    if admin is not None and not content.unverified:
        blocks.append({"type": "divider"})
        blocks.append(section(_listed("*For admins: where previews come from*", _channels(admin))))
        blocks.append(section(_listed("*Who may see each space*", _rules(admin))))
    return blocks


def _channels(admin: AdminPart) -> list[str]:
    if not admin.channel_spaces:
        return ["No channel has a space of its own: every channel uses the deployment's default."]
    return [f"• <#{escape(channel)}>: `{escape(space)}`" for channel, space in admin.channel_spaces]


def _rules(admin: AdminPart) -> list[str]:
    if not admin.rules:
        return [
            f"No rules: spaces are {admin.default} to the workspace's own members, and closed "
            "to guests and people from other organisations."
        ]
    mention = {"channel": "<#{}>", "user": "<@{}>", "usergroup": "<!subteam^{}>"}
    return [
        f"• `{escape(space)}`: {kind} {mention.get(kind, '{}').format(escape(subject))}"
        for space, kind, subject in admin.rules
    ]


def _listed(heading: str, lines: Sequence[str]) -> str:
    """`heading` and as many whole `lines` as a section holds, then how many did not fit."""
    text = heading
    for number, line in enumerate(lines):
        more = f"\n…and {len(lines) - number} more: `{COMMAND} config rules` lists them all."
        if len(text) + 1 + len(line) + len(more) > MAX_SECTION_TEXT:
            return text + more
        text += "\n" + line
    return text


def _context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}
