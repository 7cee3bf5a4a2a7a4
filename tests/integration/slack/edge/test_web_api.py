"""Slack's Web API hanging or failing for a while: timeouts, outages and late previews."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.preview.spaces import SpaceChoice
from bot.slack.constants import PICKER_FLOW_BLOCK_ID
from bot.slack.edge.web_api import SlackWebClient, SlackWebError, WebErrorKind
from bot.standin.cams.catalog import DEMO_SPACE, FEATURED
from bot.standin.harness.slack_bot import running_bot
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.garbage import Garbage
from tests.shared import web_api
from tests.shared.web_api import (
    FLOW,
    HANG_GUARD_S,
    NOT_JSON,
    TOKEN,
    guarded_bot,
    unretrieved_errors,
    unverified_refusal,
    warning_lines,
)

# Fixtures defined once in tests/shared/web_api.py, bound here under the names tests take.
slack = web_api.slack
loop_errors = web_api.loop_errors
logged = web_api.logged


async def test_no_answer_at_all(slack: FakeSlack) -> None:
    patient = SlackWebClient(token=TOKEN, base_url=slack.api_url, timeout=1)
    with slack.people.stalled(), pytest.raises(SlackWebError) as raised:
        await patient.users_info(user="U0PLAIN01")
    assert raised.value.kind is WebErrorKind.TIMEOUT
    assert str(raised.value) == "users.info: no answer within 1 s"

    async with running_fake_slack() as gone:
        url = gone.api_url
    with pytest.raises(SlackWebError) as raised:
        await SlackWebClient(token=TOKEN, base_url=url).chat_postMessage(channel="C1", text="x")
    assert raised.value.kind is WebErrorKind.UNREACHABLE
    assert str(raised.value) == "chat.postMessage: Slack unreachable (ClientConnectorError)"


async def test_an_outage_gets_the_same_sentence(
    tmp_path: Path, logged: pytest.LogCaptureFixture
) -> None:
    async with guarded_bot(tmp_path) as bot:
        with bot.slack.people.stalled():
            answer, _ = await bot.command(FLOW)

    assert answer.json() == unverified_refusal()
    (line,) = warning_lines(logged)
    assert "no answer within" in line


@pytest.mark.parametrize("garbage", NOT_JSON, ids=str)
async def test_a_late_preview_logs_one_line_when_views_update_fails(
    logged: pytest.LogCaptureFixture, loop_errors: list[dict[str, Any]], garbage: Garbage
) -> None:
    flow = FEATURED[0].flow_id
    async with running_bot(default_space=DEMO_SPACE, ack_budget=0.1) as bot:
        bot.service.spaces = (SpaceChoice(DEMO_SPACE, "Demo"),)
        # Held past the ack budget, so the preview comes by views.update.
        bot.cams.fault(f"latency:1@flow:{flow}")
        await bot.post(payloads.global_shortcut(trigger_id=bot.slack.new_trigger_id()))
        opened = await bot.slack.next_view(within=HANG_GUARD_S)
        bot.slack.garble("views.update", garbage)
        chosen = {"text": {"type": "plain_text", "text": "picked"}, "value": flow}
        body = payloads.view_submission(opened.view, chosen={PICKER_FLOW_BLOCK_ID: chosen})
        answer = await bot.post(body)
        assert await bot.inflight.drain(HANG_GUARD_S) == []

    assert "Fetching the preview" in answer.body
    assert [c.method for c in bot.slack.api_calls if c.method == "views.update"] == ["views.update"]
    (line,) = warning_lines(logged)
    assert line.startswith("could not update a modal: views.update: ")
    assert unretrieved_errors(loop_errors) == []
