"""The servers bench_footprint measures, as processes of their own: how each is started, timed
to a healthy /healthz, read at rest, and stopped; and SQLite's write lock, held from outside."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.common import HOST, ROOT
from bench.footprint_readings import Memory, read_memory
from bot.slack.constants import HEALTH_PATH
from bot.standin.harness.processes import free_port, running_process

PROBE_DIR = ROOT / "bench" / "footprint_probe"
TRACE_OUT = "FOOTPRINT_TRACE_OUT"
# Polled this often, so that a start is timed to within about 10 ms.
POLL_S = 0.01
# serve binds its port before its start-up hooks run: a probe may wait in the backlog.
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=5.0)
# Traced by tracemalloc, a start takes several times as long.
HEALTHY_WITHIN_S = 120.0
# Stopping waits for the audit trail's last write (5 s at most) and replies still owed.
# Before memory is read: time for work started by the last request to end (the audit trail
# lingers 0.2 s), then for the garbage collection the probe runs on SIGUSR2.
SETTLE_S = 1.5
AFTER_GC_S = 0.3
LOG_TAIL = 2000


@dataclass(frozen=True, slots=True)
class Spec:
    """How to start one server: `python <arguments>` in `cwd` with `env`; `port_flag` when it
    takes its port as --port (bare Bolt) rather than from PORT (serve)."""

    name: str
    arguments: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    port_flag: bool = False

    def with_env(self, **extra: str) -> Spec:
        """The same server with `extra` in its environment."""
        return Spec(self.name, self.arguments, self.env | extra, self.cwd, self.port_flag)

    def probed(self, **extra: str) -> Spec:
        """The same server with the probe (bench/footprint_probe) loaded at its start."""
        paths = [str(PROBE_DIR), *filter(None, [self.env.get("PYTHONPATH")])]
        return self.with_env(PYTHONPATH=os.pathsep.join(paths), **extra)


@dataclass(slots=True)
class Launched:
    """A server started: its process, where it answers, when it was started (perf_counter),
    and the file its stderr goes to."""

    spec: Spec
    process: asyncio.subprocess.Process
    base_url: str
    started: float
    log: Path
    healthy_s: float | None = field(default=None)

    @property
    def pid(self) -> int:
        """The Python process itself (started directly, not through a shell)."""
        return self.process.pid

    def log_text(self) -> str:
        """All it has written to stderr so far."""
        return self.log.read_text(errors="replace")

    def failure(self, what: str) -> RuntimeError:
        """An error saying `what` went wrong, with the end of its stderr."""
        return RuntimeError(f"{self.spec.name} {what}:\n{self.log_text()[-LOG_TAIL:]}")


@contextlib.asynccontextmanager
async def launched(
    spec: Spec, log: Path, python_options: Sequence[str] = ()
) -> AsyncIterator[Launched]:
    """`spec` running on a free port, its stderr in `log`, until the block ends; then stopped
    as running_process stops a process."""
    port = free_port()
    arguments = [*spec.arguments, *(["--port", str(port)] if spec.port_flag else [])]
    env = spec.env | {"PORT": str(port)}
    with log.open("wb") as stderr:
        started = time.perf_counter()
        async with running_process(
            [sys.executable, *python_options, *arguments], env, cwd=spec.cwd, stderr=stderr
        ) as process:
            yield Launched(spec, process, f"http://{HOST}:{port}", started, log)


async def wait_healthy(
    session: aiohttp.ClientSession, server: Launched, within: float = HEALTHY_WITHIN_S
) -> float:
    """Seconds from the start of `server` to its first /healthz answering 200 with status ok."""
    url = server.base_url + HEALTH_PATH
    while True:
        if server.process.returncode is not None:
            raise server.failure(f"exited with status {server.process.returncode}")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
            async with session.get(url, timeout=PROBE_TIMEOUT) as answer:
                if answer.status == 200 and (await answer.json()).get("status") == "ok":
                    server.healthy_s = time.perf_counter() - server.started
                    return server.healthy_s
        if time.perf_counter() - server.started > within:
            raise server.failure(f"was not healthy within {within:g} s")
        await asyncio.sleep(POLL_S)


async def settled_memory(session: aiohttp.ClientSession, server: Launched) -> Memory:
    """Its resident memory once at rest: after SETTLE_S, and a collection by the probe."""
    await asyncio.sleep(SETTLE_S)
    server.process.send_signal(signal.SIGUSR2)
    # A request makes sure the loop has woken, and Python run the handler, before the reading.
    async with session.get(server.base_url + HEALTH_PATH, timeout=PROBE_TIMEOUT) as answer:
        await answer.read()
    await asyncio.sleep(AFTER_GC_S)
    return read_memory(server.pid)


async def write_trace(server: Launched, out: Path, within: float = 60.0) -> None:
    """Have the probe write its tracemalloc report to `out` (its FOOTPRINT_TRACE_OUT); wait."""
    server.process.send_signal(signal.SIGUSR1)
    deadline = time.perf_counter() + within
    while not await asyncio.to_thread(out.exists):
        if time.perf_counter() > deadline or server.process.returncode is not None:
            raise server.failure(f"wrote no tracemalloc report to {out}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def sqlite_write_lock(path: Path) -> AsyncIterator[None]:
    """SQLite's write lock on the database file `path`, held until the block ends: nobody
    else can write meanwhile (readers go on, the file being in WAL mode)."""

    def take() -> sqlite3.Connection:
        connection = sqlite3.connect(
            path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        connection.execute("BEGIN IMMEDIATE")
        return connection

    def give_back(connection: sqlite3.Connection) -> None:
        connection.execute("ROLLBACK")
        connection.close()

    # In worker threads, maybe two: taking the lock may wait for a write under way.
    connection = await asyncio.to_thread(take)
    try:
        yield
    finally:
        await asyncio.to_thread(give_back, connection)
