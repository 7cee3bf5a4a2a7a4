"""The Slack stand-in: signing, payload shapes, the fake Slack, rendering and the terminal."""

from __future__ import annotations

import asyncio
import io
import json
import os
import select
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TextIO
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack.constants import (
    COMMAND,
    EVENTS_PATH,
    OPEN_ACTION_ID,
    PICKER_CALLBACK_ID,
    SHARE_ACTION_ID,
    SHORTCUT_CALLBACK_ID,
)
from bot.standin.slack import limits, payloads, signing
from bot.standin.slack.fake_slack import FakeSlack, ViewChange, running_fake_slack
from bot.standin.slack.mrkdwn import Viewer, decode_entities, format_date, to_text
from bot.standin.slack.payloads import Who
from bot.standin.slack.render_text import (
    EPHEMERAL,
    IN_CHANNEL,
    render_message,
    render_options,
    render_view,
)
from bot.standin.slack.terminal import Terminal, stdin_lines
from tests.support import DATA

PAYLOADS = DATA / "slack-payloads"
SECRET = "stand-in-signing-secret"
FLOW = "1234567890123456"
PREVIEW = f"https://business.facebook.com/wa/manage/flows/{FLOW}/preview/?token=abc&x=1"
# 2026-12-24 06:27 UTC, 15:27 in Tokyo.
EXPIRES = 1798093620
JST = timezone(timedelta(hours=9), "JST")
TOKYO = Viewer(JST, datetime(2026, 12, 20, 12, 0, tzinfo=UTC))

_Json = dict[str, Any]


def _form(body: bytes) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(body.decode(), True).items()}


def _payload(body: bytes) -> _Json:
    parsed: _Json = json.loads(_form(body)["payload"])
    return parsed


def _preview_blocks(flow: str) -> list[_Json]:
    expiry = f"<!date^{EXPIRES}^{{date_short_pretty}} at {{time}}|2026-12-24 06:27 UTC>"
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Flow *{flow}*"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Link expires {expiry}"}]},
        {
            "type": "actions",
            "block_id": f"flow:{flow}",
            "elements": [
                {
                    "type": "button",
                    "action_id": OPEN_ACTION_ID,
                    "text": {"type": "plain_text", "text": "Open preview"},
                    "url": PREVIEW,
                },
                {
                    "type": "button",
                    "action_id": SHARE_ACTION_ID,
                    "text": {"type": "plain_text", "text": "Share in channel"},
                    "value": flow,
                },
            ],
        },
    ]


# Signing


