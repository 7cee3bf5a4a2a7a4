"""The Block Kit limits Slack enforces: a message, modal, Home tab, unfurl or options list
breaking one is refused."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_URL = 3000
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
# Modals (views.open, views.update, a view_submission's `response_action: update`).
MAX_VIEW_BLOCKS = 100
MAX_VIEW_TITLE = 24
MAX_VIEW_BUTTON = 24
MAX_PRIVATE_METADATA = 3000
MAX_LABEL = 2000
MAX_HINT = 2000
MAX_PLACEHOLDER = 150
# A Home tab (views.publish): Slack answers `view_too_large` beyond either.
MAX_HOME_BLOCKS = 100
MAX_VIEW_BYTES = 250_000
# Select menus and the options an app serves to an external_select.
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_OPTION_DESCRIPTION = 75
SELECTS = frozenset(
    {"static_select", "external_select", "conversations_select", "channels_select", "users_select"}
)


def problems(message: Mapping[str, Any]) -> list[str]:
    """Why Slack would refuse `message` (a chat message body), or [] when it would show it."""
    blocks = message.get("blocks")
    if not message.get("text") and not blocks and not message.get("delete_original"):
        return ["the message has neither text nor blocks"]
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        return ["blocks is not a list"]
    found: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        found.append(f"{len(blocks)} blocks, more than {MAX_BLOCKS}")
    for number, block in enumerate(blocks, 1):
        if not isinstance(block, Mapping):
            found.append(f"block {number} is not an object")
            continue
        found += [f"block {number}: {problem}" for problem in _block_problems(block)]
    return found


def _block_problems(block: Mapping[str, Any]) -> list[str]:
    found = _too_long("block_id", block.get("block_id"), MAX_ID)
    kind = block.get("type")
    if kind == "section":
        found += _too_long("text", _text_of(block.get("text")), MAX_SECTION_TEXT)
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping):
            found += _element_problems(accessory)
    elif kind == "header":
        found += _too_long("header text", _text_of(block.get("text")), MAX_HEADER_TEXT)
    elif kind == "actions":
        for element in block.get("elements") or []:
            if isinstance(element, Mapping):
                found += _element_problems(element)
    return found


def _element_problems(element: Mapping[str, Any]) -> list[str]:
    found = _too_long("action_id", element.get("action_id"), MAX_ID)
    if element.get("type") == "button":
        found += _too_long("button text", _text_of(element.get("text")), MAX_BUTTON_TEXT)
        found += _too_long("button url", element.get("url"), MAX_BUTTON_URL)
        found += _too_long("button value", element.get("value"), MAX_BUTTON_VALUE)
    return found


def _text_of(text_object: Any) -> Any:
    return text_object.get("text") if isinstance(text_object, Mapping) else None


def _too_long(what: str, value: Any, limit: int) -> list[str]:
    if isinstance(value, str) and len(value) > limit:
        return [f"{what} has {len(value)} characters, more than {limit}"]
    return []


def view_problems(view: Mapping[str, Any], *, kind: str = "modal") -> list[str]:
    """Why Slack would refuse `view` as a `kind` view (`modal`, or `home` for a Home tab),
    or [] when it would show it. A Home tab has no title nor buttons, and its inputs need no
    submit button: they dispatch their actions."""
    found: list[str] = []
    if view.get("type") != kind:
        found.append(f"type is {view.get('type')!r}, not {kind!r}")
    if kind == "modal":
        found += _plain_problems("title", view.get("title"), MAX_VIEW_TITLE, required=True)
        found += _plain_problems("submit", view.get("submit"), MAX_VIEW_BUTTON)
        found += _plain_problems("close", view.get("close"), MAX_VIEW_BUTTON)
    found += _too_long("private_metadata", view.get("private_metadata"), MAX_PRIVATE_METADATA)
    found += _too_long("callback_id", view.get("callback_id"), MAX_ID)
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return [*found, "blocks is not a list"]
    if len(blocks) > MAX_VIEW_BLOCKS:
        found.append(f"{len(blocks)} blocks, more than {MAX_VIEW_BLOCKS}")
    block_ids = [b.get("block_id") for b in blocks if isinstance(b, Mapping) and b.get("block_id")]
    if len(block_ids) != len(set(block_ids)):
        found.append("two blocks have the same block_id")
    has_input = False
    for number, block in enumerate(blocks, 1):
        if not isinstance(block, Mapping):
            found.append(f"block {number} is not an object")
            continue
        if block.get("type") == "input":
            has_input = True
            problems_here = _input_problems(block)
        else:
            problems_here = _block_problems(block)
        found += [f"block {number}: {problem}" for problem in problems_here]
    if kind == "modal" and has_input and not isinstance(view.get("submit"), Mapping):
        found.append("a modal with input blocks needs a submit button")
    return found


def home_size_problems(view: Mapping[str, Any]) -> list[str]:
    """Why Slack would answer `view_too_large` to `view` published as a Home tab, or []."""
    found: list[str] = []
    blocks = view.get("blocks")
    if isinstance(blocks, list) and len(blocks) > MAX_HOME_BLOCKS:
        found.append(f"{len(blocks)} blocks, more than {MAX_HOME_BLOCKS}")
    # Measured compact, so that the answer does not depend on how the client spaced its JSON.
    size = len(json.dumps(view, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_VIEW_BYTES:
        found.append(f"{size} bytes of JSON, more than {MAX_VIEW_BYTES}")
    return found


def unfurl_problems(unfurl: Mapping[str, Any]) -> list[str]:
    """Why Slack would refuse one URL's unfurl (an attachment with `blocks`) in chat.unfurl,
    or []: the limits of a message, and no rich_text block, which only people's messages hold."""
    blocks = unfurl.get("blocks")
    found = problems({"blocks": blocks})
    if isinstance(blocks, list):
        found += [
            f"block {number}: rich_text is not allowed in an unfurl"
            for number, block in enumerate(blocks, 1)
            if isinstance(block, Mapping) and block.get("type") == "rich_text"
        ]
    return found


