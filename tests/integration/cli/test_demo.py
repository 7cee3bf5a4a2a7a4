"""`python -m bot demo` as a process (piped input, its log file, its database, a terminal),
and the demo's stories and quitting, which wait on the real clock."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import signal
import sys
import termios
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from bot.cli.demo import INTRO, STORIES, demo_emulator, run_demo
from bot.preview.settings import PreviewSettings
from bot.standin.harness.processes import clean_env, run_bot
from tests.shared.cli import typed_lines

# A log record as bot.cli formats it.
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")


def _the_log(folder: Path) -> tuple[str, str]:
    """The path and the content of the one demo log in `folder`."""
    [log_file] = folder.glob("flowpreview-demo-*.log")
    return str(log_file), log_file.read_text(encoding="utf-8")


async def test_piped_demo_names_its_log_file_once_and_keeps_logs_out_of_the_chat(
    tmp_path: Path,
) -> None:
    env = clean_env(LOG_LEVEL="INFO", TZ="UTC", TMPDIR=str(tmp_path))
    run = await run_bot(
        "demo", env=env, stdin=b"/flowpreview 1234567890123456\n/flowpreview 5030000000000000\n"
    )
    text = run.out

    assert run.code == 0, run.err
    assert run.err == ""
    for story in STORIES:
        assert f"/flowpreview {story.flow_id}   (" in text, "the stories, though input is piped"
    log_file, logged = _the_log(tmp_path)
    assert text.count(log_file) == 1
    assert not LOG_LINE.search(text)
    assert "INFO bot.preview.service: " in logged
    assert "WARNING bot.cams.client: " in logged


async def test_the_demo_keeps_a_channel_space_and_the_person_is_its_admin(tmp_path: Path) -> None:
    typed = "/flowpreview config space cams-acme\n/flowpreview newsletter\n/flowpreview config\n"
    env = clean_env(TZ="UTC", TMPDIR=str(tmp_path))
    run = await run_bot("demo", env=env, stdin=typed.encode())

    assert run.code == 0, run.err
    assert "default space is now cams-acme" in run.out
    assert "in space cams-acme match newsletter" in run.out
    assert "This channel's default space is cams-acme" in run.out
    assert _databases_left(tmp_path) == [], "the demo's database lives and goes with the demo"


def _databases_left(folder: Path) -> list[Path]:
    return list(folder.glob("flowpreview-demo-db-*"))


async def test_the_rule_the_banner_suggests_leaves_its_admin_in(tmp_path: Path) -> None:
    suggested = re.search(r"config allow ([\w-]+) (\w+) (\w+)", INTRO)
    assert suggested is not None, INTRO
    space = suggested.group(1)
    typed = f"/flowpreview {suggested.group(0)}\n/flowpreview 1234567890123456 space:{space}\n"
    env = clean_env(TZ="UTC", TMPDIR=str(tmp_path))
    run = await run_bot("demo", env=env, stdin=typed.encode())

    assert run.code == 0, run.err
    assert "closed to everyone its rules do not name" in run.out, "the answer says so"
    assert "do not name you" not in run.out
    assert "You don't have access" not in run.out
    assert "flows/1234567890123456/preview" in run.out


class _Pty:
    """`python -m bot demo` on a pseudo-terminal, as a person at a keyboard runs it."""

    def __init__(self, process: asyncio.subprocess.Process, master: int) -> None:
        self.process = process
        self.master = master
        self.screen = b""
        # Where the last marker waited for ended: the next one is looked for after it.
        self._seen = 0

    async def until(self, marker: bytes) -> None:
        """Read the screen until `marker` is on it after the last marker waited for."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(60):  # a guard against hanging, not a measure of speed
            while (found := self.screen.find(marker, self._seen)) == -1:
                self.screen += await loop.run_in_executor(None, os.read, self.master, 65536)
        self._seen = found + len(marker)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def modes(self) -> int:
        """The terminal's local modes (echo, line-at-a-time input, …) as the demo left them."""
        lflag: int = termios.tcgetattr(self.master)[3]
        return lflag


@contextlib.asynccontextmanager
async def _demo_on_a_pty(tmp_path: Path) -> AsyncIterator[_Pty]:
    master, slave = os.openpty()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "demo",
            env=clean_env(TZ="UTC", TMPDIR=str(tmp_path), TERM="dumb"),
            cwd=tmp_path,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
    finally:
        os.close(slave)
    try:
        yield _Pty(process, master)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        os.close(master)