def test_signature_reproduces_slacks_documented_example() -> None:
    body = (DATA / "slack-signing-example.txt").read_bytes()

    assert signing.signature("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_signed_headers_pass_slack_sdks_verifier() -> None:
    form = payloads.slash_command(FLOW, response_url="http://127.0.0.1/response/1")
    event = b'{"type": "url_verification"}'

    form_headers = signing.signed_headers(SECRET, form)
    event_headers = signing.signed_headers(SECRET, event, timestamp=1531420618)

    assert SignatureVerifier(SECRET).is_valid_request(form, form_headers)
    assert form_headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert event_headers["Content-Type"] == "application/json"
    assert event_headers[signing.TIMESTAMP_HEADER] == "1531420618"
    assert event_headers[signing.SIGNATURE_HEADER] == signing.signature(SECRET, 1531420618, event)


# Payloads


def test_slash_command_reproduces_the_reference_body() -> None:
    reference = (PAYLOADS / "slash-command.txt").read_bytes().strip()
    who = Who(enterprise_id="E0001", enterprise_name="Globular Construct Inc")

    body = payloads.slash_command(
        FLOW,
        response_url="https://hooks.slack.com/commands/1234/5678",
        who=who,
        trigger_id="13345224609.738474920.8088930838d88f008e0",
    )

    assert body == reference


def test_slash_command_without_enterprise_keeps_every_other_field() -> None:
    reference = _form((PAYLOADS / "slash-command.txt").read_bytes().strip())

    fields = _form(payloads.slash_command("", response_url="http://127.0.0.1/response/1"))

    assert set(fields) == set(reference) - {"enterprise_id", "enterprise_name"}
    assert fields["command"] == COMMAND
    assert fields["text"] == ""
    assert fields["response_url"] == "http://127.0.0.1/response/1"


def test_message_shortcut_has_the_reference_shape() -> None:
    reference = json.loads((PAYLOADS / "message-shortcut.json").read_text(encoding="utf-8"))

    payload = _payload(
        payloads.message_shortcut(reference["message"], response_url="http://h/response/7")
    )

    assert list(payload) == list(reference)
    for part in ("team", "user", "channel"):
        assert set(payload[part]) == set(reference[part])
    assert payload["type"] == "message_action"
    assert payload["callback_id"] == SHORTCUT_CALLBACK_ID
    assert payload["message"] == reference["message"]
    assert payload["message_ts"] == reference["message"]["ts"]
    assert payload["response_url"] == "http://h/response/7"


def test_message_from_text_encodes_like_slack() -> None:
    reference = json.loads((PAYLOADS / "message-shortcut.json").read_text(encoding="utf-8"))
    typed = f"Can someone check flow {FLOW} and <this one> {PREVIEW}?"

    message = payloads.message_from_text(typed)

    assert message["text"] == (
        f"Can someone check flow {FLOW} and &lt;this one&gt; <{PREVIEW.replace('&', '&amp;')}>?"
    )
    assert set(message) == set(reference["message"])
    elements = message["blocks"][0]["elements"][0]["elements"]
    assert elements == [
        {"type": "text", "text": f"Can someone check flow {FLOW} and <this one> "},
        {"type": "link", "url": PREVIEW},
        {"type": "text", "text": "?"},
    ]


def test_block_actions_carries_the_clicked_button() -> None:
    share = _preview_blocks(FLOW)[2]["elements"][1]
    message = {"type": "message", "ts": "1.000200", "text": "x", "blocks": []}

    ephemeral = _payload(
        payloads.block_actions(
            share, block_id="b", response_url="http://h/response/2", message_ts="1.000100"
        )
    )
    public = _payload(
        payloads.block_actions(
            share,
            block_id="b",
            response_url="http://h/response/3",
            message_ts="1.000200",
            message=message,
        )
    )

    assert ephemeral["type"] == "block_actions"
    assert ephemeral["container"] == {
        "type": "message",
        "message_ts": "1.000100",
        "channel_id": payloads.DEFAULT_WHO.channel_id,
        "is_ephemeral": True,
    }
    assert "message" not in ephemeral
    [action] = ephemeral["actions"]
    assert action["action_id"] == SHARE_ACTION_ID
    assert action["block_id"] == "b"
    assert action["value"] == FLOW
    assert action["type"] == "button"
    assert action["text"] == {"type": "plain_text", "text": "Share in channel"}
    assert {"user", "team", "channel", "trigger_id", "api_app_id", "token"} <= set(ephemeral)
    assert ephemeral["response_url"] == "http://h/response/2"
    assert public["container"]["is_ephemeral"] is False
    assert public["message"] == message


# The fake Slack


async def test_auth_test_answers_through_the_real_web_client() -> None:
    async with running_fake_slack(bot_token="xoxb-right") as fake:
        client = AsyncWebClient(token="xoxb-right", base_url=fake.api_url)

        answer = await client.auth_test()

        assert answer["ok"] is True
        assert answer["bot_id"] == fake.bot.bot_id
        assert answer["user_id"] == fake.bot.user_id
        assert answer["team_id"] == payloads.DEFAULT_WHO.team_id
        assert [(call.method, call.token) for call in fake.api_calls] == [
            ("auth.test", "xoxb-right")
        ]


async def test_wrong_token_and_other_methods_fail() -> None:
    async with running_fake_slack(bot_token="xoxb-right") as fake:
        with pytest.raises(SlackApiError) as wrong:
            await AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test()
        with pytest.raises(SlackApiError) as unknown:
            await AsyncWebClient(token="xoxb-right", base_url=fake.api_url).chat_delete(
                channel="C1", ts="1.2"
            )

    assert wrong.value.response["error"] == "invalid_auth"
    assert unknown.value.response["error"] == "unknown_method"
    assert [call.method for call in fake.api_calls] == ["auth.test", "chat.delete"]
    assert fake.api_calls[1].params["channel"] == "C1"


async def test_response_url_posts_are_recorded_and_awaitable() -> None:
    async with running_fake_slack() as fake:
        first, second = fake.new_response_url(), fake.new_response_url()
        with fake.subscribe() as everything:
            answer = await AsyncWebhookClient(second).send(text="hello", response_type="in_channel")

            delivery = await fake.next_response(second)
            seen = await everything.get()

    assert first != second
    assert (answer.status_code, answer.body) == (200, "ok")
    assert delivery is seen
    assert delivery.accepted
    assert delivery.url == second
    assert delivery.message == {"text": "hello", "response_type": "in_channel"}
    assert fake.deliveries == [delivery]


async def test_a_response_url_can_be_made_to_fail() -> None:
    async with running_fake_slack() as fake:
        expired, broken = fake.new_response_url(), fake.new_response_url()
        fake.fail_response_url(expired)
        fake.fail_response_url(broken, status=500, error="internal_error")

        gone = await AsyncWebhookClient(expired).send(text="late")
        failed = await AsyncWebhookClient(broken).send(text="unlucky")

        assert (gone.status_code, gone.body) == (404, "expired_url")
        assert (failed.status_code, failed.body) == (500, "internal_error")
        assert not (await fake.next_response(expired)).accepted


async def test_response_url_refuses_what_slack_refuses() -> None:
    async with running_fake_slack(max_uses=2) as fake:
        url = fake.new_response_url()
        client = AsyncWebhookClient(url)
        oversized = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]

        empty = await client.send_dict({"response_type": "ephemeral"})
        invalid = await client.send(text="too long", blocks=oversized)
        answers = [await client.send(text=str(n)) for n in range(3)]

        assert (empty.status_code, empty.body) == (400, "no_text")
        assert (invalid.status_code, invalid.body) == (400, "invalid_blocks")
        assert [a.status_code for a in answers] == [200, 200, 404]
        assert answers[2].body == "used_url"
        assert fake.deliveries[1].problems == ("block 1: text has 3001 characters, more than 3000",)


