"""What the tests of Slack's Web API answering garbage share: the fake Slack, loop errors, logs."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.access.settings import AccessSettings
from bot.preview.spaces import SpaceChoice
from bot.slack.blocks import messages
from bot.standin.cams.catalog import DEMO_SPACE
from bot.standin.harness.slack_bot import Bot, running_bot
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.garbage import Garbage
from bot.store.settings import StoreSettings
from bot.store.store import Store

TOKEN = "xoxb-web-api"
FLOW = "1234567890123456"
ADMINS = "S0ADMINS1"
# Generous bounds against a hang, never a speed target.
HANG_GUARD_S = 20.0
# What the issue lists, and a proxy's HTML page; a 429 is Slack's own answer, tested apart.
NOT_JSON = [g for g in Garbage if g is not Garbage.RATE_LIMITED]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A fake Slack that knows the bot's token."""
    async with running_fake_slack(bot_token=TOKEN) as fake:
        yield fake


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


def unretrieved_errors(seen: list[dict[str, Any]]) -> list[str]:
    # A task's unretrieved exception is reported when the task is collected.
    """What the loop's exception handler was handed, after collecting tasks nobody awaited."""
    gc.collect()
    return [str(context.get("message")) for context in seen]


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog, catching INFO and worse."""
    with caplog.at_level(logging.INFO):
        yield caplog


def warning_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The WARNING and worse lines logged; each must come without a traceback."""
    assert all(record.exc_info is None for record in caplog.records), caplog.text
    assert "Traceback" not in caplog.text
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


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


def unverified_refusal() -> dict[str, Any]:
    """The message someone gets when Slack could not say who they are."""
    return dict(messages.refused_message(unverified=True))
