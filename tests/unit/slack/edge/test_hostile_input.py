"""The public endpoint under hostile input, over real loopback HTTP.

Forged and malformed requests, log floods, replies aimed at other hosts, slow clients.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import pytest
from aiohttp import web

from bot.serving import serving
from bot.slack.constants import EVENTS_PATH
from bot.slack.edge.intake import MAX_BODY_BYTES, MAX_DEPTH
from bot.slack.edge.refusals import RefusalLog
from bot.slack.edge.reply_hosts import ReplyHosts, host_of
from bot.standin.harness.slack_bot import SIGNING_SECRET, Bot, running_bot
from bot.standin.slack import payloads
from bot.standin.slack.signing import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
    signed_headers,
)
from tests.fake_clock import HANG_GUARD_S
from tests.shared.hostile_input import FLOW, RESPONSE_URL, closed_by_server, raw_connection
from tests.support import log_capture

HOSTILE_BODIES: list[tuple[bytes, str]] = [
    (b"payload=%5B1%5D", FORM_CONTENT_TYPE),
    (b"payload=123", FORM_CONTENT_TYPE),
    (b"payload=null", FORM_CONTENT_TYPE),
    (b"payload=%22str%22", FORM_CONTENT_TYPE),
    (b"payload=true", FORM_CONTENT_TYPE),
    (b"payload=%7Bnot-json", FORM_CONTENT_TYPE),
    (b"payload=" + quote('{"type": 1}').encode(), FORM_CONTENT_TYPE),
    (b"payload=%7B%7D&payload=%7B%7D", FORM_CONTENT_TYPE),
    (b"[1]", JSON_CONTENT_TYPE),
    (b"null", JSON_CONTENT_TYPE),
    (b"[" * 5000 + b"]" * 5000, JSON_CONTENT_TYPE),
    (
        b"payload=" + quote('{"type":"x","a":' + "[" * 5000 + "]" * 5000 + "}").encode(),
        FORM_CONTENT_TYPE,
    ),
    (
        json.dumps(
            {"type": "x", "deep": json.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))}
        ).encode(),
        JSON_CONTENT_TYPE,
    ),
    (b"text=hello&user_id=U1", FORM_CONTENT_TYPE),
    (b"command=flowpreview&text=1", FORM_CONTENT_TYPE),
    (b"command=%2Fflowpreview&text=help", f"{FORM_CONTENT_TYPE}; charset=bogus"),
    (b"\xff\xfe\x00command", FORM_CONTENT_TYPE),
    (b"<xml/>", "text/xml"),
    (b"command=%2Fflowpreview&text=help", ""),
    # Bolt reads a body that starts with "{" as JSON whatever its Content-Type says, and a
    # Content-Type it does not know exactly as a form: what it reads is what is checked.
    (b"{&command=/x", FORM_CONTENT_TYPE),
    (b' {"type":"x","a":"&payload=[1]"}', "application/JSON"),
    (b'{"a":"&command=/x","b":' + b"[" * 5000 + b"]" * 5000 + b"}", FORM_CONTENT_TYPE),
    # Fields Bolt reads on its way to a listener, of types Slack never sends.
    (b'{"type":"x","authorizations":[1]}', JSON_CONTENT_TYPE),
    (b'{"type":"x","authorizations":"ab"}', JSON_CONTENT_TYPE),
    (b'{"type":"x","team":1}', JSON_CONTENT_TYPE),
    (b'{"type":"x","user":1}', JSON_CONTENT_TYPE),
    (b'{"type":"x","channel":[]}', JSON_CONTENT_TYPE),
    (b'{"type":"x","enterprise":1}', JSON_CONTENT_TYPE),
    (b'{"type":"x","event":1}', JSON_CONTENT_TYPE),
    (b'{"type":"event_callback","event":{"type":"x","user":1}}', JSON_CONTENT_TYPE),
    (b"payload=" + quote('{"type":"shortcut","user":1}').encode(), FORM_CONTENT_TYPE),
    (b"payload=" + quote('{"type":"block_actions","actions":1}').encode(), FORM_CONTENT_TYPE),
    (b"payload=" + quote('{"type":"block_actions","actions":[1]}').encode(), FORM_CONTENT_TYPE),
    (b"payload=" + quote('{"type":"message_action","message":"x"}').encode(), FORM_CONTENT_TYPE),
]
# A bogus charset is simply not read, and Bolt reads a form without a Content-Type as a form:
# these two are real commands.
SIGNED_BUT_WELL_FORMED = {b"command=%2Fflowpreview&text=help"}


async def _post(bot: Bot, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with bot.session.post(bot.url + EVENTS_PATH, data=body, headers=headers) as answer:
        return answer.status, await answer.text()


def _signed(body: bytes, content_type: str, secret: str = SIGNING_SECRET) -> dict[str, str]:
    return signed_headers(secret, body) | {"Content-Type": content_type}


@pytest.mark.parametrize(("body", "content_type"), HOSTILE_BODIES)
async def test_forged_requests_get_401_before_any_parsing(body: bytes, content_type: str) -> None:
    async with running_bot() as bot:
        with log_capture() as logged:
            status, _ = await _post(bot, body, _signed(body, content_type, secret="forged"))
    assert status == 401
    assert "Traceback" not in logged.getvalue()
    assert not bot.cams.emulator.recorded
    assert not bot.slack.deliveries


@pytest.mark.parametrize(("body", "content_type"), HOSTILE_BODIES)
async def test_signed_bodies_slack_never_sends_get_400_and_one_short_line(
    body: bytes, content_type: str
) -> None:
    async with running_bot() as bot:
        with log_capture() as logged:
            status, answer = await _post(bot, body, _signed(body, content_type))
    assert "Traceback" not in logged.getvalue()
    if body in SIGNED_BUT_WELL_FORMED:
        assert status == 200
        assert "Usage" in answer
        return
    assert status == 400
    lines = logged.getvalue().splitlines()
    refusals = [line for line in lines if "refused" in line]
    assert len(refusals) == 1
    assert len(refusals[0]) < 200
    assert "Traceback" not in logged.getvalue()
    assert not bot.cams.emulator.recorded


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "NaN", "0x10", "1.5", " 1", "١٢٣", "-1"])
async def test_a_timestamp_that_is_not_whole_seconds_is_401(timestamp: str) -> None:
    body = payloads.slash_command(FLOW, response_url=RESPONSE_URL)
    headers = {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(SIGNING_SECRET, timestamp, body),
        "Content-Type": FORM_CONTENT_TYPE,
    }
    async with running_bot() as bot:
        status, answer = await _post(bot, body, headers)
    assert status == 401
    assert "Something went wrong" not in answer
    assert not bot.cams.emulator.recorded


async def test_ssl_check_is_verified_like_every_request(bot: Bot) -> None:
    body = b"ssl_check=1&token=abc"
    assert (await _post(bot, body, _signed(body, FORM_CONTENT_TYPE)))[0] == 200
    forged = _signed(body, FORM_CONTENT_TYPE, secret="forged")
    assert (await _post(bot, body, forged))[0] == 401
    assert (await _post(bot, body, {"Content-Type": FORM_CONTENT_TYPE}))[0] == 401


async def test_a_body_over_the_limit_is_413_unread(bot: Bot) -> None:
    body = b"command=%2Fflowpreview&text=" + b"1" * MAX_BODY_BYTES
    status, _ = await _post(bot, body, _signed(body, FORM_CONTENT_TYPE))
    assert status == 413


@pytest.mark.dates
async def test_a_chunked_body_over_the_limit_is_413(bot: Bot) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"1" * 65536

    # Read now, not when the module was collected: a timestamp five minutes old is refused
    # as stale (401) before the body is read.
    headers = {TIMESTAMP_HEADER: str(int(time.time())), SIGNATURE_HEADER: "v0=" + "0" * 64}
    status, _ = await _post(bot, chunks(), headers)  # type: ignore[arg-type]
    assert status == 413


async def test_forged_floods_do_not_flood_the_log() -> None:
    body = b"payload=" + b"A" * 500_000
    response_url = "https://hooks.slack.com/commands/T1/2/secret-token"
    async with running_bot() as bot:
        headers = _signed(body, FORM_CONTENT_TYPE, secret="forged")
        with log_capture() as logged:
            for _ in range(20):
                assert (await _post(bot, body, headers))[0] == 401
            forged = payloads.slash_command(FLOW, response_url=response_url)
            for _ in range(5):
                assert (await _post(bot, forged, headers))[0] == 401
    text = logged.getvalue()
    assert len(text.encode()) < 200_000
    assert "AAAA" not in text
    assert response_url not in text
    assert "secret-token" not in text
    assert headers[SIGNATURE_HEADER] not in text
    assert len([line for line in text.splitlines() if "refused" in line]) == 1


# HTTP that aiohttp's parser rejects before any handler runs, by the error it raises.
MALFORMED_HTTP = {
    "BadHttpMessage": b"GET /healthz HTTP/1.1\r\nHost: bot\r\nBad Header Line\r\n\r\n",
    "LineTooLong": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: bot\r\n\r\n",
    "BadStatusLine": b"GET /healthz HTTX/1.1\r\nHost: bot\r\n\r\n",
}


async def _send_raw(bot: Bot, data: bytes) -> bytes:
    reader, writer = await raw_connection(bot)
    writer.write(data)
    try:
        return await closed_by_server(reader, HANG_GUARD_S)
    finally:
        writer.close()


async def test_malformed_http_is_summarised_like_other_refusals() -> None:
    sent = 0
    with log_capture() as logged:
        async with running_bot() as bot:
            for request in MALFORMED_HTTP.values():
                for _ in range(20):
                    answer = await _send_raw(bot, request)
                    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
                    sent += len(request)
            during = logged.getvalue()
        # The counts come out at shutdown.
    text = logged.getvalue()

    def refusals(log_text: str) -> list[str]:
        return [line.split(": ", 1)[1] for line in log_text.splitlines() if "refused" in line]

    reasons = [f"malformed HTTP ({kind})" for kind in MALFORMED_HTTP]
    assert refusals(during) == [f"refused 127.0.0.1: {reason}" for reason in reasons]
    assert refusals(text)[len(reasons) :] == [
        f"refused 127.0.0.1: {reason} (and 19 more like it in the 60s before)" for reason in reasons
    ]
    assert "Traceback" not in text
    for quoted in ("aaaa", "Bad Header", "HTTX"):
        assert quoted not in text, quoted
    # Some 10 MB of log per MB sent before it was summarised.
    assert len(text.encode()) * 100 < sent


def test_refusals_are_summarised_once_a_minute() -> None:
    now = [0.0]
    stream = io.StringIO()
    # A logger of its own, out of the logging tree's registry, so nothing outlives the test.
    logger = logging.Logger("tests.refusals")
    logger.addHandler(logging.StreamHandler(stream))
    refusals = RefusalLog(logger, clock=lambda: now[0])
    for second in range(100):
        now[0] = second * 0.5
        refusals.refused("wrong signature", "192.0.2.7")
    refusals.refused("body too slow", "192.0.2.8")
    now[0] = 61.0
    refusals.refused("wrong signature", "192.0.2.9")
    refusals.flush()
    lines = stream.getvalue().splitlines()
    assert lines == [
        "refused 192.0.2.7: wrong signature",
        "refused 192.0.2.8: body too slow",
        "refused 192.0.2.9: wrong signature (and 99 more like it in the 60s before)",
    ]


@asynccontextmanager
async def sink() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server that records every request and redirects `/redirect/*` to `/sink`."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        if request.path.startswith("/redirect/"):
            status = int(request.path.rsplit("/", 1)[1])
            raise _redirect(status, f"http://{request.host}/sink")
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    async with serving(app) as url:
        yield url, seen


def _redirect(status: int, location: str) -> web.HTTPException:
    kinds: dict[int, type[web.HTTPException]] = {
        301: web.HTTPMovedPermanently,
        302: web.HTTPFound,
        307: web.HTTPTemporaryRedirect,
        308: web.HTTPPermanentRedirect,
    }
    return kinds[status](location=location)  # type: ignore[call-arg]


async def _shortcut_reply_to(response_url: str, hosts: tuple[str, ...]) -> Bot:
    async with running_bot(slack_settings={"response_url_hosts": hosts}) as bot:
        message = payloads.message_from_text("no flows here")
        body = payloads.message_shortcut(message, response_url=response_url)
        status, _ = await _post(bot, body, signed_headers(SIGNING_SECRET, body))
        assert status == 200
    return bot


async def test_replies_go_only_to_allowed_hosts() -> None:
    async with sink() as (url, seen):
        host = url.removeprefix("http://")
        with log_capture() as logged:
            await _shortcut_reply_to(f"{url}/commands/T1/2/secret-token", ("hooks.slack.com",))
        assert seen == []
        refusal = "refused 127.0.0.1: a reply to a response_url (host not allowed)"
        assert [line for line in logged.getvalue().splitlines() if refusal in line]
        assert "secret-token" not in logged.getvalue()
        await _shortcut_reply_to(f"{url}/commands/T1/2/token", (host,))
        assert seen == ["POST /commands/T1/2/token"]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_never_followed(status: int) -> None:
    async with sink() as (url, seen):
        host = url.removeprefix("http://")
        await _shortcut_reply_to(f"{url}/redirect/{status}", (host,))
    assert seen == [f"POST /redirect/{status}"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/commands/T1/2/x", True),
        ("https://HOOKS.SLACK.COM/commands/T1/2/x", True),
        ("https://hooks.slack.com:443/commands/T1/2/x", True),
        ("https://hooks.slack-gov.com/actions/T1/2/x", True),
        ("http://hooks.slack.com/commands/T1/2/x", False),
        ("https://hooks.slack.com:8443/commands/T1/2/x", False),
        ("https://hooks.slack.com.evil.test/commands/x", False),
        ("https://evil.test/hooks.slack.com/x", False),
        ("https://user:pw@hooks.slack.com/commands/x", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("http://127.0.0.1:9000/response/1", False),
        ("ftp://hooks.slack.com/x", False),
        ("hooks.slack.com/commands/x", False),
        ("", False),
        ("https://[::1", False),
    ],
)
def test_the_default_allow_list(url: str, allowed: bool) -> None:
    hosts = ReplyHosts(("hooks.slack.com", "hooks.slack-gov.com"))
    assert (hosts.refusal(url) is None) is allowed


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:9000/response/1", True),
        ("https://127.0.0.1:9000/response/1", True),
        ("http://127.0.0.1:9001/response/1", False),
        ("http://localhost:9000/response/1", False),
        ("http://slack.internal:8080/x", False),
        ("https://slack.internal:8080/x", True),
    ],
)
def test_plain_http_only_for_a_listed_loopback_host(url: str, allowed: bool) -> None:
    hosts = ReplyHosts(("127.0.0.1:9000", "slack.internal:8080"))
    assert (hosts.refusal(url) is None) is allowed


def test_a_refused_url_is_logged_by_its_host_only() -> None:
    assert host_of("https://evil.test/commands/T1/2/secret") == "evil.test"
    assert host_of("not a url at all") == "?"
