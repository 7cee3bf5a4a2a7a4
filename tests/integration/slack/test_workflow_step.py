"""The Workflow Builder step "Get a WhatsApp flow preview" over loopback: function_executed
events to the real server, over HTTP and Socket Mode, completed or failed through the fake
Slack's functions.completeSuccess and completeError with the execution's own token."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.access.ids import Kind
from bot.cams.actions import Action
from bot.cams.errors import ErrorKind
from bot.config import Secret
from bot.logs import PAYLOAD_LOGGERS
from bot.slack.blocks import messages
from bot.slack.constants import STEP_CALLBACK_ID
from bot.standin.cams.catalog import FEATURED
from bot.standin.harness.slack_bot import Bot
from bot.standin.slack import payloads
from bot.standin.slack.surfaces import FunctionResult
from tests.fake_clock import HANG_GUARD_S
from tests.shared.access import MEMBER, OTHER, SPACE, guarded_bot

SIGN_UP_V3 = FEATURED[0]
GUEST = payloads.GUEST_WHO
APP_TOKEN = "xapp-1-A123456-1-steptoken"
OUTPUTS = {"preview_url", "expires_at", "flow_id", "flow_name", "status"}
Inputs = dict[str, Any]


@asynccontextmanager
async def step_bot(tmp_path: Path, **kwargs: Any) -> AsyncIterator[Bot]:
    """The bot with a store and access rules, CAMS_CUST_SPACE_ID=cams-demo."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'step.sqlite3'}"
    async with guarded_bot(url, **kwargs) as (bot, _):
        yield bot
        await bot.inflight.drain(HANG_GUARD_S)


def inputs(flow: str, *, user: str = MEMBER.user_id, space: str | None = None) -> Inputs:
    """The step's inputs as a workflow hands them over."""
    given: Inputs = {"flow": flow, "user": user}
    if space is not None:
        given["space"] = space
    return given


async def run_step(bot: Bot, given: Inputs, *, socket: bool = False) -> FunctionResult:
    """Run the step with `given` (over Socket Mode with `socket`): how the execution ended,
    after checking it was ended with the execution's own token."""
    execution_id, token = bot.slack.new_function_execution()
    event = payloads.function_executed(
        STEP_CALLBACK_ID, given, execution_id=execution_id, token=token
    )
    if socket:
        await bot.slack.socket_request(
            "events_api", payloads.event_envelope(event), within=HANG_GUARD_S
        )
    else:
        answer = await bot.post(payloads.event_callback(event))
        assert answer.status == 200
    result = await bot.slack.next_function_result(within=HANG_GUARD_S)
    assert result.execution_id == execution_id
    [completion] = [call for call in bot.slack.api_calls if call.method.startswith("functions.")]
    assert completion.token == token
    assert completion.params["function_execution_id"] == execution_id
    bot.slack.api_calls.clear()
    return result


def succeeded(result: FunctionResult) -> dict[str, Any]:
    """The outputs of a step that completed."""
    assert result.error is None, result.error
    assert result.outputs is not None
    assert set(result.outputs) == OUTPUTS
    return result.outputs


def failed(result: FunctionResult) -> str:
    """The error of a step that failed."""
    assert result.outputs is None
    assert result.error is not None
    return result.error


def logged_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The lines the bot's log handler lets through: libraries' payload dumps are dropped."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.INFO or not record.name.startswith(PAYLOAD_LOGGERS)
    ]


def preview_calls(bot: Bot) -> int:
    """How many GetFlowPreviewUrl calls the emulator answered."""
    return bot.cams.emulator.by_action.get(Action.GET_FLOW_PREVIEW_URL, 0)


async def test_a_flow_id_completes_with_the_preview_and_the_flows_facts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with step_bot(tmp_path) as bot:
        outputs = succeeded(await run_step(bot, inputs(SIGN_UP_V3.flow_id)))

    assert outputs["flow_id"] == SIGN_UP_V3.flow_id
    assert f"/flows/{SIGN_UP_V3.flow_id}/preview/?token=" in outputs["preview_url"]
    assert isinstance(outputs["expires_at"], int)
    assert outputs["expires_at"] > 0
    assert outputs["flow_name"] == SIGN_UP_V3.name
    assert outputs["status"] == SIGN_UP_V3.status.value
    logged = "\n".join(logged_lines(caplog))
    assert "token=" not in logged, "a preview link in a log"
    assert "xwfp-" not in logged, "an execution token in a log"


