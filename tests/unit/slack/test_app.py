"""The Slack app over real v0-signed HTTP, with the emulator and a fake Slack on loopback."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.cams.errors import ErrorKind
from bot.config import Secret
from bot.preview.limiter import LimiterSettings
from bot.serving import serving
from bot.slack.constants import (
    COMMAND,
    EVENTS_PATH,
    GET_MY_PREVIEW_ACTION_ID,
    HEALTH_PATH,
    OPEN_ACTION_ID,
    SHARE_ACTION_ID,
)
from bot.slack.edge.refusals import RefusalLog
from bot.slack.edge.verification import STALE, SignatureCheck
from bot.slack.server import events_handler
from bot.standin.harness.slack_bot import BOT_TOKEN, SIGNING_SECRET, Bot, running_bot
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import running_fake_slack
from bot.standin.slack.signing import signed_headers
from tests.shared.app import FLOW, message_text
from tests.support import DATA

log = logging.getLogger(__name__)


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def test_slacks_documented_signing_example_verifies() -> None:
    body = (DATA / "slack-signing-example.txt").read_text(encoding="utf-8").strip()
    verifier = SignatureVerifier(SIGNING_SECRET, clock=_FixedClock(1531420618))
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert verifier.is_valid(body, "1531420618", expected)
    assert (
        signed_headers(SIGNING_SECRET, body.encode(), 1531420618)["X-Slack-Signature"] == expected
    )


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


async def test_preview_comes_in_the_ack_when_it_is_quick(bot: Bot) -> None:
    answer, _ = await bot.command(FLOW)

    assert answer.status == 200
    message = answer.json()
    assert message["response_type"] == "ephemeral"
    assert f"`{FLOW}`" in message_text(message)
    assert "<!date^" in message_text(message)
    open_button, share_button = _buttons(message)
    assert open_button["action_id"] == OPEN_ACTION_ID
    assert open_button["url"].startswith("https://business.facebook.com/wa/manage/flows/")
    assert share_button["action_id"] == SHARE_ACTION_ID
    assert bot.slack.deliveries == []
    assert bot.cams.emulator.by_flow == {FLOW: 1}
    assert [call.method for call in bot.slack.api_calls] == ["auth.test"]


async def test_several_ids_in_one_command(bot: Bot) -> None:
    answer, _ = await bot.command("1111111111 2222222222 1111111111 space:cams-x")

    message = answer.json()
    assert "`1111111111`" in message_text(message)
    assert "`2222222222`" in message_text(message)
    assert "Space `cams-x`" in message_text(message)
    assert len(_buttons(message)) == 4
    assert bot.cams.emulator.by_flow == {"1111111111": 1, "2222222222": 1}
    assert all("CustSpaceId=cams-x" in r.raw_path for r in bot.cams.emulator.recorded)


async def test_a_second_ask_is_a_cache_hit(bot: Bot) -> None:
    await bot.command(FLOW)
    answer, _ = await bot.command(FLOW)
    assert f"`{FLOW}`" in message_text(answer.json())
    assert bot.cams.emulator.by_flow == {FLOW: 1}


@pytest.mark.parametrize(
    "text",
    ["", "help", "1234567890 space:a/b", "&lt;script&gt;alert(1)&lt;/script&gt; 1234567890"],
)
async def test_usage_at_once_without_an_upstream_call(bot: Bot, text: str) -> None:
    answer, _ = await bot.command(text)

    body = message_text(answer.json())
    assert "Usage:" in body
    assert "<script>" not in body
    assert bot.cams.emulator.recorded == type(bot.cams.emulator.recorded)()


@pytest.mark.parametrize(
    ("fault", "phrase"),
    [
        ("error:Ram.PermissionDeny", "`cams:GetFlowPreviewUrl`"),
        ("error:Product.Unsubscript", "not activated"),
        ("error:Unknown.ResourceOwnerId", "different Alibaba Cloud account"),
        ("error:Flow.NotFound", "no such flow"),
        ("error:InvalidParameter", "did not accept the request"),
        ("error:SignatureDoesNotMatch", "rejected the bot's Alibaba Cloud credentials"),
        ("throttle:4000", "rate-limiting the bot's account right now. Try again in 4 seconds"),
        ("http:503", "CAMS is having trouble"),
        ("drop", "cannot reach CAMS"),
        ("malformed", "cannot use"),
    ],
)
async def test_every_error_kind_is_one_clear_sentence(fault: str, phrase: str) -> None:
    async with running_bot(max_attempts=1) as bot:
        bot.cams.fault(f"{fault}@all")
        answer, _ = await bot.command(FLOW)

    assert answer.status == 200
    body = message_text(answer.json())
    assert phrase in body
    if fault != "drop" and not fault.startswith(("http:", "malformed")):
        recorded_id = bot.cams.emulator.recorded[-1]
        assert recorded_id.outcome != "OK"
        assert "RequestId `" in body
    assert "Traceback" not in body
    assert "flowpreview-demo-secret" not in body


async def test_busy_says_when_to_try_again() -> None:
    limiter = LimiterSettings(rate=1, margin=0.0, max_wait=0.0)
    async with running_bot(limiter=limiter) as bot:
        answer, _ = await bot.command("1111111111 2222222222")

    body = message_text(answer.json())
    assert "Many previews are being fetched right now. Try again" in body


@pytest.mark.dates
@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "now", "X-Slack-Signature": "v0=" + "0" * 64},
        {},
        {"X-Slack-Request-Timestamp": "now"},
    ],
    ids=["forged", "missing", "no-signature"],
)
async def test_unsigned_or_forged_requests_get_401(bot: Bot, headers: dict[str, str]) -> None:
    body = payloads.slash_command(FLOW, response_url=bot.slack.new_response_url())
    # The time of the request, not of the module's collection: an old one would be refused
    # as stale, whatever its signature.
    sent = {
        name: str(int(time.time())) if value == "now" else value for name, value in headers.items()
    }
    answer = await bot.post(
        body, headers={"Content-Type": "application/x-www-form-urlencoded", **sent}
    )
    assert answer.status == 401
    assert bot.cams.emulator.by_flow == {}


@pytest.mark.dates
async def test_stale_and_wrongly_keyed_requests_get_401(bot: Bot) -> None:
    body = payloads.slash_command(FLOW, response_url=bot.slack.new_response_url())
    # Well past the five minutes either way. The timestamp is whole seconds and the bot reads
    # its clock after this test does: by then the clock may have passed the next second, and
    # 301 s ahead would be inside the window. The edge is tested on a fixed clock below.
    stale = signed_headers(SIGNING_SECRET, body, int(time.time()) - 360)
    assert (await bot.post(body, headers=stale)).status == 401
    assert (await bot.post(body, secret="not-the-secret")).status == 401
    future = signed_headers(SIGNING_SECRET, body, int(time.time()) + 360)
    assert (await bot.post(body, headers=future)).status == 401
    assert bot.cams.emulator.by_flow == {}


@pytest.mark.parametrize(
    ("skew", "problem"),
    [(-300, None), (300, None), (299.5, None), (-301, STALE), (301, STALE), (300.5, STALE)],
)
def test_a_timestamp_more_than_five_minutes_from_the_clock_is_stale(
    skew: float, problem: str | None
) -> None:
    now = 1_800_000_000.0
    check = SignatureCheck(Secret(SIGNING_SECRET), clock=lambda: now + skew)
    # Whole seconds on the wire; the clock has fractions.
    assert check.header_problem(str(int(now)), "v0=" + "0" * 64) == problem


async def test_the_url_button_click_is_acknowledged(bot: Bot) -> None:
    answer, _ = await bot.command(FLOW)
    open_button = _buttons(answer.json())[0]
    click = payloads.block_actions(
        open_button,
        block_id="actions-0",
        response_url=bot.slack.new_response_url(),
        message_ts=payloads.new_ts(),
    )

    clicked = await bot.post(click)
    assert clicked.status == 200
    assert clicked.body == ""
    assert bot.slack.deliveries == []


async def test_share_in_channel_posts_a_card_without_the_link(bot: Bot) -> None:
    answer, _ = await bot.command(f"{FLOW} space:sp")
    share_button = _buttons(answer.json())[1]
    response_url = bot.slack.new_response_url()
    click = payloads.block_actions(
        share_button, block_id="actions-0", response_url=response_url, message_ts=payloads.new_ts()
    )

    assert (await bot.post(click)).status == 200
    delivery = await bot.slack.next_response(response_url)
    assert delivery.accepted
    assert delivery.message is not None
    assert delivery.message["response_type"] == "in_channel"
    assert delivery.message["replace_original"] is False
    assert f"Shared by <@{payloads.DEFAULT_WHO.user_id}>" in message_text(delivery.message)
    shared = json.dumps(delivery.message)
    assert "token=" not in shared
    assert "https://" not in shared, "a bearer link in the channel"
    assert GET_MY_PREVIEW_ACTION_ID in shared
    assert bot.cams.emulator.by_flow == {FLOW: 1}, "the share is served from the cache"


async def test_a_forged_share_value_is_ignored(bot: Bot) -> None:
    button = {"action_id": SHARE_ACTION_ID, "value": '{"flow": "../../etc", "space": null}'}
    response_url = bot.slack.new_response_url()
    click = payloads.block_actions(
        button, block_id="actions-0", response_url=response_url, message_ts=payloads.new_ts()
    )
    assert (await bot.post(click)).status == 200
    assert bot.slack.deliveries == []
    assert bot.cams.emulator.by_flow == {}


async def test_the_shortcut_on_the_reference_message(bot: Bot) -> None:
    message = json.loads((DATA / "slack-payloads" / "message-shortcut.json").read_text())["message"]
    response_url = bot.slack.new_response_url()

    answer = await bot.post(payloads.message_shortcut(message, response_url=response_url))
    assert answer.status == 200
    delivery = await bot.slack.next_response(response_url)

    assert delivery.accepted
    assert delivery.message is not None
    assert delivery.message["response_type"] == "ephemeral"
    body = message_text(delivery.message)
    assert "`1234567890123456`" in body
    assert "`9876543210987654`" in body
    assert bot.cams.emulator.by_flow == {"1234567890123456": 1, "9876543210987654": 1}


async def test_the_shortcut_on_a_message_without_flows(bot: Bot) -> None:
    message = payloads.message_from_text("lunch at noon?")
    response_url = bot.slack.new_response_url()
    await bot.post(payloads.message_shortcut(message, response_url=response_url))
    delivery = await bot.slack.next_response(response_url)

    assert delivery.message is not None
    assert "I found no flows" in message_text(delivery.message)
    assert "`1234567890123456`" in message_text(delivery.message)


async def test_health(bot: Bot) -> None:
    async with bot.session.get(bot.url + HEALTH_PATH) as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ok"


async def test_error_kinds_covered() -> None:
    covered = {
        ErrorKind.PERMISSION_DENIED,
        ErrorKind.NOT_SUBSCRIBED,
        ErrorKind.WRONG_OWNER,
        ErrorKind.NOT_FOUND,
        ErrorKind.BAD_REQUEST,
        ErrorKind.AUTH_FAILED,
        ErrorKind.THROTTLED,
        ErrorKind.SERVER_ERROR,
        ErrorKind.NETWORK,
        ErrorKind.MALFORMED_RESPONSE,
    }
    assert covered == set(ErrorKind)


async def test_a_failing_listener_is_a_sentence_not_a_5xx() -> None:
    async with running_fake_slack() as slack:
        bolt = AsyncApp(
            signing_secret=SIGNING_SECRET,
            client=AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url),
        )
        status, message = await _post_to_broken_app(bolt)

    assert status == 200
    assert "Something went wrong inside flowpreview" in message_text(message)
    assert "bug before ack" not in message_text(message)


async def _post_to_broken_app(bolt: AsyncApp) -> tuple[int, dict[str, Any]]:
    async def broken(ack: AsyncAck) -> None:
        raise RuntimeError("bug before ack")

    bolt.command(COMMAND)(broken)
    server = web.Application()
    check = SignatureCheck(Secret(SIGNING_SECRET))
    server.router.add_post(EVENTS_PATH, events_handler(bolt, check, RefusalLog(log)))
    body = payloads.slash_command(FLOW, response_url="http://127.0.0.1:9/response/1")
    async with (
        serving(server) as url,
        aiohttp.ClientSession() as session,
        session.post(
            url + EVENTS_PATH, data=body, headers=signed_headers(SIGNING_SECRET, body)
        ) as response,
    ):
        return response.status, await response.json()


async def test_an_unreadable_body_is_a_400(bot: Bot) -> None:
    answer = await bot.post(b"payload=%7Bnot-json")
    assert answer.status == 400


@pytest.mark.parametrize("typed", ["*bold*", "_it's_", "~zzz~", "`code`", "<!here>", "*a`b*"])
async def test_what_a_person_typed_is_never_live_formatting(typed: str) -> None:
    async with running_bot(default_space="cams-demo") as bot:
        answer, _ = await bot.command(typed.replace("<", "&lt;").replace(">", "&gt;"))

    sections = [b["text"]["text"] for b in answer.json()["blocks"] if b["type"] == "section"]
    quoted = sections[0].split(" is named like ")[1].split(". Try fewer")[0]
    # One code span, with nothing inside that could close it or become markup.
    assert quoted.startswith("`")
    assert quoted.endswith("`")
    assert "`" not in quoted[1:-1]
    assert "<" not in quoted
    assert bot.cams.emulator.by_flow == {}


async def test_the_link_footer_appears_only_beside_links(bot: Bot) -> None:
    bot.cams.fault("error:Flow.NotFound@flow:4040404040")
    ok, _ = await bot.command(FLOW)
    missing, _ = await bot.command("4040404040")
    usage, _ = await bot.command("help")

    footer = "Anyone holding a preview link can open it"
    assert footer in message_text(ok.json())
    assert footer not in message_text(missing.json())
    assert footer not in message_text(usage.json())


async def test_a_flow_link_in_the_command_works_like_the_shortcut(bot: Bot) -> None:
    link = f"https://business.facebook.com/wa/manage/flows/{FLOW}/preview/?token=x&amp;y=1"
    answer, _ = await bot.command(f"<{link}|our flow> space:cams-x")

    assert f"`{FLOW}`" in message_text(answer.json())
    assert bot.cams.emulator.by_flow == {FLOW: 1}


async def test_a_command_whose_text_holds_the_word_payload_is_still_a_command(bot: Bot) -> None:
    answer, _ = await bot.command("1234567890123456 space:payload")

    assert answer.status == 200
    assert "Space `payload`" in message_text(answer.json())
    assert f"`{FLOW}`" in message_text(answer.json())
