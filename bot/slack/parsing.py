"""Reading `/flowpreview` text (flow IDs, flow links or a name), and flow IDs in a message."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.ids import BARE_FLOW_ID, FLOW_ID, FLOW_LINK_ID, SPACE_ID, TYPED_FLOW_ID

MAX_FLOWS = 10
MAX_NAME_LENGTH = 100
# Commands remembered once read: how many, and the longest text remembered (256 characters,
# so at most about 1 MB in all).
MEMO_TEXTS = 1024
MEMO_TEXT_LENGTH = 256
SPACE_PREFIX = "space:"
# Said after the name words, quoted, when flow IDs came with them.
NOT_BOTH = "is not a flow ID. Give either flow IDs or a flow name, not both."
HELP_WORDS = frozenset({"help", "-h", "--help", "?"})
SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
# Message fields that carry what a person wrote or linked; ts, IDs and the like are skipped.
TEXT_KEYS = frozenset({"text", "url", "fallback", "pretext", "title", "title_link", "value"})
# Where WhatsApp Manager keeps a flow: `https://business.facebook.com/wa/manage/flows/<id>/…`.
FLOW_LINK_HOST = "business.facebook.com"
FLOW_LINK_PATH = ("wa", "manage", "flows")
# The longest link looked at: Slack's own limit on a URL is far below a message's size.
MAX_LINK_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class PreviewRequest:
    """What `/flowpreview` was asked for: up to MAX_FLOWS distinct IDs and an optional space."""

    flow_ids: tuple[str, ...]
    space: str | None = None


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A search by name: the words as typed (entities decoded), and an optional space."""

    words: str
    space: str | None = None


@dataclass(frozen=True, slots=True)
class UsageRequest:
    """Show the usage text, with what was wrong when the text could not be read.

    `token` is the part of the person's text the problem is about, raw: the renderer quotes
    it so that nothing in it is taken as formatting.
    """

    problem: str | None = None
    token: str | None = None


def parse_command(text: str) -> PreviewRequest | SearchRequest | UsageRequest:
    """Read `<flow-id or link> [...] [space:<CustSpaceId>]` or `<name words> [space:<id>]`.

    A run of 10-20 digits is always a flow ID, and a Meta flow link (`…/flows/<id>/…`, bare
    or in Slack's `<url|label>` form) stands for its flow ID, as it does for the message
    shortcut. Any other words are a search by name; IDs and name words together are refused.
    """
    # The same few commands are typed again and again, and reading one is a fair share of a
    # cached answer's work; only short texts are remembered, so the memo stays small.
    if len(text) <= MEMO_TEXT_LENGTH:
        return _parse_remembered(text)
    return _parse(text)


@functools.lru_cache(maxsize=MEMO_TEXTS)
def _parse_remembered(text: str) -> PreviewRequest | SearchRequest | UsageRequest:
    # What it returns is frozen, so one answer can serve every caller.
    return _parse(text)


def _parse(text: str) -> PreviewRequest | SearchRequest | UsageRequest:
    tokens = html.unescape(_unlinked(text)).replace(",", " ").split()
    if not tokens or any(token.lower() in HELP_WORDS for token in tokens):
        return UsageRequest()
    split = _split_space(tokens)
    if isinstance(split, UsageRequest):
        return split
    space, rest = split
    flow_ids: list[str] = []
    words: list[str] = []
    for token in rest:
        flow_id = _flow_id_of(token)
        if flow_id is not None:
            if flow_id not in flow_ids:
                flow_ids.append(flow_id)
        elif token.lower().startswith(("https://", "http://")):
            return UsageRequest("is not a flow link", clip(token))
        else:
            words.append(token)
    if flow_ids and words:
        return UsageRequest(NOT_BOTH, clip(" ".join(words)))
    if words:
        query = " ".join(words)
        if len(query) > MAX_NAME_LENGTH:
            return UsageRequest(f"a name to search for has at most {MAX_NAME_LENGTH} characters")
        return SearchRequest(query, space)
    if not flow_ids:
        return UsageRequest("no flow ID or name given")
    if len(flow_ids) > MAX_FLOWS:
        return UsageRequest(f"at most {MAX_FLOWS} flow IDs at a time ({len(flow_ids)} given)")
    return PreviewRequest(tuple(flow_ids), space)


@dataclass(frozen=True, slots=True)
class FlowLink:
    """A link to a WhatsApp flow in WhatsApp Manager: the flow, and whether the link carries a
    preview token (then anyone holding it can open the flow)."""

    flow_id: str
    has_token: bool


