"""The container's commands run as plain processes: the HEALTHCHECK against a real `serve`,
and the demo profile answering a person with no account anywhere."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from bot.standin.harness.emulator import RunningEmulator
from bot.standin.harness.postgres_server import PostgresServer
from bot.standin.harness.processes import ServeProcess, clean_env, free_port, run_bot, serve_env
from bot.standin.harness.redis_server import RedisServer
from bot.standin.slack.fake_slack import running_fake_slack
from tests.shared import container
from tests.shared.container import (
    FLOW,
    Instruction,
    healthcheck_command,
    in_profile,
    load_compose,
    service_environments,
    service_option,
)

# Fixtures defined once in tests/shared/container.py, bound here under the names tests take.
dockerfile = container.dockerfile
HEALTHCHECK_S = 30.0

STARTUP_S = 30.0


async def _run_check(command: Sequence[str], env: Mapping[str, str]) -> int:
    """Run the health check as Docker would, with this interpreter as `python`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        env=dict(env),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), timeout=HEALTHCHECK_S)


async def test_the_health_check_passes_against_serve_and_fails_with_nothing_there(
    dockerfile: list[Instruction], cams: RunningEmulator
) -> None:
    command = healthcheck_command(dockerfile)
    # A proxy that is not there: the check must not go through the bot's HTTP(S)_PROXY.
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    proxies = {name: dead_proxy for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy")}
    async with running_fake_slack() as slack, aiohttp.ClientSession() as session:
        env = serve_env(
            cams.url, slack, SLACK_BOT_TOKEN="xoxb-container", SLACK_SIGNING_SECRET="container"
        )
        replica = ServeProcess(env)
        await replica.start(session)
        try:
            healthy = await _run_check(command, clean_env(PORT=str(replica.port), **proxies))
        finally:
            await replica.stop()
        nobody = await _run_check(command, clean_env(PORT=str(free_port())))

    assert (healthy, nobody) == (0, 1)


def _remap(value: str, ports: Mapping[int, int]) -> str:
    """`value` with each port of the compose demo replaced by the test's own."""
    return re.sub(r"\b\d{2,5}\b", lambda m: str(ports.get(int(m[0]), m[0])), value)


@asynccontextmanager
async def _process(*args: str, env: Mapping[str, str]) -> AsyncIterator[None]:
    """`python -m bot ARGS` running until the block ends."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=dict(env), stderr=asyncio.subprocess.DEVNULL
    )
    try:
        yield
    finally:
        process.terminate()
        await process.wait()


async def _stats(session: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
    """The emulator's counts, or None while it does not answer."""
    try:
        async with session.get(f"{url}/_emulator/stats") as response:
            stats: dict[str, Any] = await response.json()
            return stats
    except aiohttp.ClientConnectionError:
        return None


async def _until_answering(session: aiohttp.ClientSession, url: str) -> None:
    """Wait until the emulator at `url` answers (STARTUP_S at most)."""
    for _ in range(int(STARTUP_S / 0.05)):
        if await _stats(session, url) is not None:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the emulator at {url} never answered")


async def test_the_demo_profile_answers_without_any_account(
    redis_server: RedisServer, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """compose.yaml's demo, its commands and environment as written, run as processes here
    (on ports of the test's own): two replicas on Redis and one PostgreSQL database, the
    emulator, the terminal."""
    compose = load_compose()
    demo = in_profile(compose, "demo")
    environments = service_environments(compose)
    replica_names = sorted(name for name in demo if "PORT" in environments[name])
    base = clean_env(TZ="UTC", TMPDIR=str(tmp_path))
    ports = {int(p): free_port() for p in service_option(demo["emulator"]["command"], "port")}
    ports |= {int(p): free_port() for p in service_option(demo["demo"]["command"], "slack-port")}
    database = await postgres_server.create_database()
    shared = {"REDIS_URL": redis_server.url, "DATABASE_URL": database}
    replicas: dict[str, ServeProcess] = {}
    for name in replica_names:
        env = {k: _remap(str(v), ports) for k, v in environments[name].items()}
        # ServeProcess sets PORT to a port of its own; the terminal is told about it below.
        replicas[name] = ServeProcess(base | env | shared)
        ports[int(str(environments[name]["PORT"]))] = replicas[name].port
    emulator_args = [_remap(arg, ports) for arg in demo["emulator"]["command"]]
    (cams_url,) = {_remap(str(environments[name]["CAMS_ENDPOINT"]), ports) for name in replicas}
    async with aiohttp.ClientSession() as session, _process(*emulator_args, env=base):
        await asyncio.gather(
            _until_answering(session, cams_url), *(r.start(session) for r in replicas.values())
        )
        try:
            command = [_remap(arg, ports) for arg in demo["demo"]["command"]]
            # Each run asks the first replica first, then the next: FLOW goes to one, then
            # (after the 404) to the other. A run ends once replies have stopped coming.
            first = await run_bot(*command, env=base, stdin=f"/flowpreview {FLOW}\n".encode())
            typed = f"/flowpreview 4040000000000000\n/flowpreview {FLOW}\n"
            second = await run_bot(*command, env=base, stdin=typed.encode())
            stats = await _stats(session, cams_url)
        finally:
            await asyncio.gather(*(r.stop() for r in replicas.values()))
            await postgres_server.drop_database(database)

    assert (first.code, second.code) == (0, 0), first.err + second.err
    assert "a fake Slack here, and the bots at http://127.0.0.1:" in first.out
    assert f"flows/{FLOW}/preview" in first.out
    assert "CAMS has no such flow in this space" in second.out
    assert f"flows/{FLOW}/preview" in second.out
    # Asked of each replica, fetched once: the second found it in the cache they share.
    assert stats is not None
    assert stats["by_flow"][FLOW] == 1


async def test_the_demos_slack_port_taken_is_one_line_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = await run_bot(
            "demo", f"--slack-port={port}", env=clean_env(TMPDIR=str(tmp_path)), stdin=b""
        )

    assert run.code == 2
    assert run.err == (
        f"flowpreview: --slack-port: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )
