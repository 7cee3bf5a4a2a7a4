"""Separate processes: `python -m bot …` run to its end or serving, and any command until a
block ends."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import ssl
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import aiohttp
import trustme

from bot.slack.constants import HEALTH_PATH
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.slack.fake_slack import FakeSlack

HOST = "127.0.0.1"
STARTUP_S = 20.0
STOP_S = 5.0
# One probe may not outlast the check that the process is still running.
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=1.0)


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
    """One bot replica on its own port.

    `interpreter` options go to Python before `-m bot` (`-X importtime`, say). Its working
    directory, where the default SQLite database goes, is `home` when given (kept after it
    stops, so that another replica may start on the same database), else a new one of its own.
    """

    def __init__(
        self, env: Mapping[str, str], *, interpreter: Sequence[str] = (), home: str | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = dict(env) | {"PORT": str(self.port)}
        self._interpreter = tuple(interpreter)
        self._process: asyncio.subprocess.Process | None = None
        self._own_home = (
            tempfile.TemporaryDirectory(prefix="flowpreview-serve-") if home is None else None
        )
        self.home = home if self._own_home is None else self._own_home.name

    async def start(self, session: aiohttp.ClientSession) -> None:
        """Start it and wait until /healthz answers."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            *self._interpreter,
            "-m",
            "bot",
            "serve",
            "--host",
            "127.0.0.1",
            env=self._env,
            cwd=self.home,
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
        if self._own_home is not None:
            self._own_home.cleanup()
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


@contextlib.asynccontextmanager
async def running_process(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    pipes: bool = False,
    cwd: Path | None = None,
    stderr: IO[bytes] | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run `command` until the block ends; then SIGTERM, and SIGKILL after STOP_S.

    Its stderr goes to `stderr`, else it is shared, so that a crash shows; its stdout is
    discarded, or with `pipes` it and stdin are pipes to this process.
    """
    stream = asyncio.subprocess.PIPE if pipes else asyncio.subprocess.DEVNULL
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, env=dict(env), stdin=stream, stdout=stream, stderr=stderr
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_S)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_until_answering(
    session: aiohttp.ClientSession,
    url: str,
    process: asyncio.subprocess.Process,
    name: str,
    within: float = STARTUP_S,
) -> None:
    """Return once GET `url` answers 200; raise if `process` exits or stays silent `within` s."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode}")
        # Refused until it listens; a probe that hangs (another program took the port) is
        # cut short.
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(url, timeout=PROBE_TIMEOUT) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{name} did not answer within {within:g}s")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A throwaway CA that clients trust, and a server key and chain for HOST signed by it."""

    ca: Path
    server: Path

    @classmethod
    def create(cls, directory: Path) -> TlsFiles:
        """Write a fresh CA and a certificate for HOST into `directory`."""
        authority = trustme.CA()
        files = cls(ca=directory / "ca.pem", server=directory / "server.pem")
        authority.cert_pem.write_to_path(str(files.ca))
        authority.issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(str(files.server))
        return files

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA."""
        return ssl.create_default_context(cafile=str(self.ca))


@dataclass(frozen=True, slots=True)
class EmulatorStats:
    """GET /_emulator/stats: what the emulator received since its last reset."""

    counts: dict[str, int]
    by_flow: dict[str, int]
    received: int
    max_in_any_second: dict[str, int]
    arrivals: dict[str, list[float]]


def calls_per_s(arrivals: Sequence[float]) -> float | None:
    """Calls per second between the first and last of `arrivals`; None with under two."""
    if len(arrivals) < 2 or arrivals[-1] <= arrivals[0]:
        return None
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


@dataclass(frozen=True, slots=True)
class ServerView:
    """What the emulator received from one account since its last reset."""

    received: int
    ok: int
    throttled: int
    max_in_any_second: int
    arrivals: list[float]
    by_flow: dict[str, int]

    @classmethod
    def from_stats(cls, stats: EmulatorStats, account: str) -> ServerView:
        """Pick `account`'s figures out of the emulator's stats."""
        return cls(
            received=stats.received,
            ok=stats.counts.get("OK", 0),
            throttled=stats.counts.get("Throttling.User", 0),
            max_in_any_second=stats.max_in_any_second.get(account, 0),
            arrivals=stats.arrivals.get(account, []),
            by_flow=stats.by_flow,
        )

    @property
    def calls_per_s(self) -> float | None:
        """Calls per second between the first and last arrival; None with under two calls."""
        return calls_per_s(self.arrivals)


@dataclass(frozen=True, slots=True)
class EmulatorControl:
    """`python -m bot emulator` in a process of its own: where it is, and its controls."""

    url: str
    port: int
    pid: int
    session: aiohttp.ClientSession

    async def reset(self) -> None:
        """Forget everything the emulator has seen."""
        async with self.session.post(f"{self.url}/_emulator/reset") as response:
            response.raise_for_status()

    async def stats(self) -> EmulatorStats:
        """What the emulator has received since the last reset."""
        async with self.session.get(f"{self.url}/_emulator/stats") as response:
            response.raise_for_status()
            body = await response.json()
        return EmulatorStats(**{f.name: body[f.name] for f in dataclasses.fields(EmulatorStats)})

    async def faults(self, *rules: str) -> None:
        """Replace the fault rules."""
        async with self.session.put(f"{self.url}/_emulator/faults", json={"rules": rules}) as put:
            put.raise_for_status()

    async def set_status(
        self, flow_id: str, status: str | None, space: str | None = None
    ) -> dict[str, Any]:
        """Give the flow `status` (remove it, when None) over the control route; its new state."""
        body: dict[str, Any] = {"status": status} if status is not None else {"removed": True}
        if space is not None:
            body["space"] = space
        async with self.session.put(
            f"{self.url}/_emulator/flows/{quote(flow_id, safe='')}/status", json=body
        ) as put:
            put.raise_for_status()
            state: dict[str, Any] = await put.json()
        return state


@contextlib.asynccontextmanager
async def controlled_emulator(
    *args: str, tls: TlsFiles | None = None, within: float = STARTUP_S
) -> AsyncIterator[EmulatorControl]:
    """`python -m bot emulator --port <free> *args` until the block ends, https with `tls`.

    With no AccessKey in its environment (clean_env drops ours) it takes the demo key. Its
    stderr is shared; control calls that hang fail after 30 s rather than hang the caller.
    """
    port = free_port()
    command = [sys.executable, "-m", "bot", "emulator", "--host", HOST, "--port", str(port)]
    if tls is not None:
        command += ["--tls-cert", str(tls.server), "--tls-key", str(tls.server)]
    url = f"{'http' if tls is None else 'https'}://{HOST}:{port}"
    connector = aiohttp.TCPConnector(ssl=True if tls is None else tls.client_context())
    timeout = aiohttp.ClientTimeout(total=30.0)
    async with (
        running_process([*command, *args], clean_env()) as process,
        aiohttp.ClientSession(timeout=timeout, connector=connector) as session,
    ):
        await wait_until_answering(
            session, f"{url}/_emulator/stats", process, "the emulator", within
        )
        yield EmulatorControl(url, port, process.pid, session)
