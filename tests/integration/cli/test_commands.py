"""`python -m bot get` and `python -m bot emulator` as a person runs them."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

import aiohttp
import pytest

from bot import __version__
from bot.cli import EXIT_CONFIG
from bot.slack.constants import EVENTS_PATH
from bot.standin.cams.server import DEFAULT_LINK_TTL_S, DEMO_CREDENTIALS
from bot.standin.harness.emulator import RunningEmulator
from bot.standin.harness.processes import (
    ServeProcess,
    clean_env,
    emulator_process,
    free_port,
    run_bot,
)
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.signing import signed_headers
from tests.shared.cli import FLAKY, OK

DENIED, GONE = "4030000000000001", "4040000000000001"
A, B, C = "1111111111111111", "2222222222222222", "3333333333333333"


def _env(cams_url: str | None, **extra: str) -> dict[str, str]:
    # Each test says which log level it runs at, whatever the machine's environment says.
    env = {k: v for k, v in clean_env().items() if k != "LOG_LEVEL"}
    if cams_url is not None:
        env |= {
            "CAMS_ENDPOINT": cams_url,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": DEMO_CREDENTIALS.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEMO_CREDENTIALS.access_key_secret.reveal(),
        }
    return env | extra


@pytest.mark.dates
async def test_get_prints_link_and_expiry_in_local_time_and_utc(cams: RunningEmulator) -> None:
    run = await run_bot("get", "1234567890123456", env=_env(cams.url, TZ="Asia/Tokyo"))

    assert run.code == 0, run.err
    assert "https://business.facebook.com/wa/manage/flows/1234567890123456/preview/" in run.out
    assert " JST (" in run.out
    assert " UTC)" in run.out
    assert "in 29d 23h" in run.out or "in 30d 0h" in run.out


async def test_get_fetches_several_flows_concurrently(cams: RunningEmulator) -> None:
    cams.fault("latency:1@all")
    run = await run_bot("get", A, B, C, env=_env(cams.url))

    assert run.code == 0, run.err
    assert [line.split()[0] for line in run.out.splitlines() if not line.startswith(" ")] == [
        A,
        B,
        C,
    ]
    arrivals = cams.emulator.stats()["arrivals"][DEMO_CREDENTIALS.access_key_id]
    assert max(arrivals) - min(arrivals) < 1.0, "all three were asked before any was answered"


async def test_get_failures_exit_non_zero_with_code_message_and_request_id(
    cams: RunningEmulator,
) -> None:
    cams.fault(f"error:Ram.PermissionDeny@flow:{DENIED}", f"error:Flow.NotFound@flow:{GONE}")
    run = await run_bot("get", OK, DENIED, GONE, env=_env(cams.url))

    assert run.code == 1
    assert f"flows/{OK}/preview" in run.out
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert f"error: flow '{DENIED}': Ram.PermissionDeny: You are not authorized" in errors[0]
    assert re.search(r"\(RequestId [0-9A-F-]{36}\)$", errors[0])
    assert "Flow.NotFound" in errors[1]
    assert "Traceback" not in run.err


async def test_get_json(cams: RunningEmulator) -> None:
    cams.fault(f"error:Product.Unsubscript@flow:{B}")
    run = await run_bot("get", A, B, "--json", "--space", "sp", env=_env(cams.url))

    assert run.code == 1
    first, second = json.loads(run.out)
    assert first["ok"] is True
    assert first["expires_at"].endswith("Z")
    assert second["error"]["kind"] == "not_subscribed"
    assert second["error"]["request_id"]
    assert all("CustSpaceId=sp" in r.raw_path for r in cams.emulator.recorded)


async def test_get_refuses_bad_input_without_calling(cams: RunningEmulator) -> None:
    run = await run_bot("get", "", "a\x01b", env=_env(cams.url))

    assert run.code == 2
    assert run.err == "error: not a flow ID (10 to 20 digits): '', 'a\\x01b'\n"
    assert len(cams.emulator.recorded) == 0


@pytest.mark.parametrize(
    "flow_id",
    [
        "abc",
        "123456789",  # 9 digits
        "123456789012345678901",  # 21 digits
        "".join(chr(0xFF10 + int(d)) for d in "123456789012"),  # full-width digits
        "https://business.facebook.com/wa/manage/flows/1234567890123456/preview/",
    ],
)
async def test_get_checks_flow_ids_as_slack_does_and_calls_nothing_for_a_bad_one(
    cams: RunningEmulator, flow_id: str
) -> None:
    run = await run_bot("get", OK, flow_id, env=_env(cams.url))

    assert run.code == 2
    assert run.err == f"error: not a flow ID (10 to 20 digits): {flow_id!r}\n"
    assert run.out == ""
    assert len(cams.emulator.recorded) == 0


async def test_missing_credentials_exit_2_naming_the_variables() -> None:
    run = await run_bot("get", OK, env=_env(None))

    assert run.code == 2
    assert run.err.strip().count("\n") == 0
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET" in run.err


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CAMS_ENDPOINT", "http://cams.example.com"),
        ("CAMS_ENDPOINT", "not a url"),
        ("CAMS_ENDPOINT", "https://cams..example.com"),
        ("CAMS_ENDPOINT", "cams_endpoint.example.com:8443"),
        ("CAMS_DEADLINE_S", "-1"),
        ("LOG_LEVEL", "x"),
    ],
)
async def test_bad_settings_are_one_line_naming_the_variable(name: str, value: str) -> None:
    run = await run_bot("get", OK, env=_env("http://127.0.0.1:9", **{name: value}))

    assert run.code == 2
    assert run.err.startswith(f"flowpreview: {name}: ")
    assert run.err.strip().count("\n") == 0


async def test_get_at_the_default_log_level_writes_only_one_line_per_failed_flow(
    cams: RunningEmulator,
) -> None:
    # One flow fetched, one retried then fetched, one refused: only the refusal is news.
    cams.fault(f"http:503@flow:{FLAKY}*1", f"error:Ram.PermissionDeny@flow:{DENIED}")
    run = await run_bot("get", OK, FLAKY, DENIED, env=_env(cams.url))

    assert run.code == 1
    assert cams.emulator.by_flow == {OK: 1, FLAKY: 2, DENIED: 1}
    [line] = run.err.splitlines()
    assert line.startswith(f"error: flow '{DENIED}': Ram.PermissionDeny: ")
    assert re.search(r"\(RequestId [0-9A-F-]{36}\)$", line)


async def test_get_logs_retries_and_fetches_when_log_level_asks(cams: RunningEmulator) -> None:
    cams.fault(f"http:503@flow:{FLAKY}*1")
    run = await run_bot("get", OK, FLAKY, env=_env(cams.url, LOG_LEVEL="INFO"))

    assert run.code == 0, run.err
    assert "WARNING bot.cams.client: " in run.err, "the retry"
    assert run.err.count("INFO bot.preview.service: ") == 2, "the fetches"


@pytest.mark.dates
async def test_get_shows_the_expiry_once_when_local_time_is_utc(cams: RunningEmulator) -> None:
    run = await run_bot("get", "1234567890123456", env=_env(cams.url, TZ="UTC"))

    assert run.code == 0, run.err
    [expiry] = [line for line in run.out.splitlines() if line.startswith("    expires ")]
    assert re.fullmatch(r"    expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, in \d+d \d+h", expiry)


async def test_version_at_the_top_level() -> None:
    module = await run_bot("--version", env=_env(None))
    script = Path(sys.executable).with_name("flowpreview")
    process = await asyncio.create_subprocess_exec(
        script, "--version", env=_env(None), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)

    assert (module.code, module.out) == (0, f"flowpreview {__version__}\n")
    assert (process.returncode, out.decode()) == (0, f"flowpreview {__version__}\n")


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["get"], "python -m bot get"),
        (["get", "1", "--bogus"], "python -m bot get"),
        (["get", "--space"], "python -m bot get"),
        (["emulator", "--port", "x"], "python -m bot emulator"),
        (["emulator", "extra"], "python -m bot emulator"),
        (["demo", "--bogus"], "python -m bot demo"),
        (["--bogus", "get", "1"], "python -m bot"),
        ([], "python -m bot"),
    ],
)
async def test_a_usage_error_is_one_line_naming_its_command(args: list[str], command: str) -> None:
    run = await run_bot(*args, env=_env(None))

    assert run.code == 2
    [line] = run.err.splitlines()
    assert line.startswith(f"{command}: error: ")
    assert line.endswith(f"(see {command} --help)")
    assert run.out == ""


async def test_unreachable_endpoint_is_a_clean_error() -> None:
    run = await run_bot("get", OK, env=_env(f"http://127.0.0.1:{free_port()}"))

    assert run.code == 1
    assert f"error: flow '{OK}': network: cannot reach 127.0.0.1" in run.err
    assert "Traceback" not in run.err


async def test_silent_endpoint_times_out_cleanly() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        env = _env(
            f"http://127.0.0.1:{port}",
            CAMS_ATTEMPT_TIMEOUT_S="0.3",
            CAMS_CONNECT_TIMEOUT_S="0.2",
            CAMS_DEADLINE_S="1",
        )
        run = await run_bot("get", OK, env=env)

    assert run.code == 1
    assert "network: no answer from 127.0.0.1" in run.err
    assert "Traceback" not in run.err


async def test_emulator_command_serves_and_verifies() -> None:
    rule = f"error:Ram.PermissionDeny@flow:{DENIED}"
    async with emulator_process("--fault", rule, env=_env(None)) as emulator:
        run = await run_bot("get", OK, DENIED, env=_env(emulator.url))

    assert b"CAMS emulator on http://127.0.0.1:" in emulator.banner
    assert run.code == 1
    assert f"flows/{OK}/preview" in run.out
    assert "Ram.PermissionDeny" in run.err


async def test_emulator_refuses_a_bad_fault_rule() -> None:
    run = await run_bot("emulator", "--fault", "explode@all", env=_env(None))
    assert run.code == 2
    assert run.err.startswith("flowpreview: --fault: unknown fault")


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--port", "99999999999999999999"], "--port: must be 0-65535"),
        (["--port", "-1"], "--port: must be 0-65535"),
        (["--qps", "-5"], "--qps: must be 0 (no throttling) or more"),
        (["--link-ttl", "inf"], "--link-ttl: must be at most 3,153,600,000 seconds"),
        (["--link-ttl", "nan"], "--link-ttl: must be at most 3,153,600,000 seconds"),
        (["--link-ttl", "1e308"], "--link-ttl: must be at most 3,153,600,000 seconds"),
    ],
)
async def test_emulator_refuses_numbers_it_cannot_use_in_one_line(
    args: list[str], problem: str
) -> None:
    run = await run_bot("emulator", *args, env=_env(None))

    assert run.code == 2
    assert run.err.startswith(f"flowpreview: {problem}")
    assert run.err.count("\n") == 1


async def test_emulator_reports_a_busy_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = await run_bot("emulator", "--port", str(port), env=_env(None))
    assert run.code == 2
    assert "--port: cannot listen on" in run.err
    assert "Traceback" not in run.err


async def test_get_asks_upstream_once_per_distinct_flow(cams: RunningEmulator) -> None:
    run = await run_bot("get", A, B, A, C, env=_env(cams.url))

    assert run.code == 0, run.err
    assert [line.split()[0] for line in run.out.splitlines() if not line.startswith(" ")] == [
        A,
        B,
        A,
        C,
    ]
    assert cams.emulator.by_flow == {A: 1, B: 1, C: 1}


async def test_get_reports_busy_when_the_budget_is_booked(cams: RunningEmulator) -> None:
    env = _env(cams.url, CAMS_QPS="1", CAMS_MAX_WAIT_S="0")
    run = await run_bot("get", A, B, env=env)

    assert run.code == 1
    assert f"error: flow '{B}': busy: the CAMS call budget is booked" in run.err
    assert cams.emulator.by_flow == {A: 1}


def _as_the_demo_shows(epoch: float) -> str:
    """`epoch` in this machine's zone, as `{date_short} at {time}`: Wed 6 Jan 2027 at 09:30 CET."""
    at = datetime.fromtimestamp(epoch, UTC).astimezone()
    return f"{at:%a} {at.day} {at:%b %Y} at {at:%H:%M %Z}"


