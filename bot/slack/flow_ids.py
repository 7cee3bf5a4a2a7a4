"""Finding flow IDs: in the text of `/flowpreview`, and in a message a shortcut points at."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_FLOWS = 10
FLOW_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SPACE_PREFIX = "space:"
HELP_WORDS = frozenset({"help", "-h", "--help", "?"})
# A run of 10-20 digits standing on its own, or the ID in a Meta flow link.
BARE_ID = re.compile(r"(?<!\w)(?<!\d\.)(\d{10,20})(?!\w|\.\d)")
LINK_ID = re.compile(r"/flows/([A-Za-z0-9_-]{1,64})(?=[/?#|>\s]|$)")
SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
# Message fields that carry what a person wrote or linked; ts, IDs and the like are skipped.
TEXT_KEYS = frozenset({"text", "url", "fallback", "pretext", "title", "title_link", "value"})


@dataclass(frozen=True, slots=True)
class PreviewRequest:
    """What `/flowpreview` was asked for: up to MAX_FLOWS distinct IDs and an optional space."""

    flow_ids: tuple[str, ...]
    space: str | None = None


@dataclass(frozen=True, slots=True)
class UsageRequest:
    """Show the usage text, with what was wrong when the text could not be read.

    `token` is the part of the person's text the problem is about, raw: the renderer quotes
    it so that nothing in it is taken as formatting.
    """

    problem: str | None = None
    token: str | None = None


def parse_command(text: str) -> PreviewRequest | UsageRequest:
    """Read `<flow-id or link> [...] [space:<CustSpaceId>]`, or ask for the usage text.

    A Meta flow link (`…/flows/<id>/…`, bare or in Slack's `<url|label>` form) stands for its
    flow ID, as it does for the message shortcut.
    """
    tokens = html.unescape(_unlinked(text)).replace(",", " ").split()
    if not tokens or any(token.lower() in HELP_WORDS for token in tokens):
        return UsageRequest()
    flow_ids: list[str] = []
    space: str | None = None
    for token in tokens:
        if token.lower().startswith(SPACE_PREFIX):
            value = token[len(SPACE_PREFIX) :]
            if space is not None:
                return UsageRequest("give space: only once")
            if not value:
                return UsageRequest("space: needs a space ID after it")
            if not FLOW_ID.fullmatch(value):
                return UsageRequest("is not a space ID", clip(value))
            space = value
        else:
            flow_id = _flow_id_of(token)
            if flow_id is None:
                return UsageRequest("is not a flow ID or a flow link", clip(token))
            if flow_id not in flow_ids:
                flow_ids.append(flow_id)
    if not flow_ids:
        return UsageRequest("no flow ID given")
    if len(flow_ids) > MAX_FLOWS:
        return UsageRequest(f"at most {MAX_FLOWS} flow IDs at a time ({len(flow_ids)} given)")
    return PreviewRequest(tuple(flow_ids), space)


def _unlinked(text: str) -> str:
    """`text` with each of Slack's `<url|label>` links reduced to its URL."""
    return SLACK_LINK.sub(lambda link: link.group(1), text)


def _flow_id_of(token: str) -> str | None:
    """The flow ID a token names: the token itself, or the ID inside a flow link."""
    if FLOW_ID.fullmatch(token):
        return token
    if token.lower().startswith(("https://", "http://")):
        link = LINK_ID.search(token)
        if link is not None:
            return link.group(1)
    return None


def extract_flow_ids(message: dict[str, Any]) -> list[str]:
    """Distinct flow IDs in a message's text, attachments and blocks, in order, at most 10.

    Finds bare IDs (runs of 10-20 digits) and IDs in links like `…/flows/<id>/preview/…`,
    also inside Slack's `<url|label>` form and entity encoding.
    """
    found: list[str] = []
    sources = [message.get("text"), message.get("attachments"), message.get("blocks")]
    for text in _texts(sources):
        for flow_id in _ids_in(text):
            if flow_id not in found:
                found.append(flow_id)
                if len(found) == MAX_FLOWS:
                    return found
    return found


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
    matches = [(m.start(), m.group(1)) for p in (LINK_ID, BARE_ID) for m in p.finditer(text)]
    for _, flow_id in sorted(matches):
        yield flow_id


def clip(text: str, limit: int = 64) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
