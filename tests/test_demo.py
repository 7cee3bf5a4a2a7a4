"""`python -m bot demo`: its stories do what their hints say, and its logs stay out of the chat."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from bot.cli.demo import STORIES, demo_emulator, run_demo
from bot.preview.settings import PreviewSettings
from tests.serve_process import clean_env, run_bot

# A log record as bot.cli formats it.
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")


async def _typed(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


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
        _typed(*lines, "wait"),
        out,
        preview_settings=PreviewSettings.from_env({}),
        interactive=False,
        emulator=emulator,
    )

    output = out.getvalue()
    for story in STORIES:
        assert f"/flowpreview {story.flow_id}   ({story.hint})" in output
        CHECKS[story.flow_id](output, story.hint, emulator.by_flow.get(story.flow_id, 0))


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