async def test_a_flow_link_completes(tmp_path: Path) -> None:
    link = f"https://business.facebook.com/wa/manage/flows/{SIGN_UP_V3.flow_id}/"
    async with step_bot(tmp_path) as bot:
        outputs = succeeded(await run_step(bot, inputs(link)))

    assert outputs["flow_id"] == SIGN_UP_V3.flow_id


async def test_a_name_matching_one_flow_completes(tmp_path: Path) -> None:
    async with step_bot(tmp_path) as bot:
        outputs = succeeded(await run_step(bot, inputs(SIGN_UP_V3.name, space=SPACE)))

    assert outputs["flow_id"] == SIGN_UP_V3.flow_id
    assert outputs["flow_name"] == SIGN_UP_V3.name


async def test_a_name_matching_several_flows_fails_naming_them(tmp_path: Path) -> None:
    async with step_bot(tmp_path) as bot:
        error = failed(await run_step(bot, inputs("booking")))
        asked = preview_calls(bot)

    assert "'booking' matches 5 flows:" in error
    assert "Give its ID." in error
    assert asked == 0


async def test_a_refused_person_fails_with_the_refusal_and_no_preview(tmp_path: Path) -> None:
    async with step_bot(tmp_path) as bot:
        error = failed(await run_step(bot, inputs(SIGN_UP_V3.flow_id, user=GUEST.user_id)))
        asked = preview_calls(bot)

    assert error == messages.REFUSED_TEXT
    assert asked == 0


async def test_a_cams_error_fails_with_the_sentence_a_person_would_see(tmp_path: Path) -> None:
    async with step_bot(tmp_path) as bot:
        bot.cams.fault(f"error:Flow.NotFound@flow:{SIGN_UP_V3.flow_id}")
        error = failed(await run_step(bot, inputs(SIGN_UP_V3.flow_id)))

    assert error.startswith(messages.SENTENCES[ErrorKind.NOT_FOUND])
    assert "RequestId" in error


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"user": MEMBER.user_id}, "The step needs a flow"),
        (inputs("   "), "The step needs a flow"),
        (inputs(SIGN_UP_V3.flow_id, user="not a user"), "The step needs the person"),
        ({"flow": SIGN_UP_V3.flow_id}, "The step needs the person"),
        (inputs(SIGN_UP_V3.flow_id, space="no such space!"), "not a CAMS space ID"),
        (inputs("help"), "that is not a flow ID, link or name"),
        (inputs(f"{SIGN_UP_V3.flow_id} {FEATURED[3].flow_id}"), "one flow at a time; 2 were"),
        (inputs("zzzz qqqq"), "No flow in space 'cams-demo' is named like 'zzzz qqqq'."),
    ],
)
async def test_bad_inputs_fail_without_a_preview(tmp_path: Path, given: Inputs, said: str) -> None:
    async with step_bot(tmp_path) as bot:
        error = failed(await run_step(bot, given))
        asked = preview_calls(bot)

    assert said in error
    assert asked == 0


async def test_the_step_runs_over_socket_mode(tmp_path: Path) -> None:
    async with step_bot(tmp_path, slack_settings={"app_token": Secret(APP_TOKEN)}) as bot:
        outputs = succeeded(await run_step(bot, inputs(SIGN_UP_V3.flow_id), socket=True))
        error = failed(
            await run_step(bot, inputs(SIGN_UP_V3.flow_id, user=GUEST.user_id), socket=True)
        )

    assert outputs["flow_id"] == SIGN_UP_V3.flow_id
    assert "token=" in outputs["preview_url"]
    assert error == messages.REFUSED_TEXT


async def test_a_failure_never_repeats_a_link_given_as_the_flow(tmp_path: Path) -> None:
    link = f"https://business.facebook.com/wa/manage/flows/{SIGN_UP_V3.flow_id}/?token=abc"
    async with step_bot(tmp_path) as bot:
        error = failed(await run_step(bot, inputs(f"{link} space:a space:b")))

    assert "abc" not in error
    assert error.startswith("The flow input")


async def test_a_look_alike_space_fails_as_the_command_says_it(tmp_path: Path) -> None:
    async with step_bot(tmp_path) as bot:
        assert bot.gate is not None
        await bot.gate.book.allow(OTHER, Kind.USER, [MEMBER.user_id], by="operator")
        error = failed(await run_step(bot, inputs(SIGN_UP_V3.flow_id, space=OTHER.upper())))

    assert "is not a space I can use" in error
    assert preview_calls(bot) == 0
