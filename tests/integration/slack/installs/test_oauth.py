"""Installs under load and across replicas: a flood of install page visits, and token rotation
by two replicas sharing one PostgreSQL database."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.standin.harness.emulator import RunningEmulator
from bot.standin.harness.postgres_server import PostgresServer
from bot.standin.slack import oauth as slack_oauth
from bot.standin.slack.fake_slack import FakeSlack
from tests.shared import oauth
from tests.shared.oauth import (
    ALPHA,
    BASIC_AUTH_DEPRECATED,
    FLOW,
    INSTALL_PATH,
    OAuthBot,
    auth_test_tokens,
    recorded_states,
    refresh_arrived,
    running_oauth_bot,
)

# Fixtures defined once in tests/shared/oauth.py, bound here under the names tests take.
bot = oauth.bot
rotating_slack = oauth.rotating_slack
slack = oauth.slack

pytestmark = BASIC_AUTH_DEPRECATED


async def test_two_replicas_on_postgresql_rotate_once(
    postgres_server: PostgresServer, rotating_slack: FakeSlack, cams: RunningEmulator
) -> None:
    url = await postgres_server.create_database()
    slack = rotating_slack
    assert slack.oauth is not None
    try:
        async with (
            running_oauth_bot(url, slack, cams) as first,
            running_oauth_bot(url, slack, cams) as second,
        ):
            await first.install(ALPHA)
            slack.oauth.token_lifetime_s = slack_oauth.TOKEN_LIFETIME_S
            held = slack.oauth.hold_refreshes()

            rotating = asyncio.create_task(first.command(ALPHA))
            await refresh_arrived(slack)
            waiting = asyncio.create_task(second.command(ALPHA))
            # The second replica found the token due too, and waits for the first's turn.
            await _waiting_for_an_advisory_lock(first.store.sqlalchemy_engine())
            held.set()
            answers = [await rotating, await waiting]

            assert [status for status, _, _ in answers] == [200, 200]
            assert slack.oauth.refreshes == 1
            new_token = slack.oauth.tokens_of(ALPHA.team_id)[-1]
            assert auth_test_tokens(slack)[-2:] == [new_token, new_token]
            saved = await second.installation(ALPHA)
            assert saved is not None
            assert saved.bot_token == new_token
    finally:
        await postgres_server.drop_database(url)


async def _waiting_for_an_advisory_lock(engine: AsyncEngine) -> None:
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    async with asyncio.timeout(10):
        # Polled: the server tells no one when a session starts waiting.
        while True:
            async with engine.connect() as connection:
                if await connection.scalar(query):
                    return
            await asyncio.sleep(0.02)


async def test_no_number_of_install_page_visits_stops_a_real_install(bot: OAuthBot) -> None:
    async def visit() -> None:
        async with bot.session.get(bot.url + INSTALL_PATH, allow_redirects=False) as answer:
            assert answer.status == 302

    for _ in range(100):
        await asyncio.gather(*(visit() for _ in range(100)))

    assert await recorded_states(bot.store.sqlalchemy_engine()) == 0
    await bot.install(ALPHA)
    assert await bot.installation(ALPHA) is not None
    status, ack, _ = await bot.command(ALPHA)
    assert (status, f"`{FLOW}`" in ack) == (200, True)
