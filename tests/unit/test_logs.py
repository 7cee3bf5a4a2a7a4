"""Log lines: JSON or text, the request's context, libraries' lines alike, never a secret."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
import sys
import traceback
from urllib.parse import parse_qsl

import pytest
from slack_bolt.middleware.request_verification.async_request_verification import (
    AsyncRequestVerification,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot import redaction
from bot.cams.credentials import Credentials
from bot.config import ConfigError, Secret
from bot.logs import (
    BOLT_LOGGER,
    MAX_FIELD_CHARS,
    MAX_MESSAGE_CHARS,
    JsonFormatter,
    LogFormat,
    background,
    bind,
    current_context,
    log_context,
    log_format,
)
from bot.standin.cams.catalog import DEMO_SPACE
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import STS_CREDENTIALS, RunningEmulator
from bot.standin.harness.slack_bot import BOT_TOKEN, SIGNING_SECRET, running_bot
from bot.standin.slack import payloads
from bot.standin.slack.signing import signed_headers
from tests.shared.logs import FLOW, captured, log, records

WHO = payloads.DEFAULT_WHO
REQUEST_ID = re.compile(r"[0-9A-F-]{36}")


def _fail(error: Exception, cause: Exception | None = None) -> None:
    raise error from cause


# The request's context -------------------------------------------------------------------


async def test_json_lines_carry_the_context_of_a_signed_slack_request() -> None:
    with captured(LogFormat.JSON) as out:
        async with running_bot(default_space=DEMO_SPACE) as bot:
            # One failed attempt first, so that the client's retry line is written too.
            bot.cams.fault(f"error:ServiceUnavailable@flow:{FLOW}*1")
            answer, _ = await bot.command(FLOW)
            assert answer.status == 200
            # The request's task bound its context; this task's is untouched.
            assert current_context() == {}

    lines = records(out)
    request = {
        "team": WHO.team_id,
        "channel": WHO.channel_id,
        "user": WHO.user_id,
        "flow": FLOW,
        "space": DEMO_SPACE,
    }
    [retry] = [
        line for line in lines if (line["logger"], line["level"]) == ("bot.cams.client", "WARNING")
    ]
    assert retry["message"].startswith("CAMS GetFlowPreviewUrl attempt 1 for flow")
    assert {name: retry[name] for name in request} == request
    assert REQUEST_ID.fullmatch(retry["request_id"])
    [fetched] = [line for line in lines if line["message"].startswith("fetched preview of flow")]
    assert (fetched["logger"], fetched["level"]) == ("bot.preview.service", "INFO")
    assert {name: fetched[name] for name in request} == request
    assert REQUEST_ID.fullmatch(fetched["request_id"])
    assert fetched["request_id"] != retry["request_id"], "each answer's own RequestId"


async def test_text_lines_carry_the_context_compactly() -> None:
    with captured(LogFormat.TEXT) as out:
        async with running_bot(default_space=DEMO_SPACE) as bot:
            answer, _ = await bot.command(FLOW)
            assert answer.status == 200

    [fetched] = [line for line in out.getvalue().splitlines() if "fetched preview" in line]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO bot\.preview\.service: "
        rf"fetched preview of flow '{FLOW}', serving until it nears .+ "
        rf"\[team={WHO.team_id} channel={WHO.channel_id} user={WHO.user_id} flow={FLOW} "
        rf"space={DEMO_SPACE} request_id=[0-9A-F-]{{36}}\]",
        fetched,
    )


async def test_a_catalog_refresh_logs_as_itself_not_as_the_ask_that_started_it() -> None:
    with captured(LogFormat.JSON) as out:
        async with running_bot(default_space=DEMO_SPACE) as bot:
            bot.cams.fault("error:ServiceUnavailable@action:ListFlow*1")
            answer, _ = await bot.command("order status")
            assert answer.status == 200

    [retry] = [
        line
        for line in records(out)
        if (line["logger"], line["level"]) == ("bot.cams.client", "WARNING")
    ]
    assert retry["message"].startswith("CAMS ListFlow attempt 1 for page 1")
    assert retry["space"] == DEMO_SPACE
    assert REQUEST_ID.fullmatch(retry["request_id"])
    assert not {"team", "channel", "user", "flow"} & retry.keys()


async def test_socket_mode_requests_bind_their_context_too() -> None:
    app_token = "xapp-1-A111-1-sockettoken"
    with captured(LogFormat.JSON) as out:
        async with running_bot(
            default_space=DEMO_SPACE, slack_settings={"app_token": Secret(app_token)}
        ) as bot:
            body = payloads.slash_command(FLOW, response_url=bot.slack.new_response_url())
            await bot.slack.socket_request("slash_commands", dict(parse_qsl(body.decode())))

    [fetched] = [line for line in records(out) if line["message"].startswith("fetched preview")]
    assert (fetched["team"], fetched["user"], fetched["flow"]) == (WHO.team_id, WHO.user_id, FLOW)
    assert app_token not in out.getvalue()


async def test_context_is_kept_to_its_block_and_inherited_by_tasks() -> None:
    seen: dict[str, dict[str, str]] = {}

    async def child(name: str) -> None:
        seen[name] = dict(current_context())

    async def request() -> None:
        bind(team="T1", user="U1")
        await asyncio.create_task(child("bound"))
        await asyncio.create_task(child("background"), context=background(space="S1"))
        with log_context(flow="42", user=None):
            await asyncio.create_task(child("block"))
        await child("after")

    await asyncio.create_task(request())

    assert seen == {
        "bound": {"team": "T1", "user": "U1"},
        "background": {"space": "S1"},
        "block": {"team": "T1", "flow": "42"},
        "after": {"team": "T1", "user": "U1"},
    }
    assert current_context() == {}, "bound in its own task only"
    with pytest.raises(TypeError, match="not a log context field: tenant"):
        bind(tenant="x")


def test_extra_fields_join_the_context_and_every_field_is_bounded() -> None:
    with captured(LogFormat.JSON) as out, log_context(team="T1", flow="9" * 1000):
        log.info("answer", extra={"request_id": "RID-1", "space": None})

    [line] = records(out)
    assert (line["team"], line["request_id"]) == ("T1", "RID-1")
    assert "space" not in line
    assert len(line["flow"]) <= MAX_FIELD_CHARS + len(" [872 characters cut]")


# One line per record -----------------------------------------------------------------------


def test_multi_line_messages_and_tracebacks_become_one_line_each() -> None:
    with captured(LogFormat.JSON) as out:
        log.warning("first line\nsecond line\r\nthird")
        try:
            try:
                _fail(KeyError("inner"))
            except KeyError as inner:
                _fail(ValueError("outer\nmessage"), inner)
        except ValueError:
            log.exception("failed\nbadly")
        log.info("%s", "x" * (3 * MAX_MESSAGE_CHARS))

    assert len(out.getvalue().splitlines()) == 3
    warning, failure, long = records(out)
    assert warning["message"] == "first line\nsecond line\r\nthird"
    assert failure["message"] == "failed\nbadly"
    error = failure["error"]
    assert (error["type"], error["message"]) == ("ValueError", "outer\nmessage")
    assert "KeyError: 'inner'" in error["traceback"], "the cause too"
    assert error["traceback"].endswith("ValueError: outer\nmessage")
    assert len(long["message"]) < MAX_MESSAGE_CHARS + 40


# A line that, unescaped, would read as a record of its own.
FORGED = "2026-12-07 09:00:00,000 CRITICAL bot: forged"
# Each control character someone could send, and how the text format writes it.
CONTROLS = {
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\x00": "\\x00",
    "\x1b": "\\x1b",
    "\x7f": "\\x7f",
    "\x85": "\\x85",
    "\x9b": "\\x9b",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
HOSTILE = "a" + "".join(CONTROLS) + FORGED
SHOWN = "a" + "".join(CONTROLS.values()) + FORGED
# What a text line starts with: its time and its level.
TEXT_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def _only_records_start_lines(text: str, records: int) -> list[str]:
    """The lines of `text`, having checked that exactly `records` of them begin a record and
    that no character but the line breaks between them is a control character."""
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", text)
    lines = text.split("\n")[:-1]
    assert len([line for line in lines if TEXT_RECORD.match(line)]) == records
    assert not [line for line in lines if line.startswith(FORGED)]
    return lines


def test_text_lines_escape_control_characters_in_every_field() -> None:
    def nested() -> None:
        try:
            _fail(KeyError(HOSTILE))
        except KeyError as inner:
            error = ValueError(HOSTILE)
            error.add_note(HOSTILE)
            _fail(error, inner)

    with captured(LogFormat.TEXT) as out, log_context(flow=HOSTILE, space="S1"):
        log.warning(HOSTILE)
        log.warning("asked for %s and %r", HOSTILE, HOSTILE, extra={"user": HOSTILE})
        logging.getLogger(f"bot.test_logs.{HOSTILE}").warning("a logger's name")
        try:
            nested()
        except ValueError:
            log.exception("failed")
        log.warning("where", stack_info=True)

    lines = _only_records_start_lines(out.getvalue(), records=5)
    message, formatted, named, failed = [line for line in lines if TEXT_RECORD.match(line)][:4]
    assert message.endswith(f": {SHOWN} [flow={SHOWN} space=S1]")
    assert f": asked for {SHOWN} and " in formatted
    assert f"[user={SHOWN} flow={SHOWN} space=S1]" in formatted
    assert f" bot.test_logs.{SHOWN}: a logger's name" in named
    assert failed.endswith(": failed [flow=" + SHOWN + " space=S1]")
    assert f"KeyError: 'a{''.join(CONTROLS.values())}{FORGED}'" in lines
    assert f"ValueError: {SHOWN}" in lines
    assert SHOWN in lines, "the note, on a line of its own"


def test_a_text_traceback_reads_as_pythons_own() -> None:
    try:
        try:
            _fail(KeyError("inner"))
        except KeyError as inner:
            _fail(ValueError("outer"), inner)
    except ValueError:
        error = sys.exc_info()
    with captured(LogFormat.TEXT) as out:
        log.error("failed", exc_info=error)

    _, trace = out.getvalue().rstrip("\n").split("\n", 1)
    assert trace == "".join(traceback.format_exception(*error)).rstrip("\n")


def test_json_lines_hold_control_characters_escaped_too() -> None:
    with captured(LogFormat.JSON) as out, log_context(flow=HOSTILE):
        try:
            _fail(ValueError(HOSTILE))
        except ValueError:
            log.exception(HOSTILE)

    assert out.getvalue().isascii()
    [line] = records(out)
    assert (line["message"], line["flow"], line["error"]["message"]) == (HOSTILE,) * 3


def test_a_bad_format_string_still_gives_its_line() -> None:
    # Formatted directly: pytest's own handler would raise on the bad record first.
    record = log.makeRecord(log.name, logging.INFO, __file__, 1, "%d flows", ("many",), None)

    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "'%d flows' (its arguments did not fit: TypeError)"


# Libraries' lines --------------------------------------------------------------------------


async def test_bolts_and_aiohttps_lines_come_out_in_the_same_format() -> None:
    with captured(LogFormat.JSON) as out:
        async with running_bot() as bot:
            # A click nobody listens for: Bolt warns of an unhandled request, body and all.
            button = {"action_id": "nobody_listens", "value": "words someone typed"}
            click = payloads.block_actions(
                button, block_id="b1", response_url=bot.slack.new_response_url(), message_ts="1.2"
            )
            assert (await bot.post(click)).status == 404
            # Not HTTP: aiohttp's parser refuses it, and the refusal is summarised.
            host, port = bot.url.removeprefix("http://").rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer xoxb-9-9-zz\x01\r\n\r\n"
            )
            assert (await reader.read()).startswith(b"HTTP/1.0 400 Bad Request")
            writer.close()

    lines = records(out)
    [unhandled] = [line for line in lines if line["logger"] == BOLT_LOGGER]
    assert unhandled["level"] == "WARNING"
    assert unhandled["message"] == (
        "Unhandled request (type: block_actions, block_id: b1, action_id: nobody_listens; "
        "the rest of its body withheld)"
    )
    assert (unhandled["team"], unhandled["user"]) == (WHO.team_id, WHO.user_id)
    [parser] = [line for line in lines if "malformed HTTP" in line["message"]]
    assert (parser["logger"], parser["level"]) == ("bot.slack.server", "WARNING")
    assert parser["message"] == "refused 127.0.0.1: malformed HTTP (BadHttpMessage)"
    assert "error" not in parser
    assert "Authorization" not in out.getvalue()
    assert "words someone typed" not in out.getvalue()
    assert "xoxb-9-9-zz" not in out.getvalue()


def test_library_debug_lines_holding_payloads_are_dropped() -> None:
    with captured(LogFormat.JSON, logging.DEBUG) as out:
        logging.getLogger("slack_sdk.web.async_base_client").debug("Sending a request - data: x")
        logging.getLogger("slack_sdk.socket_mode.aiohttp").debug("Received message (data: x)")
        logging.getLogger("slack_bolt.App").debug("body: x")
        logging.getLogger("slack_sdk.socket_mode.aiohttp").info(
            "A new session has been established"
        )
        log.debug("the bot's own debug line stays")

    assert [line["message"] for line in records(out)] == [
        "A new session has been established",
        "the bot's own debug line stays",
    ]


# Secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(LogFormat))
async def test_no_secret_in_either_format(fmt: LogFormat, cams: RunningEmulator) -> None:
    sts_token = STS_CREDENTIALS.security_token
    assert sts_token is not None
    secrets = {
        "signing secret": SIGNING_SECRET,
        "bot token": BOT_TOKEN,
        "AccessKey secret": DEMO_CREDENTIALS.access_key_secret.reveal(),
        "STS AccessKey secret": STS_CREDENTIALS.access_key_secret.reveal(),
        "STS token": sts_token.reveal(),
        # Held by no Secret here: caught by their shape.
        "another bot token": "xoxb-1111-2222-AbCdEfGh",
        "an app token": "xapp-1-A111-222-abcdef0123",
        "a request signature": "v0=" + "ab" * 32,
    }
    forged_body = payloads.slash_command("FORGED-BODY-MARKER", response_url="https://x.invalid/")
    with captured(fmt) as out:
        async with running_bot() as bot:
            # A forged request: refused and summarised, its body never read into a line.
            forged = signed_headers("not-the-signing-secret", forged_body)
            assert (await bot.post(forged_body, headers=forged)).status == 401
        # Bolt's own check, were it on, logs a forged body whole.
        check = AsyncRequestVerification(SIGNING_SECRET, base_logger=logging.getLogger(BOLT_LOGGER))
        request = AsyncBoltRequest(body=forged_body.decode(), headers=forged)  # type: ignore[arg-type]

        async def next_() -> BoltResponse:
            raise AssertionError("a forged request went through")

        assert (
            await check.async_process(req=request, resp=BoltResponse(status=200), next=next_)
        ).status == 401
        # The client signs with an STS token, retries once, and logs it.
        cams.fault("http:503@flow:7*1")
        client = cams.client(STS_CREDENTIALS)
        await client.get_flow_preview_url("7")
        await client.close()
        # Exceptions that carry every secret, as messages, a cause, and headers in a repr.
        try:
            try:
                _fail(OSError(" ".join(secrets.values())))
            except OSError as cause:
                headers = {
                    "Authorization": f"ACS3-HMAC-SHA256 Credential=sts-key,Signature={'f' * 64}",
                    "x-acs-security-token": "CAIS-unregistered-token",
                    "X-Slack-Signature": secrets["a request signature"],
                }
                _fail(RuntimeError(f"request failed: {headers}"), cause)
        except RuntimeError:
            log.exception("failed with %s", Credentials("sts-key", Secret(SIGNING_SECRET)))
        log.error("secrets in the message: %s", " | ".join(secrets.values()))
        log.info("redis://:redis-password-1@127.0.0.1:6380/0 and SecurityToken=CAIS-unregistered")

    text = out.getvalue()
    assert "***" in text
    for name, value in secrets.items():
        assert value not in text, name
    for leaked in ("FORGED-BODY-MARKER", "CAIS-unregistered", "redis-password-1", "f" * 64):
        assert leaked not in text, leaked
    if fmt is LogFormat.JSON:
        messages = [line["message"] for line in records(out)]
        assert "invalid request signature (signature, timestamp and body withheld)" in messages


def test_a_dropped_secret_is_forgotten_and_a_short_one_never_held() -> None:
    rotated = Secret("rotated-sts-token-0001")
    short = Secret("abc1234")
    assert redaction.redact("rotated-sts-token-0001 abc1234") == "*** abc1234"
    del rotated, short
    gc.collect()
    Secret("rotated-sts-token-0002")  # registering prunes what was dropped

    assert redaction.redact("rotated-sts-token-0001") == "rotated-sts-token-0001"
    assert len(redaction._values) <= redaction.MAX_SECRETS


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Authorization: ACS3-HMAC-SHA256 Credential=AK,Signature=ab", "Authorization: ***"),
        (
            "{'authorization': 'Bearer xoxb-1-2-a', 'Accept': '*/*'}",
            "{'authorization': '***', 'Accept': '*/*'}",
        ),
        (
            '{"AccessKeySecret":"s3cr3t","SecurityToken": "CAIS+x=="}',
            '{"AccessKeySecret":"***","SecurityToken": "***"}',
        ),
        ("x-acs-security-token=CAIS", "x-acs-security-token=***"),
        ("tokens xapp-1-A-1-ff and xoxe.xoxp-1-abc", "tokens xapp-*** and xoxe.xoxp-***"),
        ("signature v0=" + "0a" * 32, "signature v0=***"),
        ("redis://user:pw@host:6379/0", "redis://user:***@host:6379/0"),
        ("oidc eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2ln", "oidc ***"),
        # Names of variables, values already hidden, and none at all stay as they are.
        ("ALIBABA_CLOUD_SECURITY_TOKEN: not set", "ALIBABA_CLOUD_SECURITY_TOKEN: not set"),
        ("access_key_secret=Secret('********')", "access_key_secret=Secret('********')"),
        ("security_token=None", "security_token=None"),
        ("fetched preview of flow '123'", "fetched preview of flow '123'"),
    ],
)
def test_secret_shapes_are_masked(text: str, shown: str) -> None:
    assert redaction.redact(text) == shown


# Configuration -----------------------------------------------------------------------------


def test_log_format_is_text_unless_set() -> None:
    assert log_format({}) is LogFormat.TEXT
    assert log_format({"LOG_FORMAT": " JSON "}) is LogFormat.JSON
    with pytest.raises(ConfigError, match=r"^LOG_FORMAT: must be text or json, got 'xml'$"):
        log_format({"LOG_FORMAT": "xml"})


def test_secrets_dropped_in_a_cycle_do_not_push_out_a_live_one() -> None:
    kept = Secret("long-lived-signing-secret-0001")
    gc.disable()
    try:
        for number in range(redaction.MAX_SECRETS):
            cycle: list[object] = [Secret(f"dropped-in-a-cycle-{number:04}")]
            cycle.append(cycle)
            del cycle
        Secret("the-newest-secret-0001")
    finally:
        gc.enable()

    assert (
        redaction.redact(f"{kept.reveal()} dropped-in-a-cycle-0000")
        == "*** dropped-in-a-cycle-0000"
    )
