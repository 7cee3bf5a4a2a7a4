"""Slack's Web API answering what is not its JSON object (a proxy's 503 text, invalid JSON, an
array, a string): the client's one typed error, and what each path of the bot makes of it.

Everything goes over loopback to the fake Slack, whose `garble` switch makes a method answer so.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.settings import AccessSettings
from bot.preview.spaces import SpaceChoice
from bot.slack.app import AUTHORIZE_FAILED
from bot.slack.blocks import messages, modals
from bot.slack.constants import PICKER_FLOW_BLOCK_ID, PICKER_SPACE_BLOCK_ID
from bot.slack.edge.web_api import SlackWebClient, SlackWebError, WebErrorKind, as_web_client
from bot.standin.cams.catalog import DEMO_SPACE, FEATURED
from bot.standin.harness.slack_bot import Bot, running_bot
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.garbage import RETRY_AFTER_S, UPSTREAM_ERROR, Garbage
from bot.store.settings import StoreSettings
from bot.store.store import Store

TOKEN = "xoxb-web-api"
FLOW = "1234567890123456"
ADMINS = "S0ADMINS1"
# Generous bounds against a hang, never a speed target.
HANG_GUARD_S = 20.0
# What the issue lists, and a proxy's HTML page; a 429 is Slack's own answer, tested apart.
NOT_JSON = [g for g in Garbage if g is not Garbage.RATE_LIMITED]
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
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack(bot_token=TOKEN) as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> SlackWebClient:
    return SlackWebClient(token=TOKEN, base_url=slack.api_url)


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the event loop's exception handler ("Task exception was never retrieved")."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: seen.append(context))
    try:
        yield seen
    finally:
        loop.set_exception_handler(previous)


def _unretrieved(seen: list[dict[str, Any]]) -> list[str]:
    # A task's unretrieved exception is reported when the task is collected.
    gc.collect()
    return [str(context.get("message")) for context in seen]


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO):
        yield caplog


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The WARNING and worse lines logged; each must come without a traceback."""
    assert all(record.exc_info is None for record in caplog.records), caplog.text
    assert "Traceback" not in caplog.text
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


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


# --- what the person sees, and the log -----------------------------------------------------


@asynccontextmanager
async def guarded_bot(tmp_path: Path, **kwargs: Any) -> AsyncIterator[Bot]:
    """The bot with access rules on SQLite; a user group among ADMIN_USERS, so that every
    request asks Slack for users.info and usergroups.users.list."""
    store = Store(StoreSettings.from_env({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/db"}))
    access = AccessSettings(admin_users=frozenset({payloads.ADMIN_WHO.user_id, ADMINS}))
    async with running_bot(store=store, access=access, default_space=DEMO_SPACE, **kwargs) as bot:
        bot.slack.people.group(ADMINS, [payloads.ADMIN_WHO.user_id])
        bot.service.spaces = (SpaceChoice(DEMO_SPACE, "Demo"),)
        yield bot


def _refused() -> dict[str, Any]:
    return dict(messages.refused_message(unverified=True))


@pytest.mark.parametrize("method", ["users.info", "usergroups.users.list"])
@pytest.mark.parametrize("garbage", NOT_JSON, ids=str)
async def test_a_command_gets_the_outage_sentence(
    tmp_path: Path, logged: pytest.LogCaptureFixture, method: str, garbage: Garbage
) -> None:
    async with guarded_bot(tmp_path) as bot:
        bot.slack.garble(method, garbage)
        answer, _ = await bot.command(FLOW)

    assert answer.status == 200
    assert answer.json() == _refused()
    (line,) = _lines(logged)
    assert f"refused: {method}: " in line
    assert bot.cams.emulator.by_action == {}


async def test_an_outage_gets_the_same_sentence(
    tmp_path: Path, logged: pytest.LogCaptureFixture
) -> None:
    async with guarded_bot(tmp_path) as bot:
        with bot.slack.people.stalled():
            answer, _ = await bot.command(FLOW)

    assert answer.json() == _refused()
    (line,) = _lines(logged)
    assert "no answer within" in line


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
    (line,) = _lines(logged)
    assert line.startswith("could not open the picker: views.open: ")
    assert _unretrieved(loop_errors) == []


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
    (line,) = _lines(logged)
    assert line == f"the picker offers no space: {method}: HTTP 503, text/plain, not JSON"
    assert _unretrieved(loop_errors) == []


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
    (line,) = _lines(logged)
    assert line.startswith("could not update the picker: views.update: ")
    assert _unretrieved(loop_errors) == []


@pytest.mark.parametrize("garbage", NOT_JSON, ids=str)
async def test_bolt_s_auth_test_failing_is_its_authorize_sentence(
    logged: pytest.LogCaptureFixture, garbage: Garbage
) -> None:
    async with running_bot() as bot:
        bot.slack.garble("auth.test", garbage)
        failed, _ = await bot.command(FLOW)
        lines = _lines(logged)
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
    (line,) = _lines(logged)
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