@pytest.mark.dates
async def test_demo_answers_a_typed_command_with_link_expiry_and_buttons(tmp_path: Path) -> None:
    asked = time.time()
    run = await run_bot(
        "demo",
        # Its log file goes to the temporary directory: this test's own. Its zone is this
        # process's: make test-dates runs it in several.
        env=_env(None, LOG_LEVEL="WARNING", TMPDIR=str(tmp_path)),
        stdin=b"/flowpreview 1234567890123456\nshare 1\nwait\n/flowpreview 4030000000000000\n",
    )
    answered = time.time()
    text = run.out

    assert run.code == 0, run.err
    assert (
        "[1 Open preview] https://business.facebook.com/wa/manage/flows/1234567890123456/" in text
    ), text
    assert "[2 Share in channel]" in text, text
    expiry = re.search(
        r"Link expires (\w{3} \d{1,2} \w{3} \d{4} at \S+ \S+) \(29 days left\)", text
    )
    assert expiry is not None, text
    # The link lasts DEFAULT_LINK_TTL_S from the fetch, made between these two times.
    fetched = range(int(asked), int(answered) + 2)
    assert expiry[1] in {_as_the_demo_shows(at + DEFAULT_LINK_TTL_S) for at in fetched}
    assert "(visible to the channel)" in text
    assert "Shared by @Steve" in text
    assert "cams:GetFlowPreviewUrl" in text
    assert "Traceback" not in run.err