def options_problems(answer: Mapping[str, Any]) -> list[str]:
    """Why Slack would show nothing of an external_select's options answer, or []."""
    options = answer.get("options")
    if not isinstance(options, list):
        return ["the answer has no options list"]
    found = []
    if len(options) > MAX_OPTIONS:
        found.append(f"{len(options)} options, more than {MAX_OPTIONS}")
    for number, option in enumerate(options, 1):
        found += [f"option {number}: {problem}" for problem in _option_problems(option)]
    return found


def _input_problems(block: Mapping[str, Any]) -> list[str]:
    found = _too_long("block_id", block.get("block_id"), MAX_ID)
    found += _plain_problems("label", block.get("label"), MAX_LABEL, required=True)
    found += _plain_problems("hint", block.get("hint"), MAX_HINT)
    element = block.get("element")
    if not isinstance(element, Mapping):
        return [*found, "an input block needs an element"]
    found += _too_long("action_id", element.get("action_id"), MAX_ID)
    found += _plain_problems("placeholder", element.get("placeholder"), MAX_PLACEHOLDER)
    kind = element.get("type")
    if kind not in SELECTS and kind != "plain_text_input":
        found.append(f"{kind!r} is not an input element this stand-in knows")
    options = element.get("options")
    if kind == "static_select":
        if not isinstance(options, list) or not 1 <= len(options) <= MAX_OPTIONS:
            found.append(f"a static_select needs 1 to {MAX_OPTIONS} options")
            options = []
        for number, option in enumerate(options, 1):
            found += [f"option {number}: {problem}" for problem in _option_problems(option)]
        initial = element.get("initial_option")
        if initial is not None and initial not in options:
            found.append("initial_option is not one of the options")
    if kind == "external_select":
        minimum = element.get("min_query_length", 3)
        if not isinstance(minimum, int) or minimum < 0:
            found.append("min_query_length must be a whole number, 0 or more")
    return found


def _option_problems(option: Any) -> list[str]:
    if not isinstance(option, Mapping):
        return ["not an object"]
    found = _plain_problems("text", option.get("text"), MAX_OPTION_TEXT, required=True)
    value = option.get("value")
    if not isinstance(value, str) or not value:
        found.append("no value")
    found += _too_long("value", value, MAX_OPTION_VALUE)
    found += _plain_problems("description", option.get("description"), MAX_OPTION_DESCRIPTION)
    return found


def _plain_problems(
    what: str, text_object: Any, limit: int, *, required: bool = False
) -> list[str]:
    if text_object is None:
        return [f"{what} is missing"] if required else []
    if not isinstance(text_object, Mapping) or text_object.get("type") != "plain_text":
        return [f"{what} must be a plain_text object"]
    text = text_object.get("text")
    if not isinstance(text, str) or not text:
        return [f"{what} has no text"]
    return _too_long(what, text, limit)
