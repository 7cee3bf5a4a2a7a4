"""An open modal as the Slack client holds it: the view, what is picked in it, the last list.

The terminal keeps one of these for the modal on screen. Picking a space, an option of the
last list or a conversation changes only this state, as in Slack; typing into an
external_select and submitting build the block_suggestion and view_submission payloads from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.standin.slack import payloads
from bot.standin.slack.mrkdwn import LOCAL_VIEWER, Viewer
from bot.standin.slack.payloads import DEFAULT_WHO, Who
from bot.standin.slack.render_text import RenderedView, option_label, render_view

_Json = dict[str, Any]


class ModalError(Exception):
    """What a person tried makes no sense for this modal; the message says why."""


@dataclass(slots=True)
class Modal:
    """The modal `view` (as Slack stores it, with its `id`) and the person's picks in it."""

    view: Mapping[str, Any]
    who: Who = DEFAULT_WHO
    chosen: dict[str, Any] = field(default_factory=dict)
    options: list[Mapping[str, Any]] = field(default_factory=list)
    # Whose client shows it: the names it knows channels by.
    viewer: Viewer = LOCAL_VIEWER

    @property
    def view_id(self) -> str:
        """The view's ID."""
        return str(self.view["id"])

    @property
    def can_submit(self) -> bool:
        """Whether the modal has a submit button."""
        return bool(self.view.get("submit"))

    def replaced_by(self, view: Mapping[str, Any]) -> None:
        """The app replaced the view: picks in blocks that are gone go with them."""
        self.view = view
        kept = _inputs(view)
        self.chosen = {block_id: v for block_id, v in self.chosen.items() if block_id in kept}
        self.options = []

    def render(self) -> RenderedView:
        """The modal as text, with what is picked now."""
        return render_view(self.view, self.chosen, self.viewer)

    def pick_static(self, number: int) -> str:
        """Pick the `number`-th option of the modal's (first) static select; its line."""
        block_id, element = self._input("static_select")
        options = element.get("options") or []
        if not 1 <= number <= len(options):
            raise ModalError(f"there is no choice {number}; the list has {len(options)}")
        self.chosen[block_id] = options[number - 1]
        return self._line(block_id)

    def suggestion(self, typed: str) -> bytes:
        """The block_suggestion body for typing `typed` into the external select."""
        block_id, element = self._input("external_select")
        return payloads.block_suggestion(
            self.view,
            block_id=block_id,
            action_id=str(element.get("action_id", "")),
            value=typed,
            chosen=self.chosen,
            who=self.who,
        )

    def listed(self, answer: Mapping[str, Any]) -> None:
        """Keep the options the app answered, to pick from by number."""
        options = answer.get("options")
        listed = options if isinstance(options, list) else []
        self.options = [option for option in listed if isinstance(option, Mapping)]

    def pick_listed(self, number: int) -> str:
        """Pick the `number`-th option of the last list; the input's line."""
        if not self.options:
            raise ModalError("no list is open: type into it first (flows WORDS)")
        if not 1 <= number <= len(self.options):
            raise ModalError(f"there is no option {number}; the list has {len(self.options)}")
        block_id, _ = self._input("external_select")
        self.chosen[block_id] = self.options[number - 1]
        return self._line(block_id)

    def pick_conversation(self, channel_id: str) -> str:
        """Pick `channel_id` in the modal's conversation select; the input's line."""
        block_id, _ = self._input("conversations_select")
        self.chosen[block_id] = channel_id
        return self._line(block_id)

    def conversation(self) -> str | None:
        """The conversation picked in a conversations_select that asks for a response_url."""
        for block_id, block in _inputs(self.view).items():
            element = block.get("element") or {}
            if element.get("response_url_enabled") and self.chosen.get(block_id):
                return str(self.chosen[block_id])
        return None

    def submission(self, response_url: str | None) -> bytes:
        """The view_submission body of pressing the submit button."""
        if not self.can_submit:
            raise ModalError("this modal has no submit button")
        return payloads.view_submission(
            self.view, chosen=self.chosen, response_url=response_url, who=self.who
        )

    def _input(self, kind: str) -> tuple[str, Mapping[str, Any]]:
        for block_id, block in _inputs(self.view).items():
            element = block.get("element")
            if isinstance(element, Mapping) and element.get("type") == kind:
                return block_id, element
        raise ModalError(f"this modal has no {kind.replace('_', ' ')}")

    def _line(self, block_id: str) -> str:
        block = _inputs(self.view)[block_id]
        label = block.get("label")
        label_text = label.get("text", "") if isinstance(label, Mapping) else ""
        picked = self.chosen.get(block_id)
        if isinstance(picked, Mapping):
            shown = option_label(picked)
        else:
            shown = f"#{self.viewer.names.get(str(picked), picked)}"
        return f"{label_text}: {shown}"


def _inputs(view: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(block.get("block_id", "")): block
        for block in view.get("blocks") or []
        if isinstance(block, Mapping) and block.get("type") == "input"
    }
