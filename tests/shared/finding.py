"""What the tests of finding flows by name share: flows and how to read replies."""

from __future__ import annotations

import json
from typing import Any

from bot.cams.actions import Action
from bot.standin.harness.slack_bot import Bot

SPACE = "cams-demo"
SIGN_UP_V3 = "1234567890123456"
NEWSLETTER = "1234567890123402"
DENTAL = "9876543210987601"


def message_text(message: dict[str, Any]) -> str:
    """A message's blocks as one string, to look for words in."""
    return json.dumps(message.get("blocks", []), ensure_ascii=False)


def calls_of(bot: Bot, action: Action) -> int:
    """How many calls of `action` the bot's emulator has answered."""
    by_action: dict[str, int] = bot.cams.emulator.stats()["by_action"]
    return by_action.get(action.value, 0)