async def test_serve_refuses_to_start_without_its_settings() -> None:
    run = await run_bot("serve", env=_env(None))
    assert run.code == 2
    assert run.err.startswith("flowpreview: SLACK_BOT_TOKEN: not set")
    run = await run_bot("serve", env=_env(None, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s"))
    assert run.code == 2
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in run.err


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("WATCH_POLL_S", "0.5", "WATCH_POLL_S: must be 1 to 86400 seconds"),
        ("WATCH_MAX_QPS", "4.5", "WATCH_MAX_QPS: must be at most 4"),
        ("WATCH_MAX_TOTAL", "0", "WATCH_MAX_TOTAL: must be at least 1"),
    ],
)
async def test_serve_refuses_a_bad_watch_setting_in_one_line(
    cams: RunningEmulator, setting: str, value: str, said: str
) -> None:
    slack = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    run = await run_bot("serve", env=_env(cams.url, **slack, **{setting: value}))
    assert run.code == 2
    assert run.err.startswith(f"flowpreview: {said}"), run.err
    assert len(run.err.strip().splitlines()) == 1


async def test_serve_refuses_polls_that_would_leave_people_no_getflow(
    cams: RunningEmulator,
) -> None:
    env = _env(
        cams.url,
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        WATCH_MAX_QPS="3",
        CAMS_QPS_GETFLOW="3",
    )
    run = await run_bot("serve", env=env)
    assert run.code == 2
    assert run.err.startswith("flowpreview: WATCH_MAX_QPS: must be below GetFlow's budget"), run.err


