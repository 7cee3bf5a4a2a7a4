"""Config changes from Slack while the database is locked: acked at once, said later."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.slack.listeners.commands.config import PENDING
from tests.fake_clock import HANG_GUARD_S
from tests.shared.access import ADMIN, MEMBER, OTHER, SPACE, guarded_bot, listed_spaces


@asynccontextmanager
async def _write_locked(path: Path) -> AsyncIterator[None]:
    """Another process's hold on the SQLite write lock while the block runs.

    Taken and let go in a thread: waiting for the lock on the event loop would stop the bot
    from finishing whatever write of its own holds it meanwhile.
    """
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(holder.execute, "BEGIN IMMEDIATE")
        yield
        await asyncio.to_thread(holder.execute, "COMMIT")
    finally:
        holder.close()


async def test_a_config_change_under_a_database_lock_is_acked_before_the_lock_is_released(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.sqlite3"
    async with guarded_bot(f"sqlite+aiosqlite:///{path}", ack_budget=0.5) as (bot, _):
        bot.service.spaces = listed_spaces(SPACE, OTHER)
        async with _write_locked(path):
            # Answered while the lock is still held: the ack cannot wait for the write.
            ack, response_url = await bot.command(f"config space {OTHER}", who=ADMIN)
        outcome = await bot.slack.next_response(response_url, within=HANG_GUARD_S)
        shown, _ = await bot.command("config", who=MEMBER)

    assert PENDING in ack.body
    assert outcome.message is not None
    assert f"now `{OTHER}`" in outcome.message["text"]
    assert f"default space is `{OTHER}`" in shown.body


async def test_a_config_change_the_database_cannot_take_is_said_through_the_response_url(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.sqlite3"
    async with guarded_bot(f"sqlite+aiosqlite:///{path}", ack_budget=0.5) as (bot, _):
        bot.service.spaces = listed_spaces(SPACE, OTHER)
        async with _write_locked(path):
            ack, response_url = await bot.command(f"config space {OTHER}", who=ADMIN)
            # The lock outlasts the write's wait for it (SQLite's busy timeout).
            outcome = await bot.slack.next_response(response_url, within=HANG_GUARD_S)
        shown, _ = await bot.command("config", who=MEMBER)

    assert PENDING in ack.body
    assert outcome.message is not None
    assert "could not be saved" in outcome.message["text"]
    assert OTHER not in shown.body, "nothing was saved"
