"""`serve` from start to stop: the port is bound before anything claims to listen, and
shutdown keeps its word (replies owed are finished or apologised for, and exit is bounded)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import aiohttp

from bot.slack.constants import EVENTS_PATH
from bot.standin.harness.emulator import RunningEmulator
from bot.standin.harness.postgres_server import PostgresServer
from bot.standin.harness.processes import ServeProcess, run_bot, serve_env
from bot.standin.harness.redis_server import RedisServer
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import running_fake_slack
from bot.standin.slack.signing import signed_headers
from tests.shared.shutdown import RESTARTED, SLOW, message_text

SECRET = "shutdown-secret"


async def test_sigterm_with_stalled_clients_exits_within_the_drain_and_apologises(
    cams: RunningEmulator,
) -> None:
    cams.fault(f"latency:60@flow:{SLOW}")
    async with running_fake_slack(bot_token="xoxb-shutdown") as slack, aiohttp.ClientSession() as s:
        env = serve_env(
            cams.url,
            slack,
            SLACK_BOT_TOKEN="xoxb-shutdown",
            SLACK_SIGNING_SECRET=SECRET,
            SHUTDOWN_DRAIN_S="1",
        )
        replica = ServeProcess(env)
        await replica.start(s)
        response_url = slack.new_response_url()
        body = payloads.slash_command(SLOW, response_url=response_url)
        async with s.post(
            replica.url + EVENTS_PATH, data=body, headers=signed_headers(SECRET, body)
        ) as answer:
            assert "Fetching the preview" in await answer.text()
        # Clients that hold connections: one idle, one mid-headers, one mid-body.
        stalled = [await asyncio.open_connection("127.0.0.1", replica.port) for _ in range(3)]
        head = (
            f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: bot\r\nContent-Length: {len(body)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in signed_headers(SECRET, body).items())
            + "\r\n"
        ).encode()
        stalled[1][1].write(head[:30])
        stalled[2][1].write(head + body[:10])
        started = time.monotonic()
        replica.terminate()
        refused = await _refused_while_draining(replica)
        # Drain 1 s plus the 5 s promised, with room for a busy machine; the old server took 60.
        code, err = await replica.stop(within=20)
        took = time.monotonic() - started
        delivery = await slack.next_response(response_url, within=5)
        for _, writer in stalled:
            writer.close()

    assert refused, "new connections are refused while the replies drain"
    assert code == 0
    assert took < 12, "drain 1 s + 5 s promised; a stalled client used to hold it for 60 s"
    assert RESTARTED in message_text(delivery.message)
    assert b"Traceback" not in err


async def _refused_while_draining(replica: ServeProcess) -> bool:
    """Whether a new connection is refused before the process exits (it drains for 1 s)."""
    while replica.running:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", replica.port)
        except ConnectionRefusedError:
            return True
        writer.close()
        await asyncio.sleep(0.02)
    return False


async def test_a_busy_port_is_reported_before_anything_says_it_is_listening(
    cams: RunningEmulator,
) -> None:
    async with running_fake_slack(bot_token="xoxb-busy") as slack:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            env = serve_env(
                cams.url,
                slack,
                SLACK_BOT_TOKEN="xoxb-busy",
                SLACK_SIGNING_SECRET=SECRET,
                PORT=str(port),
                LOG_LEVEL="DEBUG",
            )
            run = await run_bot("serve", "--host", "127.0.0.1", env=env)

    assert run.code == 2
    assert run.err.splitlines() == [
        f"flowpreview: PORT: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert not slack.api_calls


NOT_SHARED = "not shared between replicas"


async def _serve_log(cams: RunningEmulator, **extra: str) -> str:
    """What `serve` writes to stderr from start to a clean stop, with settings `extra`."""
    async with running_fake_slack(bot_token="xoxb-store") as slack, aiohttp.ClientSession() as s:
        env = serve_env(
            cams.url, slack, SLACK_BOT_TOKEN="xoxb-store", SLACK_SIGNING_SECRET=SECRET, **extra
        )
        replica = ServeProcess(env)
        await replica.start(s)
        code, err = await replica.stop()
    assert code == 0, err.decode()
    return err.decode()


async def test_replicas_on_redis_with_sqlite_are_warned_once_that_rules_are_not_shared(
    cams: RunningEmulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    # Without asyncpg, as where the postgres extra is not installed: SQLite needs none.
    (tmp_path / "asyncpg.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'asyncpg'\", name='asyncpg')\n",
        encoding="utf-8",
    )
    pythonpath = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    err = await _serve_log(cams, REDIS_URL=redis_server.url, PYTHONPATH=pythonpath)

    warnings = [line for line in err.splitlines() if NOT_SHARED in line]
    assert len(warnings) == 1, err
    assert "WARNING" in warnings[0]
    assert "access rules, channel spaces, Slack installs and the audit trail" in warnings[0]
    assert "DATABASE_URL" in warnings[0]
    assert "Traceback" not in err


async def test_replicas_sharing_postgresql_or_one_replica_on_sqlite_get_no_such_warning(
    cams: RunningEmulator, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    url = await postgres_server.create_database()
    try:
        shared = await _serve_log(cams, REDIS_URL=redis_server.url, DATABASE_URL=url)
    finally:
        await postgres_server.drop_database(url)
    alone = await _serve_log(cams)

    assert NOT_SHARED not in shared
    assert "database: postgresql+asyncpg://" in shared
    assert NOT_SHARED not in alone


async def test_a_start_with_one_workspace_logs_no_warning(cams: RunningEmulator) -> None:
    # Bolt, finding SLACK_BOT_TOKEN beside the client the bot hands it, warned at every start
    # that the token went unused.
    err = await _serve_log(cams)

    assert [line for line in err.splitlines() if "WARNING" in line] == []
    assert "listening on" in err
