"""A Slack message (`text` and/or `blocks`) rendered for a terminal, with numbered buttons.

Buttons are numbered from 1 in reading order, so a person can click one by its number; the
rendering keeps each button's element and block_id to build the block_actions payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.standin.slack.mrkdwn import LOCAL_VIEWER, Viewer, emojize, to_text

IN_CHANNEL = "(visible to the channel)"
EPHEMERAL = "(only you can see this)"
DIVIDER = "-" * 40


@dataclass(frozen=True, slots=True)
class Button:
    """One button of a rendered message: its number, its block and its element as sent."""

    number: int
    block_id: str
    element: Mapping[str, Any]

    @property
    def action_id(self) -> str:
        """The element's action_id ("" when the bot gave none)."""
        return str(self.element.get("action_id", ""))

    @property
    def label(self) -> str:
        """The button's text."""
        return _plain(self.element.get("text"))

    @property
    def url(self) -> str | None:
        """The link a URL button opens, if any."""
        url = self.element.get("url")
        return url if isinstance(url, str) else None


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message as terminal text, and its buttons."""

    in_channel: bool
    lines: tuple[str, ...]
    buttons: tuple[Button, ...]

    @property
    def marker(self) -> str:
        """Who sees the message: the channel, or only the person who asked."""
        return IN_CHANNEL if self.in_channel else EPHEMERAL

    @property
    def body(self) -> str:
        """The rendered content, one line per text line."""
        return "\n".join(self.lines)

    def __str__(self) -> str:
        return f"{self.marker}\n{self.body}"

    def button(self, number: int, action_id: str | None = None) -> Button:
        """The `number`-th button (from 1), counting only those with `action_id` if given.

        Raises LookupError when there is no such button.
        """
        candidates = [b for b in self.buttons if action_id is None or b.action_id == action_id]
        if not 1 <= number <= len(candidates):
            kind = f"{action_id} " if action_id else ""
            raise LookupError(f"no {kind}button {number}; the message has {len(candidates)}")
        return candidates[number - 1]


def render_message(message: Mapping[str, Any], viewer: Viewer = LOCAL_VIEWER) -> Rendered:
    """Render `message` as Slack would show it: the blocks when present, else the text."""
    in_channel = message.get("response_type") == "in_channel"
    if message.get("delete_original"):
        return Rendered(in_channel, ("(deletes the original message)",), ())
    blocks = message.get("blocks")
    if not blocks:
        text = message.get("text")
        lines = to_text(text, viewer).splitlines() if isinstance(text, str) else []
        return Rendered(in_channel, tuple(lines or ["(empty message)"]), ())
    renderer = _Renderer(viewer)
    for index, block in enumerate(blocks if isinstance(blocks, list) else [blocks]):
        renderer.block(block, index)
    return Rendered(in_channel, tuple(renderer.lines), tuple(renderer.buttons))


class _Renderer:
    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.lines: list[str] = []
        self.buttons: list[Button] = []

    def block(self, block: Any, index: int) -> None:
        if not isinstance(block, Mapping):
            self.lines.append("[malformed block]")
            return
        kind = block.get("type")
        # Slack gives a block without block_id one of its own; any stable value will do here.
        block_id = str(block.get("block_id") or f"block-{index}")
        if kind == "section":
            self.text(block.get("text"))
            for field in block.get("fields") or []:
                self.text(field)
            accessory = block.get("accessory")
            if isinstance(accessory, Mapping):
                self.element(accessory, block_id)
        elif kind == "header":
            title = _plain(block.get("text"))
            self.lines += [title, "=" * len(title)]
        elif kind == "divider":
            self.lines.append(DIVIDER)
        elif kind == "context":
            parts = [self.inline(e) for e in block.get("elements") or []]
            self.lines.append("  ".join(part for part in parts if part))
        elif kind == "actions":
            for element in block.get("elements") or []:
                if isinstance(element, Mapping):
                    self.element(element, block_id)
        elif kind == "image":
            self.lines.append(f"[image: {block.get('alt_text', '')}] {block.get('image_url', '')}")
        else:
            self.lines.append(f"[{kind} block not shown]")

    def text(self, text_object: Any) -> None:
        if text_object is not None:
            self.lines += self.inline(text_object).splitlines()

    def inline(self, element: Any) -> str:
        if not isinstance(element, Mapping):
            return ""
        if element.get("type") == "image":
            return f"[{element.get('alt_text', 'image')}]"
        if element.get("type") == "mrkdwn":
            return to_text(str(element.get("text", "")), self.viewer)
        return _plain(element)

    def element(self, element: Mapping[str, Any], block_id: str) -> None:
        if element.get("type") != "button":
            self.lines.append(f"[{element.get('type')} not shown]")
            return
        button = Button(len(self.buttons) + 1, block_id, element)
        self.buttons.append(button)
        link = f" {button.url}" if button.url else ""
        self.lines.append(f"[{button.number} {button.label}]{link}")


def _plain(text_object: Any) -> str:
    if not isinstance(text_object, Mapping):
        return ""
    text = str(text_object.get("text", ""))
    # Slack shows the shortcodes in plain text as emoji unless the object says otherwise.
    return emojize(text) if text_object.get("emoji", True) is not False else text