async def test_waiting_for_a_silent_response_url_times_out() -> None:
    async with running_fake_slack() as fake:
        url = fake.new_response_url()

        with pytest.raises(TimeoutError, match="nothing was posted"):
            await fake.next_response(url, within=0.01)
        with pytest.raises(LookupError):
            await fake.next_response(f"{fake.url}/response/99")


def test_limits_accept_a_good_message() -> None:
    assert limits.problems({"text": "x", "blocks": _preview_blocks(FLOW)}) == []
    assert limits.problems({"delete_original": True}) == []
    assert limits.problems({"blocks": [{"type": "divider"}] * 51}) == ["51 blocks, more than 50"]


# Rendering


def test_dates_render_in_the_viewers_zone_or_fall_back() -> None:
    template = "{date_short_pretty} at {time}"

    assert format_date(EXPIRES, template, TOKYO) == "Thu 24 Dec 2026 at 15:27 JST"
    assert format_date(EXPIRES, "{date_num} {time_secs}", TOKYO) == "2026-12-24 15:27:00 JST"
    long_ago = "{date_long}, {ago}"
    assert format_date(EXPIRES, long_ago, TOKYO) == "Thursday 24 December 2026, in 3 days"
    the_day_before = Viewer(JST, datetime(2026, 12, 23, 12, 0, tzinfo=UTC))
    assert (
        format_date(EXPIRES, "{date_pretty} at {time}", the_day_before) == "tomorrow at 15:27 JST"
    )
    assert to_text(f"<!date^{EXPIRES}^{{nonsense}}|06:27 UTC>", TOKYO) == "06:27 UTC"
    assert to_text("<!date^soon^{time}|when it expires>", TOKYO) == "when it expires"
    assert to_text(f"<!date^{EXPIRES}^{{date_num}}^https://x.test/|f>", TOKYO) == (
        "2026-12-24 (https://x.test/)"
    )


@pytest.mark.parametrize(
    ("zone", "change_utc", "before", "after"),
    [
        # Clocks go forward an hour: 02:00 CET becomes 03:00 CEST; 02:00 EST, 03:00 EDT.
        ("Europe/Berlin", datetime(2027, 3, 28, 1, 0, tzinfo=UTC), "01:30 CET", "03:30 CEST"),
        ("America/New_York", datetime(2027, 3, 14, 7, 0, tzinfo=UTC), "01:30 EST", "03:30 EDT"),
        # And back: 03:00 CEST becomes 02:00 CET; 02:00 EDT, 01:00 EST.
        ("Europe/Berlin", datetime(2027, 10, 31, 1, 0, tzinfo=UTC), "02:30 CEST", "02:30 CET"),
        ("America/New_York", datetime(2027, 11, 7, 6, 0, tzinfo=UTC), "01:30 EDT", "01:30 EST"),
    ],
)
def test_dates_across_a_clock_change_count_real_time(
    zone: str, change_utc: datetime, before: str, after: str
) -> None:
    half_hour = timedelta(minutes=30)
    earlier, now = change_utc - half_hour, change_utc + half_hour
    viewer = Viewer(ZoneInfo(zone), now)

    assert format_date(earlier.timestamp(), "{time}", viewer) == before
    assert format_date(now.timestamp(), "{time}", viewer) == after
    assert format_date(earlier.timestamp(), "{date_pretty}, {ago}", viewer) == "today, 1 hour ago"
    assert format_date((now + 2 * half_hour).timestamp(), "{ago}", viewer) == "in 1 hour"


def test_mrkdwn_links_mentions_and_entities() -> None:
    text = (
        "&lt;b&gt; &amp;amp; <https://a.test/?x=1&amp;y=2|a &amp; b> <https://c.test/> "
        "<@U123> <#C42|flows> <!here> <mailto:dana@example.com|dana@example.com>"
    )

    assert to_text(text) == (
        "<b> &amp; a & b (https://a.test/?x=1&y=2) https://c.test/ "
        "@U123 #flows @here dana@example.com (mailto:dana@example.com)"
    )
    assert decode_entities("&amp;lt;") == "&lt;"


def test_mrkdwn_styles_and_code_render_without_their_markers() -> None:
    text = (
        ":warning: *Flow `4030`*: not allowed to call `cams:GetFlowPreviewUrl`. "
        "_it_ ~del~ *bold _both_*"
    )
    styled = Viewer(ansi=True)

    assert to_text(text) == (
        "\u26a0\ufe0f Flow 4030: not allowed to call cams:GetFlowPreviewUrl. it del bold both"
    )
    assert to_text(text, styled) == (
        "\u26a0\ufe0f \x1b[1mFlow \x1b[36m4030\x1b[39m\x1b[22m: not allowed to call "
        "\x1b[36mcams:GetFlowPreviewUrl\x1b[39m. \x1b[3mit\x1b[23m \x1b[9mdel\x1b[29m "
        "\x1b[1mbold \x1b[3mboth\x1b[23m\x1b[22m"
    )


