"""What the picker's tests share: the spaces, the bot and the modal's steps."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.preview.spaces import SpaceChoice
from bot.slack.constants import PICKER_FLOW_ACTION_ID, PICKER_FLOW_BLOCK_ID
from bot.standin.cams.catalog import ACME_SPACE, DEMO_SPACE, FEATURED
from bot.standin.harness.slack_bot import Answer, Bot, running_bot
from bot.standin.slack import limits, payloads

DEMO = SpaceChoice(DEMO_SPACE, "Demo")
ACME = SpaceChoice(ACME_SPACE, ACME_SPACE)
SIGN_UP_V3, SIGN_UP_V2, NEWSLETTER = FEATURED[0], FEATURED[1], FEATURED[2]
# Generous bounds against a hang, never a speed target.
HANG_GUARD_S = 20.0
Json = dict[str, Any]


@asynccontextmanager
async def picker_bot(
    *, spaces: tuple[SpaceChoice, ...] = (DEMO, ACME), **kwargs: Any
) -> AsyncIterator[Bot]:
    """The bot with CAMS_CUST_SPACE_ID=cams-demo and CAMS_SPACES offering both spaces."""
    default = spaces[0].id if spaces else None
    async with running_bot(default_space=default, **kwargs) as bot:
        bot.service.spaces = spaces
        yield bot


async def open_picker(bot: Bot) -> tuple[Answer, Json]:
    """Click the global shortcut; the ack and the modal the bot opened."""
    answer = await bot.post(payloads.global_shortcut(trigger_id=bot.slack.new_trigger_id()))
    change = await bot.slack.next_view(within=HANG_GUARD_S)
    assert change.method == "views.open"
    return answer, change.view


async def load_options(
    bot: Bot, view: Json, typed: str, chosen: Json | None = None, *, within: float | None = None
) -> list[Json]:
    """The options answered for `typed`; with `within`, answered in at most that many s."""
    body = payloads.block_suggestion(
        view,
        block_id=PICKER_FLOW_BLOCK_ID,
        action_id=PICKER_FLOW_ACTION_ID,
        value=typed,
        chosen=chosen or {},
    )
    async with asyncio.timeout(HANG_GUARD_S):
        answer = await bot.post(body)
    assert answer.status == 200
    if within is not None:
        assert answer.seconds < within, f"options answered in {answer.seconds:.2f} s"
    options = answer.json()
    assert limits.options_problems(options) == []
    listed: list[Json] = options["options"]
    return listed


async def submit_view(
    bot: Bot, view: Json, chosen: dict[str, Any], response_url: str | None = None
) -> Json:
    """Submit `view` with `chosen` as the person's choices: the bot's answer, {} if empty."""
    body = payloads.view_submission(view, chosen=chosen, response_url=response_url)
    answer = await bot.post(body)
    assert answer.status == 200
    return answer.json() if answer.body else {}


def flow_option(value: str) -> Json:
    """The option the flow list offers for `value`."""
    return {"text": {"type": "plain_text", "text": "picked"}, "value": value}


def view_text(view: Json) -> str:
    """A view's blocks as one string, after checking the view is one Slack would store."""
    return json.dumps(valid_stored(view)["blocks"], ensure_ascii=False)


def valid_stored(view: Json) -> Json:
    """`view`, after checking that Slack would accept and store it."""
    assert limits.view_problems(view) == []
    return view