@dataclass
class Served:
    """A `python -m bot serve` process, the fake Slack it talks to, and how it ended."""

    replica: ServeProcess
    slack: FakeSlack
    session: aiohttp.ClientSession
    code: int | None = None
    err: bytes = b""


@asynccontextmanager
async def _serving(cams: RunningEmulator, **slack_env: str) -> AsyncIterator[Served]:
    async with (
        running_fake_slack(bot_token="xoxb-serve") as slack,
        aiohttp.ClientSession() as session,
    ):
        env = _env(cams.url, SLACK_BOT_TOKEN="xoxb-serve", SLACK_API_URL=slack.api_url)
        served = Served(ServeProcess(env | slack_env), slack, session)
        try:
            await served.replica.start(session)
            yield served
        finally:
            served.code, served.err = await served.replica.stop()


async def test_serve_answers_signed_commands_and_stops_cleanly_on_sigterm(
    cams: RunningEmulator,
) -> None:
    async with _serving(cams, SLACK_SIGNING_SECRET="serve-secret") as served:
        body = payloads.slash_command("7777777777", response_url=served.slack.new_response_url())
        async with served.session.post(
            served.replica.url + EVENTS_PATH,
            data=body,
            headers=signed_headers("serve-secret", body),
        ) as response:
            status, message = response.status, await response.json()

    assert status == 200
    assert "flows/7777777777/preview" in json.dumps(message)
    assert served.code == 0
    assert b"Traceback" not in served.err


