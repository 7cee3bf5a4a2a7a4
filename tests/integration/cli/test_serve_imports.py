"""`serve` loads only what its configuration uses: never a stand-in, the emulator or the demo;
asyncpg only with PostgreSQL, redis only with REDIS_URL, Alembic only when the schema is behind,
and the OAuth, Socket Mode and typo-search modules only when they are needed."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable

import aiohttp

from bot.standin.harness.emulator import RunningEmulator
from bot.standin.harness.importtime import parse_importtime
from bot.standin.harness.postgres_server import PostgresServer
from bot.standin.harness.processes import ServeProcess, serve_env
from bot.standin.harness.redis_server import RedisServer
from bot.standin.slack.fake_slack import running_fake_slack

# What no `serve` may load, whatever it is configured with.
NEVER = ("bot.standin", "bot.cli.demo", "bot.cli.emulator", "bot.cli.get")
# What a replica serving one workspace over HTTP, on a current schema, does not need. (Bolt's
# AsyncApp imports its own OAuth modules in any case; those of the install flow are the bot's.)
UNUSED = (
    "sqlalchemy",
    "alembic",
    "mako",
    "slack_sdk.oauth.installation_store.sqlalchemy",
    "slack_sdk.oauth.state_store.sqlalchemy",
    "bot.slack.installs",
    "bot.store.install_tables",
    "slack_sdk.socket_mode",
    "bot.slack.edge.socket_mode",
    "rapidfuzz",
)
SQLITE_ONLY = ("aiosqlite", "sqlalchemy.dialects.sqlite")
POSTGRES_ONLY = ("asyncpg", "sqlalchemy.dialects.postgresql")
REDIS_ONLY = ("redis", "bot.preview.redis")


def loaded(modules: set[str], prefixes: Iterable[str]) -> list[str]:
    """The modules that are one of `prefixes` or inside one of them."""
    return sorted(
        name
        for name in modules
        for prefix in prefixes
        if name == prefix or name.startswith(f"{prefix}.")
    )


async def _two_starts(cams: RunningEmulator, **extra: str) -> tuple[set[str], set[str]]:
    """The modules of a first `serve` on a new database, then of a second one on it."""
    async with running_fake_slack(bot_token="xoxb-lean") as slack, aiohttp.ClientSession() as s:
        env = serve_env(
            cams.url, slack, SLACK_BOT_TOKEN="xoxb-lean", SLACK_SIGNING_SECRET="lean", **extra
        )
        found = []
        with tempfile.TemporaryDirectory(prefix="flowpreview-lean-") as home:
            for _ in range(2):
                replica = ServeProcess(env, interpreter=("-X", "importtime"), home=home)
                await replica.start(s)
                code, err = await replica.stop()
                assert code == 0, err.decode(errors="replace")[-2000:]
                found.append(
                    {item.module for item in parse_importtime(err.decode(errors="replace"))}
                )
    return found[0], found[1]


async def test_serve_on_sqlite_without_redis_loads_only_what_it_uses(cams: RunningEmulator) -> None:
    first, second = await _two_starts(cams)

    # The first start migrated the new database, so the parsing sees what it should.
    assert loaded(first, ["alembic"])
    assert loaded(second, SQLITE_ONLY)
    assert loaded(second, [*NEVER, *UNUSED, *POSTGRES_ONLY, *REDIS_ONLY]) == []
    assert loaded(first, NEVER) == []


async def test_serve_on_postgresql_and_redis_loads_their_drivers_and_nothing_else(
    cams: RunningEmulator, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    url = await postgres_server.create_database()
    try:
        first, second = await _two_starts(cams, DATABASE_URL=url, REDIS_URL=redis_server.url)
    finally:
        await postgres_server.drop_database(url)

    assert loaded(first, ["alembic"])
    assert loaded(second, POSTGRES_ONLY)
    assert loaded(second, REDIS_ONLY)
    assert loaded(second, [*NEVER, *UNUSED, *SQLITE_ONLY]) == []
