"""A channel watches a flow over loopback: the command, a poll, the change posted once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.slack.watching.settings import WatchSettings
from bot.standin.cams.catalog import FEATURED
from bot.standin.harness.slack_bot import Bot
from tests.fake_clock import HANG_GUARD_S
from tests.shared.access import guarded_bot

FLOW = FEATURED[0]
QUIET = WatchSettings(poll_s=86_400.0, max_qps=4.0)


@asynccontextmanager
async def watching_bot(tmp_path: Path) -> AsyncIterator[Bot]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'watch.sqlite3'}"
    async with guarded_bot(url, watch=QUIET) as (bot, _):
        yield bot


async def test_a_status_change_is_posted_once_to_the_watching_channel(tmp_path: Path) -> None:
    async with watching_bot(tmp_path) as bot:
        answer, _ = await bot.command(f"watch {FLOW.flow_id}")
        assert "now watches" in json.dumps(answer.json()), answer.body
        watching = bot.watching
        assert watching is not None
        await watching.poller.cycle()
        bot.cams.emulator.set_status(FLOW.flow_id, "BLOCKED")
        await watching.poller.cycle()
        await watching.poller.cycle()
        await watching.poster.post_pending()
        posted = await bot.slack.next_post(within=HANG_GUARD_S)

    text = json.dumps(posted.message)
    assert posted.channel == "C2147483705"
    assert "Blocked" in text
    assert "token=" not in text
    assert len(bot.slack.posts) == 1