def flow_link(url: str) -> FlowLink | None:
    """The flow an https link to `business.facebook.com/wa/manage/flows/<id>/…` names, with or
    without a query; None for any other link, on that host or another.

    Whether it carries a token is decided to fail closed: a link counts as a preview link when
    its query or fragment mentions a token in any spelling or encoding, or it leads to a
    preview page with a query at all. Slack sends links entity-encoded (`&amp;`).
    """
    if len(url) > MAX_LINK_LENGTH:
        return None
    url = html.unescape(url)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme != "https" or host != FLOW_LINK_HOST:
        return None
    steps = [step for step in parts.path.split("/") if step]
    if len(steps) < 4 or tuple(steps[:3]) != FLOW_LINK_PATH:
        return None
    flow_id = steps[3]
    if not FLOW_ID.fullmatch(flow_id):
        return None
    after_path = unquote(f"{parts.query}#{parts.fragment}").lower()
    preview_page = "preview" in (step.lower() for step in steps[4:])
    has_token = "token" in after_path or (preview_page and bool(parts.query or parts.fragment))
    return FlowLink(flow_id, has_token=has_token)


def may_hold_a_link(text: str) -> bool:
    """Whether `text` someone typed may hold a link or a token, and so must never be shown
    back where others see it or it is kept: it might be a preview link."""
    lowered = text.lower()
    return "://" in lowered or "token" in lowered or "www." in lowered


def _split_space(tokens: list[str]) -> tuple[str | None, list[str]] | UsageRequest:
    """The `space:<id>` among `tokens`, if any, and the other tokens."""
    space: str | None = None
    rest: list[str] = []
    for token in tokens:
        if not token.lower().startswith(SPACE_PREFIX):
            rest.append(token)
            continue
        value = token[len(SPACE_PREFIX) :]
        if space is not None:
            return UsageRequest("give space: only once")
        if not value:
            return UsageRequest("space: needs a space ID after it")
        if not SPACE_ID.fullmatch(value):
            return UsageRequest("is not a space ID", clip(value))
        space = value
    return space, rest


def _unlinked(text: str) -> str:
    """`text` with each of Slack's `<url|label>` links reduced to its URL."""
    return SLACK_LINK.sub(lambda link: link.group(1), text)


def _flow_id_of(token: str) -> str | None:
    """The flow ID a token names: the token itself, or the ID inside a flow link."""
    if TYPED_FLOW_ID.fullmatch(token):
        return token
    if token.lower().startswith(("https://", "http://")):
        link = FLOW_LINK_ID.search(token)
        if link is not None:
            return link.group(1)
    return None


def extract_flow_ids(message: dict[str, Any]) -> list[str]:
    """Distinct flow IDs in a message's text, attachments and blocks, in order, at most 10.

    Finds bare IDs (runs of 10-20 digits) and IDs in links like `…/flows/<id>/preview/…`,
    also inside Slack's `<url|label>` form and entity encoding.
    """
    found: list[str] = []
    for text in message_texts(message):
        for flow_id in _ids_in(text):
            if flow_id not in found:
                found.append(flow_id)
                if len(found) == MAX_FLOWS:
                    return found
    return found


def message_texts(message: dict[str, Any]) -> list[str]:
    """What a person wrote or linked in a message: its text, attachments and blocks."""
    return list(_texts([message.get("text"), message.get("attachments"), message.get("blocks")]))


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                if key in TEXT_KEYS:
                    yield value
            else:
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def _ids_in(text: str) -> Iterator[str]:
    # Slack's <url|label> links are cut out before entities are decoded, so that an encoded
    # "&lt;" in what someone typed never looks like the start of a link.
    position = 0
    for link in SLACK_LINK.finditer(text):
        yield from _scan(text[position : link.start()])
        target, label = link.groups()
        # <!date^EPOCH^…>, <@U…>, <#C…>: Slack's own markup, whose numbers are no flow IDs.
        if target and not target.startswith(("!", "@", "#")):
            yield from _scan(target)
        if label:
            yield from _scan(label)
        position = link.end()
    yield from _scan(text[position:])


def _scan(encoded: str) -> Iterator[str]:
    text = html.unescape(encoded)
    matches = [
        (m.start(), m.group(1)) for p in (FLOW_LINK_ID, BARE_FLOW_ID) for m in p.finditer(text)
    ]
    for _, flow_id in sorted(matches):
        yield flow_id


def clip(text: str, limit: int = 64) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
