"""`python -m bot …` as a separate process: a command run to its end, or a serving replica."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp

from bot.slack.constants import HEALTH_PATH
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.slack.fake_slack import FakeSlack

STARTUP_S = 20.0


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def clean_env(**extra: str) -> dict[str, str]:
    """This environment less any setting of the bot's (ALIBABA_CLOUD_, CAMS_, SLACK_, ...),
    plus `extra`."""
    prefixes = (
        "ALIBABA_CLOUD_",
        "CAMS_",
        "SLACK_",
        "REDIS_",
        "SHUTDOWN_",
        "LOG_",
        "METRICS_",
        "DATABASE_",
        "AUDIT_",
        "ACCESS_",
        "ADMIN_",
    )
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)} | extra


def serve_env(cams_url: str, slack: FakeSlack, **extra: str) -> dict[str, str]:
    """What `serve` needs to run against an emulator and a fake Slack, plus `extra`."""
    return (
        clean_env(
            CAMS_ENDPOINT=cams_url,
            ALIBABA_CLOUD_ACCESS_KEY_ID=DEMO_CREDENTIALS.access_key_id,
            ALIBABA_CLOUD_ACCESS_KEY_SECRET=DEMO_CREDENTIALS.access_key_secret.reveal(),
            SLACK_API_URL=slack.api_url,
            SLACK_RESPONSE_URL_HOSTS=slack.reply_host,
        )
        | extra
    )


@dataclass
class Run:
    """How a command ended: its exit status and what it wrote."""

    code: int
    out: str
    err: str


async def run_bot(*args: str, env: Mapping[str, str], stdin: bytes | None = None) -> Run:
    """Run `python -m bot ARGS` to its end (a minute at most), with `stdin` piped in if given.

    It runs in a temporary working directory, where a default SQLite database would go.
    """
    with tempfile.TemporaryDirectory(prefix="flowpreview-run-") as home:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            env=dict(env),
            cwd=home,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


class ServeProcess:
    """One bot replica on its own port."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = dict(env) | {"PORT": str(self.port)}
        self._process: asyncio.subprocess.Process | None = None
        # Its working directory, where the default SQLite database goes: one per replica.
        self._home = tempfile.TemporaryDirectory(prefix="flowpreview-serve-")

    async def start(self, session: aiohttp.ClientSession) -> None:
        """Start it and wait until /healthz answers."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--host",
            "127.0.0.1",
            env=self._env,
            cwd=self._home.name,
            stderr=asyncio.subprocess.PIPE,
        )
        deadline = asyncio.get_running_loop().time() + STARTUP_S
        while await self.health(session) is None:
            if self._process.returncode is not None or asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"replica on {self.port} did not start")
            await asyncio.sleep(0.05)

    async def health(self, session: aiohttp.ClientSession) -> str | None:
        """The status /healthz reports, or None while it does not answer."""
        try:
            async with session.get(self.url + HEALTH_PATH) as response:
                status: str = (await response.json())["status"]
                return status
        except aiohttp.ClientConnectionError:
            return None

    def terminate(self) -> None:
        """Send SIGTERM, if it is still running."""
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)

    @property
    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self._process is not None and self._process.returncode is None

    async def stop(self, within: float = 30) -> tuple[int | None, bytes]:
        """SIGTERM, then its exit status and what it wrote to stderr (it must exit `within` s)."""
        if self._process is None:
            return None, b""
        self.terminate()
        _, err = await asyncio.wait_for(self._process.communicate(), timeout=within)
        self._home.cleanup()
        return self._process.returncode, err


@dataclass(frozen=True)
class EmulatorProcess:
    """`python -m bot emulator` running: its first line on stderr, and where it listens."""

    banner: bytes
    url: str


@contextlib.asynccontextmanager
async def emulator_process(*args: str, env: Mapping[str, str]) -> AsyncIterator[EmulatorProcess]:
    """Run `python -m bot emulator --port <free> *args` until the block ends.

    Yields once it answers: its banner comes out before it listens.
    """
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "emulator",
        "--port",
        str(port),
        *args,
        env=dict(env),
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        banner = await asyncio.wait_for(process.stderr.readline(), timeout=30)
        url = f"http://127.0.0.1:{port}"
        await _until_listening(url)
        yield EmulatorProcess(banner, url)
    finally:
        process.terminate()
        await process.wait()


async def _until_listening(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with session.get(f"{url}/_emulator/stats") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"the emulator at {url} never answered")
