"""Slack messages, modals, Home views and option lists rendered for a terminal, with numbered
buttons.

Buttons are numbered from 1 in reading order, so a person can click one by its number; the
rendering keeps each button's element and block_id to build the block_actions payload. A
modal shows each input with what is picked in it, and its close and submit buttons; an
external_select's options are numbered so that one can be picked by its number.
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


@dataclass(frozen=True, slots=True)
class RenderedView:
    """A modal as terminal text, its buttons, and its input blocks (by block_id)."""

    lines: tuple[str, ...]
    buttons: tuple[Button, ...]
    inputs: Mapping[str, Mapping[str, Any]]

    @property
    def body(self) -> str:
        """The rendered modal, one line per text line."""
        return "\n".join(self.lines)

    def __str__(self) -> str:
        return self.body


def render_view(
    view: Mapping[str, Any],
    chosen: Mapping[str, Any] | None = None,
    viewer: Viewer = LOCAL_VIEWER,
) -> RenderedView:
    """Render a modal as Slack shows it: title, blocks, inputs with their current values
    (`chosen` by block_id as in `payloads.view_state`, else their initial ones), then the
    close and submit buttons."""
    title = f"[ {_plain(view.get('title'))} ]"
    renderer = _Renderer(viewer)
    renderer.lines += [title, "=" * len(title)]
    inputs: dict[str, Mapping[str, Any]] = {}
    for index, block in enumerate(view.get("blocks") or []):
        if isinstance(block, Mapping) and block.get("type") == "input":
            block_id = str(block.get("block_id", f"block-{index}"))
            inputs[block_id] = block
            renderer.input(block, (chosen or {}).get(block_id))
        else:
            renderer.block(block, index)
    footer = [f"[{_plain(view[key])}]" for key in ("close", "submit") if view.get(key)]
    renderer.lines.append(" ".join(footer))
    return RenderedView(tuple(renderer.lines), tuple(renderer.buttons), inputs)


def render_options(answer: Mapping[str, Any]) -> tuple[str, ...]:
    """An external_select's options, numbered from 1: text, then the description."""
    options = answer.get("options")
    if not isinstance(options, list) or not options:
        return ("(no options)",)
    lines = []
    for number, option in enumerate(options, 1):
        if not isinstance(option, Mapping):
            lines.append(f"{number}. [malformed option]")
            continue
        line = f"{number}. {_plain(option.get('text'))}"
        description = _plain(option.get("description"))
        lines.append(f"{line} - {description}" if description else line)
    return tuple(lines)


def option_label(option: Any) -> str:
    """How a picked option shows in its select: its text."""
    return _plain(option.get("text")) if isinstance(option, Mapping) else "(nothing picked)"


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
            self.section(block, block_id)
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
        elif kind == "input":
            # Only a Home view has inputs among the blocks rendered here; a modal's go through
            # render_view, which knows what is picked in them.
            self.input(block, None)
        else:
            self.lines.append(f"[{kind} block not shown]")

    def section(self, block: Mapping[str, Any], block_id: str) -> None:
        self.text(block.get("text"))
        for field in block.get("fields") or []:
            self.text(field)
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping):
            self.element(accessory, block_id)

    def input(self, block: Mapping[str, Any], picked: Any) -> None:
        element = block.get("element")
        element = element if isinstance(element, Mapping) else {}
        kind = element.get("type")
        optional = " (optional)" if block.get("optional") else ""
        if kind == "conversations_select":
            picked = picked or element.get("initial_conversation")
            value = to_text(f"<#{picked}>", self.viewer) if picked else "(no conversation picked)"
        elif kind in ("static_select", "external_select"):
            picked = picked or element.get("initial_option")
            value = option_label(picked) if picked else "(nothing picked)"
        elif kind == "plain_text_input":
            typed = picked or element.get("initial_value")
            value = str(typed) if typed else f"({_plain(element.get('placeholder')) or 'empty'})"
        else:
            value = f"[{kind} not shown]"
        self.lines.append(f"{_plain(block.get('label'))}{optional}: {value}")
        if kind == "static_select":
            choices = [option_label(o) for o in element.get("options") or []]
            self.lines.append(
                "  choices: " + " | ".join(f"{n} {c}" for n, c in enumerate(choices, 1))
            )
        hint = _plain(block.get("hint"))
        if hint:
            self.lines.append(f"  ({hint})")

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
