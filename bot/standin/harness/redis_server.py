"""A real redis-server of the test's own on a free loopback port, to kill or freeze."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.standin.harness.processes import free_port

STARTUP_S = 10.0


class RedisServer:
    """One redis-server process keeping nothing on disk; `stop` and `start` simulate an outage."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; .ci/run installs it")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the server (empty, as after a restart) and wait until it answers PING."""
        self._process = await asyncio.create_subprocess_exec(
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url)
        deadline = asyncio.get_running_loop().time() + STARTUP_S
        try:
            while not await self._answers(client):
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not start")
                await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    @staticmethod
    async def _answers(client: Redis) -> bool:
        try:
            return bool(await client.ping())
        except RedisConnectionError:
            return False

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections still open, but nothing is answered."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a frozen server go on (SIGCONT)."""
        self._signal(signal.SIGCONT)

    def _signal(self, signum: signal.Signals) -> None:
        if self._process is None:
            raise RuntimeError("redis-server is not running")
        self._process.send_signal(signum)

    async def stop(self) -> None:
        """Kill the server at once, as a crash would (a frozen one too)."""
        if self._process is not None:
            self._process.kill()
            await self._process.wait()
            self._process = None


@asynccontextmanager
async def running_redis() -> AsyncIterator[RedisServer]:
    """A started RedisServer, killed at the end."""
    server = RedisServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
