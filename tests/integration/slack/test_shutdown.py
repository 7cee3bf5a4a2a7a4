"""Shutdown of the bot in this process, on the real clock: replies owed at shutdown are
finished, or apologised for."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.slack.constants import EVENTS_PATH
from bot.standin.harness.slack_bot import SIGNING_SECRET, Bot, running_bot
from bot.standin.slack import payloads
from bot.standin.slack.signing import signed_headers
from tests.fake_clock import eventually
from tests.shared.shutdown import RESTARTED, SLOW, message_text

FLOW = "1234567890123456"


async def test_replies_not_ready_within_the_drain_get_a_last_word() -> None:
    async with running_bot(ack_budget=0.1, slack_settings={"shutdown_drain": 0.5}) as bot:
        bot.cams.fault(f"latency:30@flow:{SLOW}", f"latency:0.2@flow:{FLOW}")
        slow_ack, slow_url = await bot.command(SLOW)
        quick_ack, quick_url = await bot.command(FLOW)
        assert "Fetching the preview" in slow_ack.body
        assert "Fetching the preview" in quick_ack.body
    # Leaving the block shut the bot down with half a second of drain.

    by_url = {d.url: d for d in bot.slack.deliveries}
    assert set(by_url) == {slow_url, quick_url}
    assert RESTARTED in message_text(by_url[slow_url].message)
    assert "try again" in message_text(by_url[slow_url].message)
    assert f"flows/{FLOW}/preview" in message_text(by_url[quick_url].message)


async def _command_then_shutdown(
    flow_id: str, fault: str, *, ack_budget: float, drain: float = 10.0
) -> tuple[str, str, Bot]:
    """`/flowpreview flow_id`, and the bot shut down while the command waits for its ack.

    Returns the ack, the command's response_url and the bot, stopped.
    """
    # Bounded, so that a request left without an answer fails the test rather than holding it
    # for aiohttp's default 5 minutes.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with running_bot(
            ack_budget=ack_budget, slack_settings={"shutdown_drain": drain}
        ) as bot:
            bot.cams.fault(fault)
            response_url = bot.slack.new_response_url()
            body = payloads.slash_command(flow_id, response_url=response_url)
            command = asyncio.create_task(
                session.post(
                    bot.url + EVENTS_PATH, data=body, headers=signed_headers(SIGNING_SECRET, body)
                )
            )
            # The shutdown must find the command being handled: its preview has reached CAMS.
            # A fixed pause was not enough on a busy machine, where the request could still be
            # on its way in when the server stopped listening.
            await eventually(lambda: flow_id in bot.cams.emulator.by_flow)
        answer = await command
        return await answer.text(), response_url, bot


async def test_shutdown_during_the_ack_window_still_delivers_the_reply() -> None:
    ack, response_url, bot = await _command_then_shutdown(FLOW, "latency:1.5@all", ack_budget=0.5)

    assert "Fetching the preview" in ack
    (delivery,) = bot.slack.deliveries
    assert delivery.url == response_url
    assert f"flows/{FLOW}/preview" in message_text(delivery.message)


async def test_a_drain_shorter_than_the_ack_budget_still_acks_and_apologises() -> None:
    ack, response_url, bot = await _command_then_shutdown(
        SLOW, f"latency:30@flow:{SLOW}", ack_budget=1.0, drain=0.0
    )

    assert "Fetching the preview" in ack
    (delivery,) = bot.slack.deliveries
    assert delivery.url == response_url
    assert RESTARTED in message_text(delivery.message)