@pytest.mark.parametrize(
    "literal",
    [
        "snake_case_name",
        "a*b*c and 2*3*4",
        "* not bold *",
        "*across\nlines*",
        "12:30:45 and :no_such_emoji:",
        "https://a.test/x_y_z/",
    ],
)
def test_mrkdwn_that_slack_does_not_format_stays_as_written(literal: str) -> None:
    assert to_text(literal, Viewer(ansi=True)) == literal


def test_nothing_inside_code_or_markup_is_formatting() -> None:
    text = "`*not bold* :warning: &lt;b&gt;` <https://a.test/x_y_z|a_b_c> ```*pre*\n_x_```"

    assert to_text(text) == "*not bold* :warning: <b> a_b_c (https://a.test/x_y_z) *pre*\n_x_"


def test_emoji_shortcodes_the_bot_uses_become_characters() -> None:
    assert to_text(":warning: :hourglass_flowing_sand: Fetching") == "\u26a0\ufe0f \u23f3 Fetching"
    header = {
        "type": "header",
        "text": {"type": "plain_text", "text": ":tada: Done", "emoji": True},
    }
    literal = {"type": "header", "text": {"type": "plain_text", "text": ":tada:", "emoji": False}}

    assert render_message({"blocks": [header, literal]}).lines[::2] == ("\U0001f389 Done", ":tada:")


def test_mentions_show_the_names_the_viewer_knows() -> None:
    viewer = Viewer(names={"U1": "dana"})

    assert to_text("<@U1> <@U2> <@U3|old-name>", viewer) == "@dana @U2 @old-name"


def test_blocks_render_with_numbered_buttons() -> None:
    message = {
        "text": "fallback, not shown",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Flow preview"}},
            {"type": "divider"},
            *_preview_blocks(FLOW),
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Status*"},
                    {"type": "plain_text", "text": "<raw>"},
                ],
            },
            {"type": "video", "title": {"type": "plain_text", "text": "v"}},
        ],
    }

    rendered = render_message(message, TOKYO)

    assert rendered.lines == (
        "Flow preview",
        "============",
        "-" * 40,
        f"Flow {FLOW}",
        "Link expires Thu 24 Dec 2026 at 15:27 JST",
        f"[1 Open preview] {PREVIEW}",
        "[2 Share in channel]",
        "Status",
        "<raw>",
        "[video block not shown]",
    )
    assert str(rendered).startswith(EPHEMERAL + "\n")
    assert rendered.button(1).url == PREVIEW
    assert rendered.button(1, SHARE_ACTION_ID).number == 2
    assert rendered.button(2).block_id == f"flow:{FLOW}"
    with pytest.raises(LookupError, match="no share_preview button 2; the message has 1"):
        rendered.button(2, SHARE_ACTION_ID)


def test_text_only_and_channel_messages() -> None:
    shared = render_message({"text": "<@U1> shared &lt;it&gt;", "response_type": "in_channel"})

    assert shared.marker == IN_CHANNEL
    assert shared.body == "@U1 shared <it>"
    assert shared.buttons == ()
    assert render_message({}).body == "(empty message)"
    assert render_message({"delete_original": True}).body == "(deletes the original message)"


# The terminal, against a small bot of the test's own


@dataclass
class LittleBot:
    """A bot on raw aiohttp: checks signatures like Bolt and answers like flowpreview."""

    secret: str = SECRET
    received: list[_Json] = field(default_factory=list)
    reply: Callable[[_Json], Awaitable[web.StreamResponse]] | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if not SignatureVerifier(self.secret).is_valid_request(body, dict(request.headers)):
            return web.json_response({"error": "invalid request"}, status=401)
        form = _form(body)
        payload: _Json = json.loads(form["payload"]) if "payload" in form else dict(form)
        self.received.append(payload)
        if self.reply is not None:
            return await self.reply(payload)
        return await self.answer(payload)

    async def answer(self, payload: _Json) -> web.StreamResponse:
        respond = AsyncWebhookClient(payload["response_url"])
        if payload.get("command") == COMMAND:
            await respond.send(text=f"Looked up flow {payload['text']}")
            blocks = _preview_blocks(payload["text"])
            return web.json_response({"text": "Flow preview", "blocks": blocks})
        if payload.get("type") == "block_actions":
            action = payload["actions"][0]
            if action["action_id"] == SHARE_ACTION_ID:
                await respond.send(
                    text=f"<@{payload['user']['id']}> shared flow {action['value']}",
                    response_type="in_channel",
                    replace_original=False,
                )
        if payload.get("type") == "message_action":
            await respond.send(text=f"You asked about: {payload['message']['text']}")
        return web.Response()


