"""The picker while CAMS is slow: a cold catalog, and a preview that comes by views.update."""

from __future__ import annotations

from bot.slack.blocks import modals
from bot.slack.constants import PICKER_FLOW_BLOCK_ID
from bot.standin.slack.fake_slack import ViewChange
from tests.shared.picker import (
    HANG_GUARD_S,
    SIGN_UP_V3,
    flow_option,
    load_options,
    open_picker,
    picker_bot,
    submit_view,
    view_text,
)

# Slack's deadline for an options answer, which the bot keeps by design (it waits at most
# OPTIONS_WAIT_S, 1 s, for a catalog): a bound the tests check, not a speed to measure.
SLACK_OPTIONS_S = 3.0


async def test_a_cold_catalog_answers_loading_without_waiting_for_listflow() -> None:
    # ListFlow is held for 30 s: the answer can only come from what the bot already has.
    async with picker_bot() as bot:
        bot.cams.fault("latency:30@action:ListFlow")
        _, view = await open_picker(bot)

        # Slack's bound for an options answer. The bot waits OPTIONS_WAIT_S (1 s) for the
        # catalog; had it waited for ListFlow, it would take 30 s.
        options = await load_options(bot, view, "", within=SLACK_OPTIONS_S)
        again = await load_options(bot, view, "sign up", within=SLACK_OPTIONS_S)

    assert [o["value"] for o in options] == [modals.LOADING]
    assert options[0]["text"]["text"] == "Loading the flows of Demo…"
    assert [o["value"] for o in again] == [modals.LOADING]


async def test_a_slow_preview_comes_by_views_update() -> None:
    async with picker_bot(ack_budget=0.2) as bot:
        bot.cams.fault(f"latency:2@flow:{SIGN_UP_V3.flow_id}")
        _, view = await open_picker(bot)

        answer = await submit_view(
            bot, view, {PICKER_FLOW_BLOCK_ID: flow_option(SIGN_UP_V3.flow_id)}
        )
        assert bot.slack.replace_view(view["id"], answer["view"]) == []
        waiting = await bot.slack.next_view(within=HANG_GUARD_S)
        update = await bot.slack.next_view(within=HANG_GUARD_S)

    assert "Fetching the preview" in view_text(answer["view"])
    assert waiting.method == "response_action"
    assert update == ViewChange("views.update", bot.slack.views[view["id"]])
    assert update.view_id == view["id"]
    assert f"/flows/{SIGN_UP_V3.flow_id}/" in view_text(update.view)