async def test_serve_in_socket_mode_answers_over_the_socket(cams: RunningEmulator) -> None:
    async with _serving(cams, SLACK_APP_TOKEN="xapp-1-socket") as served:
        body = payloads.slash_command("8888888888", response_url=served.slack.new_response_url())
        ack = await served.slack.socket_request(
            "slash_commands", dict(parse_qsl(body.decode())), within=20
        )
        async with served.session.post(served.replica.url + EVENTS_PATH, data=body) as response:
            events_status = response.status

    assert "flows/8888888888/preview" in json.dumps(ack["payload"])
    assert events_status == 404, "no HTTP endpoint for Slack requests in Socket Mode"
    assert [c.method for c in served.slack.api_calls if c.method == "apps.connections.open"]
    assert served.code == 0
    assert b"Traceback" not in served.err


@pytest.mark.parametrize("command", ["serve", "get", "migrate", "audit", "access"])
async def test_a_production_command_loads_neither_the_demo_nor_a_stand_in(command: str) -> None:
    # A process of its own: this one has imported everything already.
    probe = (
        "import sys; from bot.cli import build_parser; "
        f"build_parser({command!r}); import bot.cli.{command}; "
        "print(*sorted(name for name in sys.modules if name.startswith("
        "('bot.standin', 'bot.cli.demo', 'bot.cli.emulator'))))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", probe, stdout=asyncio.subprocess.PIPE, env=clean_env()
    )
    out, _ = await process.communicate()

    assert (process.returncode, out.decode()) == (0, "\n")


