"""Slack's Web API answering what is not its JSON object (a proxy's 503 text, invalid JSON, an
array, a string): the client's one typed error, and what each path of the bot makes of it.

Everything goes over loopback to the fake Slack, whose `garble` switch makes a method answer so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.preview.spaces import SpaceChoice
from bot.slack.app import AUTHORIZE_FAILED
from bot.slack.blocks import messages, modals
from bot.slack.constants import PICKER_FLOW_BLOCK_ID, PICKER_SPACE_BLOCK_ID
from bot.slack.edge.web_api import SlackWebClient, SlackWebError, WebErrorKind, as_web_client
from bot.standin.cams.catalog import DEMO_SPACE, FEATURED
from bot.standin.harness.slack_bot import running_bot
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack
from bot.standin.slack.garbage import RETRY_AFTER_S, UPSTREAM_ERROR, Garbage
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

KIND = {
    Garbage.UPSTREAM_ERROR: WebErrorKind.HTTP_ERROR,
    Garbage.GATEWAY_PAGE: WebErrorKind.HTTP_ERROR,
    Garbage.INVALID_JSON: WebErrorKind.UNUSABLE,
    Garbage.JSON_ARRAY: WebErrorKind.UNUSABLE,
    Garbage.JSON_STRING: WebErrorKind.UNUSABLE,
    Garbage.NOT_UTF8: WebErrorKind.UNUSABLE,
    Garbage.RATE_LIMITED: WebErrorKind.RATE_LIMITED,
}
# Each family of methods the issue names, as the bot or Bolt would call it.
METHODS = [
    "auth.test",
    "users.info",
    "usergroups.users.list",
    "views.open",
    "views.update",
    "chat.postMessage",
    "conversations.info",
    "oauth.v2.access",
]


@pytest.fixture
def client(slack: FakeSlack) -> SlackWebClient:
    return SlackWebClient(token=TOKEN, base_url=slack.api_url)


# --- the client ----------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", list(Garbage), ids=str)
async def test_every_method_fails_with_one_typed_error(
    slack: FakeSlack, client: SlackWebClient, garbage: Garbage
) -> None:
    for method in METHODS:
        slack.garble(method, garbage)
        with pytest.raises(SlackWebError) as raised:
            await client.api_call(method, params={"user": "U0PLAIN01"})
        error = raised.value

        assert isinstance(error, SlackApiError), "Bolt and slack_sdk catch it as Slack's"
        assert (error.kind, error.method) == (KIND[garbage], method)
        message = str(error)
        assert message.startswith(f"{method}: ")
        assert "\n" not in message
        for said in (UPSTREAM_ERROR[:20], "<html", '"user"', "[{", TOKEN):
            assert said not in message, "nothing of the answer but a code"
        # Where slack_sdk and Bolt read a refusal, there is one.
        assert error.response["error"] == (error.code or error.kind.value)
        assert error.response.get("ok") is False


@pytest.mark.parametrize(
    ("garbage", "said"),
    [
        (Garbage.UPSTREAM_ERROR, "users.info: HTTP 503, text/plain, not JSON"),
        (Garbage.GATEWAY_PAGE, "users.info: HTTP 502, text/html, not JSON"),
        (Garbage.INVALID_JSON, "users.info: HTTP 200, invalid JSON"),
        (Garbage.JSON_ARRAY, "users.info: HTTP 200, a JSON array, not an object"),
        (Garbage.JSON_STRING, "users.info: HTTP 200, a JSON string, not an object"),
        (Garbage.NOT_UTF8, "users.info: a body that is not UTF-8"),
    ],
    ids=str,
)
async def test_the_error_says_what_came_instead(
    slack: FakeSlack, client: SlackWebClient, garbage: Garbage, said: str
) -> None:
    slack.garble("users.info", garbage)
    with pytest.raises(SlackWebError) as raised:
        await client.users_info(user="U0PLAIN01")
    assert str(raised.value) == said


async def test_a_rate_limit_says_when_to_ask_again(
    slack: FakeSlack, client: SlackWebClient
) -> None:
    slack.garble("users.info", Garbage.RATE_LIMITED)
    with pytest.raises(SlackWebError) as raised:
        await client.users_info(user="U0PLAIN01")

    error = raised.value
    assert (error.kind, error.code, error.status) == (WebErrorKind.RATE_LIMITED, "ratelimited", 429)
    assert error.retry_after == RETRY_AFTER_S
    assert str(error) == f"users.info: rate-limited by Slack, retry after {RETRY_AFTER_S} s"
    # As slack_sdk's Socket Mode client reads a rate limit.
    assert error.response.headers["Retry-After"] == str(RETRY_AFTER_S)


async def test_slack_s_refusal_keeps_its_code_and_answer(
    slack: FakeSlack, client: SlackWebClient
) -> None:
    slack.people.scopes.discard("users:read")
    with pytest.raises(SlackWebError) as raised:
        await client.users_info(user="U0PLAIN01")

    error = raised.value
    assert (error.kind, error.code, error.needed) == (
        WebErrorKind.REFUSED,
        "missing_scope",
        "users:read",
    )
    assert str(error) == "users.info: Slack says missing_scope (needs users:read)"
    assert error.response["provided"] == "usergroups:read"


async def test_a_success_is_slack_s_answer(slack: FakeSlack, client: SlackWebClient) -> None:
    answer = await client.users_info(user="U0PLAIN01")
    assert answer["user"]["id"] == "U0PLAIN01"
    slack.garble("users.info", Garbage.JSON_ARRAY)
    slack.garble("users.info", None)
    assert (await client.users_info(user="U0PLAIN01"))["ok"] is True


def test_a_plain_client_becomes_one_with_its_settings() -> None:
    plain = AsyncWebClient(token=TOKEN, base_url="http://127.0.0.1:9/api/", timeout=7, team_id="T1")
    ours = as_web_client(plain)
    assert isinstance(ours, SlackWebClient)
    assert (ours.token, ours.base_url, ours.timeout, ours.default_params) == (
        TOKEN,
        "http://127.0.0.1:9/api/",
        7,
        {"team_id": "T1"},
    )
    assert as_web_client(ours) is ours


def test_bolts_plain_client_is_taken_over_and_any_other_kind_is_copied() -> None:
    class Other(AsyncWebClient):
        pass

    plain = AsyncWebClient(token=TOKEN, timeout=7)
    other = Other(token=TOKEN, timeout=7)
    taken, copied = as_web_client(plain), as_web_client(other)

    assert taken is plain, "no second client per request"
    assert type(taken) is SlackWebClient
    assert id(copied) != id(other)
    assert type(copied) is SlackWebClient
    assert (copied.token, copied.timeout) == (TOKEN, 7)
    assert type(other) is Other


# --- what the person sees, and the log -----------------------------------------------------


@pytest.mark.parametrize("method", ["users.info", "usergroups.users.list"])
@pytest.mark.parametrize("garbage", NOT_JSON, ids=str)
async def test_a_command_gets_the_outage_sentence(
    tmp_path: Path, logged: pytest.LogCaptureFixture, method: str, garbage: Garbage
) -> None:
    async with guarded_bot(tmp_path) as bot:
        bot.slack.garble(method, garbage)
        answer, _ = await bot.command(FLOW)

    assert answer.status == 200
    assert answer.json() == unverified_refusal()
    (line,) = warning_lines(logged)
    assert f"refused: {method}: " in line
    assert bot.cams.emulator.by_action == {}


@pytest.mark.parametrize("garbage", NOT_JSON, ids=str)
async def test_the_global_picker_logs_one_line_when_views_open_fails(
    logged: pytest.LogCaptureFixture, loop_errors: list[dict[str, Any]], garbage: Garbage
) -> None:
    async with running_bot(default_space=DEMO_SPACE) as bot:
        bot.slack.garble("views.open", garbage)
        answer = await bot.post(payloads.global_shortcut(trigger_id=bot.slack.new_trigger_id()))
        assert await bot.inflight.drain(HANG_GUARD_S) == []

    assert (answer.status, answer.body) == (200, "")
    assert [c.method for c in bot.slack.api_calls if c.method.startswith("views.")] == [
        "views.open"
    ]
    (line,) = warning_lines(logged)
    assert line.startswith("could not open the picker: views.open: ")
    assert unretrieved_errors(loop_errors) == []


@pytest.mark.parametrize("method", ["users.info", "usergroups.users.list"])
async def test_the_global_picker_offers_nothing_when_slack_cannot_say_who_asks(
    tmp_path: Path,
    logged: pytest.LogCaptureFixture,
    loop_errors: list[dict[str, Any]],
    method: str,
) -> None:
    async with guarded_bot(tmp_path) as bot:
        bot.slack.garble(method, Garbage.UPSTREAM_ERROR)
        await bot.post(payloads.global_shortcut(trigger_id=bot.slack.new_trigger_id()))
        change = await bot.slack.next_view(within=HANG_GUARD_S)
        assert await bot.inflight.drain(HANG_GUARD_S) == []

    assert messages.UNVERIFIED_TEXT in json.dumps(change.view)
    (line,) = warning_lines(logged)
    assert line == f"the picker offers no space: {method}: HTTP 503, text/plain, not JSON"
    assert unretrieved_errors(loop_errors) == []


@pytest.mark.parametrize("garbage", NOT_JSON, ids=str)
async def test_bolt_s_auth_test_failing_is_its_authorize_sentence(
    logged: pytest.LogCaptureFixture, garbage: Garbage
) -> None:
    async with running_bot() as bot:
        bot.slack.garble("auth.test", garbage)
        failed, _ = await bot.command(FLOW)
        lines = warning_lines(logged)
        bot.slack.garble("auth.test", None)
        answered, _ = await bot.command(FLOW)

    assert (failed.status, failed.body) == (200, AUTHORIZE_FAILED)
    (line,) = lines
    assert line.startswith("Failed to authorize with the given token (auth.test: ")
    assert f"`{FLOW}`" in answered.body, "a failed auth.test is not remembered"
    assert bot.cams.emulator.by_flow == {FLOW: 1}


async def test_a_message_shortcut_gets_the_outage_sentence(
    tmp_path: Path, logged: pytest.LogCaptureFixture
) -> None:
    async with guarded_bot(tmp_path) as bot:
        bot.slack.garble("users.info", Garbage.UPSTREAM_ERROR)
        response_url = bot.slack.new_response_url()
        message = payloads.message_from_text(f"see {FLOW}")
        body = payloads.message_shortcut(message, response_url=response_url)
        await bot.post(body)
        told = await bot.slack.next_response(response_url)

    assert told.message is not None
    assert told.message["text"] == messages.UNVERIFIED_TEXT
    (line,) = warning_lines(logged)
    assert line.startswith("access not checked, refused: ")
    assert bot.cams.emulator.by_action == {}


async def test_a_picker_submission_says_slack_could_not_say_who_asks(
    tmp_path: Path, logged: pytest.LogCaptureFixture
) -> None:
    flow = FEATURED[0].flow_id
    # A picker opened while Slack still answered, submitted once it no longer does.
    opened = modals.picker_view((SpaceChoice(DEMO_SPACE, "Demo"),))
    async with guarded_bot(tmp_path) as bot:
        bot.slack.garble("users.info", Garbage.UPSTREAM_ERROR)
        chosen = {"text": {"type": "plain_text", "text": "picked"}, "value": flow}
        answer = await bot.post(
            payloads.view_submission(opened, chosen={PICKER_FLOW_BLOCK_ID: chosen})
        )

    assert answer.json()["errors"] == {PICKER_SPACE_BLOCK_ID: modals.NOT_CHECKED}
    assert bot.cams.emulator.by_flow == {}
