"""The Block Kit limits Slack enforces: a message that breaks one is refused, not shown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_URL = 3000
MAX_BUTTON_VALUE = 2000
MAX_ID = 255


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