@pytest.mark.parametrize(
    ("command", "left_out"),
    [
        ("demo", "bot.standin"),
        ("emulator", "bot.standin"),
        ("demo", "bot.cli.demo"),
        ("emulator", "bot.cli.emulator"),
    ],
)
async def test_without_the_stand_ins_the_demo_and_the_emulator_say_so_in_one_line(
    command: str, left_out: str
) -> None:
    # As in the production image, which leaves out bot/standin and both commands' modules.
    probe = (
        f"import sys; sys.modules[{left_out!r}] = None; from bot.cli import main; "
        f"sys.exit(main([{command!r}]))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        probe,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    out, err = await process.communicate()

    assert process.returncode == EXIT_CONFIG
    assert out == b""
    assert err.decode() == (
        f"flowpreview: `{command}` is not in this installation: the production image leaves out "
        "the demo, the emulator and their stand-ins (build the Dockerfile's demo target)\n"
    )


# A bearer link: the terminal shows it only where the person alone sees it.
PREVIEW_URL = re.compile(r"https://business\.facebook\.com/wa/manage/flows/\d+/preview/\?token=\w+")


def _entries(text: str) -> list[str]:
    """What the demo printed, one entry per unindented line with the indented lines under it."""
    entries: list[str] = []
    for line in text.splitlines():
        if line.startswith(" ") and entries:
            entries[-1] += "\n" + line
        else:
            entries.append(line)
    return entries


def _the(entries: list[str], heading: str) -> list[str]:
    found = [entry for entry in entries if heading in entry.partition("\n")[0]]
    assert found, f"nothing printed under {heading!r}"
    return found


async def test_the_demo_unfurls_a_pasted_link_runs_the_home_tab_and_the_workflow_step(
    tmp_path: Path,
) -> None:
    dental = "9876543210987601"
    typed = (
        "paste Ready? https://business.facebook.com/wa/manage/flows/9876543210987654/ and mine "
        "https://business.facebook.com/wa/manage/flows/1234567890123456/preview/?token=abc\n"
        "click 1\n"
        "wait\n"
        # By name: the step waits for the flow list, which the Home tab's search then finds.
        "step appointment dental\n"
        "home\n"
        "home search dental\n"
        "pin 1\n"
        "preview 1\n"
        "wait\n"
    )
    run = await run_bot(
        "demo", env=_env(None, TZ="UTC", TMPDIR=str(tmp_path)), stdin=typed.encode()
    )
    entries = _entries(run.out)

    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    [card] = _the(entries, "card unfurling a link of #1")
    assert "Appointment booking · 9876543210987654" in card
    assert "[1 Get my preview]" in card
    [warning] = _the(entries, "(only you can see this) posted by the bot in #")
    assert "The link you just posted is a preview link" in warning
    [answer] = _the(entries, "via response_url of click 1 on #")
    assert PREVIEW_URL.search(answer) is not None, answer
    assert "flows/9876543210987654/preview/?token=" in answer
    [step] = _the(entries, "step appointment dental: the step completed")
    assert f"flow_id: {dental}" in step
    assert f"    preview_url: https://business.facebook.com/wa/manage/flows/{dental}/" in step
    assert PREVIEW_URL.search(step) is not None, step
    homes = _the(entries, "(your Home tab) published by the bot")
    assert len(homes) == 3, "opened, searched, pinned"
    opened, searched, pinned = homes
    assert "Find a flow by name: (Type part" in opened
    assert "Find a flow by name: dental\n    Flows named like dental\n" in searched
    assert f"Dental · {dental}\n" in searched.partition("Pinned")[0], "the search found it"
    assert "Pinned\n    Nothing pinned yet" in searched
    pins = pinned.partition("Pinned\n")[2].partition("Your recent previews")[0]
    assert f"Dental · {dental}\n" in pins, pinned
    [_] = _the(entries, "modal opened")
    [modal] = _the(entries, "modal updated by views.update")
    assert f"flows/{dental}/preview/?token=" in modal
    for shown in [card, *homes]:
        assert PREVIEW_URL.search(shown) is None, shown


async def test_the_demo_watches_a_flow_and_shows_its_change_in_the_channel(
    tmp_path: Path,
) -> None:
    flow = "1234567890123456"
    typed = f"/flowpreview watch {flow}\nstatus {flow} BLOCKED\npoll\nclick 1\nwait\n"
    run = await run_bot(
        "demo", env=_env(None, TZ="UTC", TMPDIR=str(tmp_path)), stdin=typed.encode()
    )
    entries = _entries(run.out)

    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    [watched] = _the(entries, f"ack to /flowpreview watch {flow}")
    assert "This channel now watches" in watched
    [posted] = _the(entries, "(visible to the channel) posted by the bot in #test")
    assert "Flow Sign-up v3: Published → " in posted, posted
    assert "Blocked" in posted.partition("\n")[2], posted
    assert "token=" not in posted
    assert "[1 Get my preview]" in posted
    number = posted.partition(" ")[0]
    [answer] = _the(entries, f"(only you can see this) via response_url of click 1 on {number}")
    assert PREVIEW_URL.search(answer) is not None, answer
    assert f"flows/{flow}/preview/?token=" in answer
