"""The Slack app while CAMS or Slack is slow: the ack's deadline, refused replies, shutdown."""

from __future__ import annotations

import time

import pytest

from bot.standin.harness.slack_bot import running_bot
from bot.standin.slack import payloads
from tests.shared.app import FLOW, message_text


async def test_ack_stays_under_three_seconds_when_cams_takes_eight() -> None:
    async with running_bot() as bot:
        bot.cams.fault(f"latency:8@flow:{FLOW}")
        started = time.monotonic()
        answer, response_url = await bot.command(FLOW)
        acked = time.monotonic() - started

        assert answer.status == 200
        assert acked < 3.0
        assert "Fetching the preview" in message_text(answer.json())
        delivery = await bot.slack.next_response(response_url, within=15)

    assert delivery.accepted
    assert delivery.message is not None
    assert f"`{FLOW}`" in message_text(delivery.message)
    assert time.monotonic() - started >= 8.0


async def test_a_refused_response_url_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_bot() as bot:
        bot.cams.fault(f"latency:3@flow:{FLOW}")
        response_url = bot.slack.new_response_url()
        bot.slack.fail_response_url(response_url, status=404, error="expired_url")
        answer = await bot.post(payloads.slash_command(FLOW, response_url=response_url))
        delivery = await bot.slack.next_response(response_url, within=10)
    # Leaving the block shut the bot down, which waits for its replies in flight.

    assert answer.status == 200
    assert not delivery.accepted
    assert "127.0.0.1 refused the reply: HTTP 404" in caplog.text
    assert response_url not in caplog.text


async def test_shutdown_waits_for_replies_in_flight() -> None:
    async with running_bot(ack_budget=0.1) as bot:
        bot.cams.fault("latency:1@all")
        answer, response_url = await bot.command(FLOW)
        assert "Fetching the preview" in message_text(answer.json())
    # The bot has shut down; the reply it owed was still delivered.

    (delivery,) = bot.slack.deliveries
    assert delivery.url == response_url
    assert delivery.message is not None
    assert f"`{FLOW}`" in message_text(delivery.message)