async def test_the_prompt_edits_lines_keeps_history_and_gives_the_terminal_back(
    tmp_path: Path,
) -> None:
    async with _demo_on_a_pty(tmp_path) as demo_pty:
        await demo_pty.until(b"Type help for help.")
        await demo_pty.until(b"> ")
        at_the_prompt = demo_pty.modes()
        # Typed without its slash; Ctrl-A goes to the start of the line to add it.
        demo_pty.type(b"flowpreview 1234567890123456\x01/\r")
        await demo_pty.until(b"#1 (only you can see this) ack to /flowpreview 1234567890123456")
        await demo_pty.until(b"> ")
        # The up arrow brings the line back.
        demo_pty.type(b"\x1b[A\r")
        await demo_pty.until(b"#2 (only you can see this) ack to /flowpreview 1234567890123456")
        await demo_pty.until(b"> ")
        demo_pty.process.send_signal(signal.SIGINT)
        code = await demo_pty.process.wait()
        after = demo_pty.modes()

    assert b"Unknown command" not in demo_pty.screen
    assert not at_the_prompt & termios.ECHO, "readline edits the line, echoing it itself"
    assert code == 130
    assert after & termios.ECHO, "the terminal as it was found"
    assert after & termios.ICANON, "the terminal as it was found"


def _reply_to(output: str, flow_id: str) -> str:
    """Everything shown from the first message answering `/flowpreview flow_id` onwards."""
    start = output.index(f"ack to /flowpreview {flow_id}\n")
    return output[start:]


def _slow(output: str, story_hint: str, calls: int) -> None:
    reply = _reply_to(output, "5555555555555555")
    assert "'Fetching…' at once" in story_hint
    assert "ack to /flowpreview 5555555555555555\n    ⏳ Fetching the preview of" in reply
    assert "via response_url of /flowpreview 5555555555555555\n" in reply
    assert "[1 Open preview] https://business.facebook.com/wa/manage/flows/5555555555555555/" in (
        reply
    )
    assert calls == 1


def _denied(output: str, story_hint: str, calls: int) -> None:
    assert "lacks the permission" in story_hint
    assert "not allowed to call cams:GetFlowPreviewUrl" in _reply_to(output, "4030000000000000")
    assert calls == 1


def _unknown(output: str, story_hint: str, calls: int) -> None:
    assert "does not know the flow" in story_hint
    assert "CAMS has no such flow in this space" in _reply_to(output, "4040000000000000")
    assert calls == 1


def _outage(output: str, story_hint: str, calls: int) -> None:
    promised = re.search(r"tries (\d+) times", story_hint)
    assert promised is not None, story_hint
    assert calls == int(promised.group(1))
    assert "CAMS is having trouble right now" in _reply_to(output, "5030000000000000")


def _slow_last(line: str) -> bool:
    return line.endswith("5555555555555555")


CHECKS: dict[str, Callable[[str, str, int], None]] = {
    "5555555555555555": _slow,
    "4030000000000000": _denied,
    "4040000000000000": _unknown,
    "5030000000000000": _outage,
}


async def test_every_story_does_what_its_hint_says() -> None:
    assert {story.flow_id for story in STORIES} == set(CHECKS), "a check for every story"
    emulator = demo_emulator()
    out = io.StringIO()
    # The slow story last, so that `wait` waits for its reply.
    lines = sorted((f"/flowpreview {story.flow_id}" for story in STORIES), key=_slow_last)

    await run_demo(
        typed_lines(*lines, "wait"),
        out,
        preview_settings=PreviewSettings.from_env({}),
        interactive=False,
        emulator=emulator,
    )

    output = out.getvalue()
    for story in STORIES:
        assert f"/flowpreview {story.flow_id}   ({story.hint})" in output
        CHECKS[story.flow_id](output, story.hint, emulator.by_flow.get(story.flow_id, 0))


async def test_quit_shows_the_reply_still_owed_instead_of_dropping_it() -> None:
    out = io.StringIO()
    # At a prompt, as a person types: nothing lingers after the input, so only the bot's own
    # shutdown can bring the slow story's reply.
    await run_demo(
        typed_lines("/flowpreview 5555555555555555", "quit"),
        out,
        preview_settings=PreviewSettings.from_env({}),
        interactive=True,
    )
    output = out.getvalue()

    leaving = output.index("(leaving once the bot has delivered the reply it still owes)")
    reply = output.index("via response_url of /flowpreview 5555555555555555\n")
    assert leaving < reply
    link = "[1 Open preview] https://business.facebook.com/wa/manage/flows/5555555555555555/"
    assert link in output[reply:]
    assert "restarted" not in output
