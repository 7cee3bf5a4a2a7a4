"""What the Slack app's tests share."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block

FLOW = "1234567890123456"


def message_text(message: dict[str, Any]) -> str:
    """The message's text, after checking its blocks against Slack's limits."""
    blocks = message.get("blocks", [])
    assert len(blocks) <= 50
    for block in Block.parse_all(blocks):
        block.to_dict()
    return json.dumps(blocks, ensure_ascii=False) + str(message.get("text", ""))