@asynccontextmanager
async def serving(bot: LittleBot) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post(EVENTS_PATH, bot.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def script(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def run_terminal(
    bot_url: str, fake: FakeSlack, *lines: str, secret: str = SECRET, **kwargs: Any
) -> str:
    out = io.StringIO()
    terminal = Terminal(
        bot_url=bot_url, signing_secret=secret, fake=fake, out=out, viewer=TOKYO, **kwargs
    )
    await terminal.run(script(*lines))
    return out.getvalue()


async def test_slash_command_reply_renders_and_share_button_works() -> None:
    bot = LittleBot()
    async with running_fake_slack() as fake, serving(bot) as url:
        output = await run_terminal(
            url, fake, f"{COMMAND} {FLOW}", "wait", "share 1", "wait", "open", "quit", "help"
        )

    command, share, open_click = bot.received
    assert command["command"] == COMMAND
    assert command["text"] == FLOW
    assert share["type"] == "block_actions"
    assert share["actions"][0]["action_id"] == SHARE_ACTION_ID
    assert share["actions"][0]["value"] == FLOW
    assert share["actions"][0]["block_id"] == f"flow:{FLOW}"
    assert share["container"]["is_ephemeral"] is True
    assert share["response_url"] not in (command["response_url"], open_click["response_url"])
    assert open_click["actions"][0]["action_id"] == OPEN_ACTION_ID
    assert open_click["actions"][0]["url"] == PREVIEW

    assert f"{EPHEMERAL} ack to {COMMAND} {FLOW}\n" in output
    assert "    Link expires Thu 24 Dec 2026 at 15:27 JST\n" in output
    assert f"    [1 Open preview] {PREVIEW}\n    [2 Share in channel]\n" in output
    assert f"{EPHEMERAL} via response_url of {COMMAND} {FLOW}\n    Looked up flow {FLOW}" in output
    shared = f"{IN_CHANNEL} via response_url of share 1 on #"
    assert shared in output
    assert f"    @{payloads.DEFAULT_WHO.user_name} shared flow {FLOW}\n" in output
    assert f"(a browser would open {PREVIEW})" in output
    assert "> help" not in output, "quit ends the session"
    assert "Traceback" not in output


async def test_shortcut_sends_the_message_as_slack_encodes_it() -> None:
    bot = LittleBot()
    typed = "check 1234567890123456 & <that one>"
    async with running_fake_slack() as fake, serving(bot) as url:
        output = await run_terminal(
            url, fake, f"shortcut {typed}", "wait", 'shortcut {"text": "raw &lt;json&gt;"}', "wait"
        )

    pasted, raw = bot.received
    assert pasted["type"] == "message_action"
    assert pasted["callback_id"] == SHORTCUT_CALLBACK_ID
    assert pasted["message"]["text"] == "check 1234567890123456 &amp; &lt;that one&gt;"
    assert raw["message"]["text"] == "raw &lt;json&gt;"
    assert f"    You asked about: {typed}\n" in output
    assert "    You asked about: raw <json>\n" in output


async def test_replace_original_takes_the_clicked_message_place() -> None:
    async def replace(payload: _Json) -> web.StreamResponse:
        if payload.get("command"):
            return web.json_response({"blocks": _preview_blocks(FLOW)})
        await AsyncWebhookClient(payload["response_url"]).send(
            text="Shared.", replace_original=True
        )
        return web.Response()

    bot = LittleBot(reply=replace)
    async with running_fake_slack() as fake, serving(bot) as url:
        output = await run_terminal(url, fake, f"{COMMAND} {FLOW}", "click 2", "wait", "share")

    assert f"#2 {EPHEMERAL} via response_url of click 2 on #1, replaces #1\n    Shared." in output
    assert output.endswith("> share\nNo message has share buttons yet.\n")


async def test_messages_after_the_last_line_are_still_shown_while_lingering() -> None:
    posted: list[asyncio.Task[Any]] = []

    async def later(payload: _Json) -> web.StreamResponse:
        # Like Bolt after ack(): the reply goes out once the HTTP answer has.
        respond = AsyncWebhookClient(payload["response_url"])
        posted.append(asyncio.create_task(respond.send(text="Ready now.")))
        return web.Response()

    async with running_fake_slack() as fake, serving(LittleBot(reply=later)) as url:
        output = await run_terminal(url, fake, f"{COMMAND} {FLOW}", linger=0.5)
        await asyncio.gather(*posted)

    assert output.endswith(f"via response_url of {COMMAND} {FLOW}\n    Ready now.\n")


async def test_wrong_secret_is_one_line() -> None:
    async with running_fake_slack() as fake, serving(LittleBot(secret="other")) as url:
        output = await run_terminal(url, fake, f"{COMMAND} {FLOW}", "wait")

    assert output.splitlines() == [
        f"> {COMMAND} {FLOW}",
        f"! {COMMAND} {FLOW}: the bot refused the signature (HTTP 401); same signing secret?",
        "> wait",
        "Nothing to wait for: no request has reached the bot.",
    ]


async def test_a_bot_that_is_down_is_one_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    async with running_fake_slack() as fake:
        output = await run_terminal(f"http://127.0.0.1:{closed_port}", fake, f"{COMMAND} {FLOW}")

    [_, problem] = output.splitlines()
    assert problem.startswith(f"! {COMMAND} {FLOW}: cannot reach the bot at http://127.0.0.1:")


async def test_a_slow_bot_times_out_like_slack() -> None:
    never = asyncio.Event()

    async def stuck(payload: _Json) -> web.StreamResponse:
        await never.wait()
        return web.Response()

    async with running_fake_slack() as fake, serving(LittleBot(reply=stuck)) as url:
        output = await run_terminal(url, fake, 'shortcut {"text": "x"}', ack_timeout=0.05)
        # Let the handler finish, or the server's shutdown would wait for it.
        never.set()

    assert output.splitlines()[1] == (
        "! shortcut: no answer in 0.05 s; Slack would show operation_timeout."
    )


async def test_a_failing_bot_and_bad_input_are_one_line_each() -> None:
    async def boom(payload: _Json) -> web.StreamResponse:
        return web.Response(status=500, text="Internal\nServer Error")

    async with running_fake_slack() as fake, serving(LittleBot(reply=boom)) as url:
        output = await run_terminal(
            url, fake, f"{COMMAND} {FLOW}", "bogus", "click x", "/other", "shortcut {oops", "wait x"
        )

    assert output.splitlines()[1::2] == [
        f"! {COMMAND} {FLOW}: the bot answered HTTP 500: Internal Server Error",
        "Unknown command 'bogus'; type help for the commands.",
        "Usage: click N, where N is a button number.",
        f"/other is not a command of this app; try {COMMAND} <flow id>.",
        "That is not a JSON message: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "Usage: wait [SECONDS]",
    ]


async def test_a_refused_response_url_post_is_shown() -> None:
    async def oversized(payload: _Json) -> web.StreamResponse:
        blocks = [{"type": "divider"}] * 51
        await AsyncWebhookClient(payload["response_url"]).send(text="x", blocks=blocks)
        return web.json_response({"text": "x", "blocks": blocks})

    async with running_fake_slack() as fake, serving(LittleBot(reply=oversized)) as url:
        output = await run_terminal(url, fake, f"{COMMAND} {FLOW}", "wait")

    assert "! Slack would refuse this reply: 51 blocks, more than 50" in output
    assert (
        f"! {COMMAND} {FLOW}: Slack refused a message posted to the response_url "
        "(HTTP 400 invalid_blocks); 51 blocks, more than 50"
    ) in output


class Screen(io.StringIO):
    """Terminal output that a test can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self.written = asyncio.Event()

    def write(self, text: str) -> int:
        self.written.set()
        return super().write(text)

    async def shows(self, text: str) -> None:
        while text not in self.getvalue():
            self.written.clear()
            await self.written.wait()


async def test_a_late_reply_is_followed_by_a_fresh_prompt() -> None:
    release = asyncio.Event()
    posted: list[asyncio.Task[Any]] = []

    async def later(payload: _Json) -> web.StreamResponse:
        async def reply() -> None:
            await release.wait()
            await AsyncWebhookClient(payload["response_url"]).send(text="Ready now.")

        posted.append(asyncio.create_task(reply()))
        return web.json_response({"text": "Fetching…"})

    screen = Screen()

    async def person() -> AsyncIterator[str]:
        yield f"{COMMAND} {FLOW}"
        # At the prompt again, the person waits: the reply comes now.
        await screen.shows("Fetching…\n> ")
        release.set()
        async with asyncio.timeout(30):
            await screen.shows("Ready now.")

    async with running_fake_slack() as fake, serving(LittleBot(reply=later)) as url:
        terminal = Terminal(
            bot_url=url, signing_secret=SECRET, fake=fake, out=screen, interactive=True
        )
        await terminal.run(person())
        await asyncio.gather(*posted)

    assert screen.getvalue().endswith(
        f"> \n#2 {EPHEMERAL} via response_url of {COMMAND} {FLOW}\n    Ready now.\n> "
    )


async def test_on_a_tty_styles_are_ansi_and_people_have_names() -> None:
    # A real pseudo-terminal; the session writes about 1 KB, well inside its buffer.
    leader, follower = os.openpty()
    shown = b""
    try:
        with _text_file(follower) as tty:
            async with running_fake_slack() as fake, serving(LittleBot()) as url:
                await Terminal(bot_url=url, signing_secret=SECRET, fake=fake, out=tty).run(
                    script(f"{COMMAND} {FLOW}", "share 1", "wait")
                )
            while chunk := _read_ready(leader):
                shown += chunk
    finally:
        os.close(leader)
    text = shown.decode()

    assert f"\x1b[1m{FLOW}\x1b[22m" in text, "Flow *ID* in bold"
    assert f"@{payloads.DEFAULT_WHO.user_name} shared flow {FLOW}" in text


def _text_file(fd: int) -> TextIO:
    return open(fd, "w", encoding="utf-8")


def _read_ready(fd: int) -> bytes:
    # What the terminal wrote is already in the pty's buffer: read without waiting for more.
    ready, _, _ = select.select([fd], [], [], 0)
    return os.read(fd, 65536) if ready else b""


async def test_stdin_lines_reads_a_stream_without_blocking() -> None:
    lines = [line async for line in stdin_lines(io.StringIO("/flowpreview 1\nquit\n"))]

    assert lines == ["/flowpreview 1", "quit"]


# Modals: views.open and views.update, the picker's payloads, and modals rendered as text


def _modal(title: str = "Flow preview", **extra: Any) -> _Json:
    return {
        "type": "modal",
        "callback_id": "cb",
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hi*"}}],
        **extra,
    }


def _plain(text: str) -> _Json:
    return {"type": "plain_text", "text": text}


def _select_option(text: str, value: str) -> _Json:
    return {"text": _plain(text), "value": value}


def _picker_like() -> _Json:
    demo, acme = _select_option("Demo", "cams-demo"), _select_option("Acme", "cams-acme")
    return _modal(
        submit=_plain("Preview"),
        blocks=[
            {
                "type": "input",
                "block_id": "space",
                "label": _plain("Space"),
                "element": {
                    "type": "static_select",
                    "action_id": "space_select",
                    "options": [demo, acme],
                    "initial_option": demo,
                },
            },
            {
                "type": "input",
                "block_id": "flow",
                "label": _plain("Flow"),
                "hint": _plain("Type part of its name"),
                "element": {
                    "type": "external_select",
                    "action_id": "flow_select",
                    "min_query_length": 0,
                },
            },
            {
                "type": "input",
                "block_id": "share",
                "optional": True,
                "label": _plain("Share in"),
                "element": {
                    "type": "conversations_select",
                    "action_id": "conversation",
                    "response_url_enabled": True,
                },
            },
        ],
    )


class _Ticks:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_views_open_takes_each_fresh_trigger_once() -> None:
    ticks = _Ticks()
    async with running_fake_slack(bot_token="xoxb-right", clock=ticks) as fake:
        client = AsyncWebClient(token="xoxb-right", base_url=fake.api_url)
        trigger, late = fake.new_trigger_id(), fake.new_trigger_id()

        opened = await client.views_open(trigger_id=trigger, view=_modal())
        ticks.now += 3.01
        failures = {}
        for name, trigger_id in [("again", trigger), ("late", late), ("made up", "1.2.3")]:
            with pytest.raises(SlackApiError) as failed:
                await client.views_open(trigger_id=trigger_id, view=_modal())
            failures[name] = failed.value.response["error"]
        change = await fake.next_view()

    view = opened["view"]
    assert view["id"].startswith("V")
    assert view["state"] == {"values": {}}
    assert view["hash"]
    assert view["callback_id"] == "cb"
    assert view["title"] == _modal()["title"]
    assert failures == {
        "again": "exchanged_trigger_id",
        "late": "expired_trigger_id",
        "made up": "invalid_trigger_id",
    }
    assert change == ViewChange("views.open", view)
    assert fake.views == {view["id"]: view}
    assert json.loads(fake.api_calls[0].params["view"]) == _modal()


async def test_views_open_refuses_what_slack_refuses() -> None:
    async with running_fake_slack() as fake:
        client = AsyncWebClient(token="xoxb-any", base_url=fake.api_url)
        bad = _modal(title="A title longer than 24 chars", private_metadata="x" * 3001)
        bad["blocks"].append({"type": "input", "label": _plain("No element")})

        with pytest.raises(SlackApiError) as refused:
            await client.views_open(trigger_id=fake.new_trigger_id(), view=bad)

    assert refused.value.response["error"] == "invalid_arguments"
    assert refused.value.response["response_metadata"]["messages"] == [
        "[ERROR] title has 28 characters, more than 24",
        "[ERROR] private_metadata has 3001 characters, more than 3000",
        "[ERROR] block 2: an input block needs an element",
        "[ERROR] a modal with input blocks needs a submit button",
    ]
    assert fake.views == {}


async def test_views_update_replaces_an_open_view() -> None:
    async with running_fake_slack() as fake:
        client = AsyncWebClient(token="xoxb-any", base_url=fake.api_url)
        opened = (await client.views_open(trigger_id=fake.new_trigger_id(), view=_modal()))["view"]

        updated = await client.views_update(view_id=opened["id"], view=_modal("Done"))
        with pytest.raises(SlackApiError) as stale:
            await client.views_update(view_id=opened["id"], hash=opened["hash"], view=_modal())
        fake.close_view(opened["id"])
        with pytest.raises(SlackApiError) as closed:
            await client.views_update(view_id=opened["id"], view=_modal())

    assert updated["view"]["id"] == opened["id"]
    assert updated["view"]["title"]["text"] == "Done"
    assert updated["view"]["hash"] != opened["hash"]
    assert stale.value.response["error"] == "hash_conflict"
    assert closed.value.response["error"] == "not_found"
    assert [c.method for c in fake.view_changes] == ["views.open", "views.update"]


async def test_an_answer_to_a_submission_replaces_the_view_when_slack_would() -> None:
    async with running_fake_slack() as fake:
        client = AsyncWebClient(token="xoxb-any", base_url=fake.api_url)
        opened = (await client.views_open(trigger_id=fake.new_trigger_id(), view=_modal()))["view"]

        refused = fake.replace_view(opened["id"], _modal(title="x" * 25))
        accepted = fake.replace_view(opened["id"], _modal(title="Next"))

    assert refused == ["title has 25 characters, more than 24"]
    assert accepted == []
    assert fake.views[opened["id"]]["title"]["text"] == "Next"
    assert fake.view_changes[-1].method == "response_action"


def test_global_shortcut_has_a_trigger_and_no_channel() -> None:
    payload = _payload(payloads.global_shortcut(trigger_id="1.2.abc"))

    assert payload["type"] == "shortcut"
    assert payload["callback_id"] == PICKER_CALLBACK_ID
    assert payload["trigger_id"] == "1.2.abc"
    assert "channel" not in payload
    assert "response_url" not in payload


def test_block_suggestion_carries_the_view_with_its_state() -> None:
    view = {**_picker_like(), "id": "V123"}
    acme = view["blocks"][0]["element"]["options"][1]

    fresh = _payload(
        payloads.block_suggestion(view, block_id="flow", action_id="flow_select", value="sign")
    )
    changed = _payload(
        payloads.block_suggestion(
            view, block_id="flow", action_id="flow_select", value="", chosen={"space": acme}
        )
    )

    assert fresh["type"] == "block_suggestion"
    assert (fresh["action_id"], fresh["block_id"], fresh["value"]) == (
        "flow_select",
        "flow",
        "sign",
    )
    assert fresh["container"] == {"type": "view", "view_id": "V123"}
    values = fresh["view"]["state"]["values"]
    assert values["space"]["space_select"]["selected_option"]["value"] == "cams-demo"
    assert values["flow"]["flow_select"] == {"type": "external_select", "selected_option": None}
    assert values["share"]["conversation"] == {
        "type": "conversations_select",
        "selected_conversation": None,
    }
    changed_values = changed["view"]["state"]["values"]
    assert changed_values["space"]["space_select"]["selected_option"] == acme


def test_view_submission_has_a_response_url_only_for_a_picked_conversation() -> None:
    view = {**_picker_like(), "id": "V123"}

    unshared = _payload(payloads.view_submission(view, response_url="http://h/response/1"))
    shared = _payload(
        payloads.view_submission(view, chosen={"share": "C42"}, response_url="http://h/r/2")
    )

    assert unshared["type"] == "view_submission"
    assert unshared["response_urls"] == []
    assert shared["response_urls"] == [
        {
            "block_id": "share",
            "action_id": "conversation",
            "channel_id": "C42",
            "response_url": "http://h/r/2",
        }
    ]
    assert (
        shared["view"]["state"]["values"]["share"]["conversation"]["selected_conversation"] == "C42"
    )


def test_a_modal_and_an_options_list_render_as_text() -> None:
    view = _picker_like()
    chosen = {"flow": _select_option("Sign-up v3", "1234567890123456"), "share": "C2147483705"}

    rendered = render_view(view, chosen, TOKYO)
    options = render_options(
        {
            "options": [
                {**_select_option("Sign-up v3", "1"), "description": _plain("1 · SIGN_UP")},
                _select_option("Sign-up v2", "2"),
            ]
        }
    )

    assert rendered.body == (
        "[ Flow preview ]\n"
        "================\n"
        "Space: Demo\n"
        "  choices: 1 Demo | 2 Acme\n"
        "Flow: Sign-up v3\n"
        "  (Type part of its name)\n"
        "Share in (optional): #C2147483705\n"
        "[Cancel] [Preview]"
    )
    assert set(rendered.inputs) == {"space", "flow", "share"}
    assert options == ("1. Sign-up v3 - 1 · SIGN_UP", "2. Sign-up v2")
    assert render_options({"options": []}) == ("(no options)",)


def test_limits_of_views_and_options() -> None:
    good = _picker_like()
    too_many = {"options": [_select_option(str(n), str(n)) for n in range(101)]}
    long_option = {"options": [_select_option("x" * 76, "v" * 151)]}
    no_submit = {key: value for key, value in good.items() if key != "submit"}

    assert limits.view_problems(good) == []
    assert limits.options_problems({"options": []}) == []
    assert limits.options_problems(too_many) == ["101 options, more than 100"]
    assert limits.options_problems(long_option) == [
        "option 1: text has 76 characters, more than 75",
        "option 1: value has 151 characters, more than 150",
    ]
    assert limits.view_problems(no_submit) == ["a modal with input blocks needs a submit button"]
