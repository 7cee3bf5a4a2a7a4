"""What the benchmarks share: subprocesses, TLS files, asking for flows and tallying, reporting."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import trustme

from bot.cams.credentials import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN
from bot.cams.errors import CamsError, ErrorKind
from bot.preview.errors import Busy

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=1.0)
# Control calls are small and local; a stuck emulator should fail the run, not hang it.
CONTROL_TIMEOUT = aiohttp.ClientTimeout(total=30.0)
# Variables of ours that an inherited environment must not slip into a server or a replica:
# a REDIS_URL left exported would make them share a budget with whatever Redis it names.
OWN_PREFIXES = (
    "SLACK_",
    "CAMS_",
    "ALIBABA_CLOUD_",
    "REDIS_URL",
    "DATABASE_",
    "AUDIT_",
    "ACCESS_",
    "ADMIN_",
)
THROTTLED_OUTCOME = "Throttling.User"
# What an ask came to, as Asks counts it.
OK, THROTTLED, BUSY, OTHER = "ok", "throttled", "busy", "other"

Ask = Callable[[str], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A throwaway CA that clients trust, and the emulator's key and chain signed by it."""

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
    """The emulator's own account of what it received since its last reset."""

    counts: dict[str, int]
    by_flow: dict[str, int]
    received: int
    max_in_any_second: dict[str, int]
    arrivals: dict[str, list[float]]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> EmulatorStats:
        """Read the body of GET /_emulator/stats."""
        return cls(
            counts={str(k): int(v) for k, v in body["counts"].items()},
            by_flow={str(k): int(v) for k, v in body["by_flow"].items()},
            received=int(body["received"]),
            max_in_any_second={str(k): int(v) for k, v in body["max_in_any_second"].items()},
            arrivals={str(k): [float(t) for t in v] for k, v in body["arrivals"].items()},
        )


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
            throttled=stats.counts.get(THROTTLED_OUTCOME, 0),
            max_in_any_second=stats.max_in_any_second.get(account, 0),
            arrivals=stats.arrivals.get(account, []),
            by_flow=stats.by_flow,
        )

    @property
    def calls_per_s(self) -> float | None:
        """Calls per second between the first and last arrival; None with under two calls."""
        if len(self.arrivals) < 2 or self.arrivals[-1] <= self.arrivals[0]:
            return None
        return (len(self.arrivals) - 1) / (self.arrivals[-1] - self.arrivals[0])

    def to_json(self) -> dict[str, Any]:
        """The raw figures, arrivals as seconds after the first."""
        first = self.arrivals[0] if self.arrivals else 0.0
        return {
            "received": self.received,
            "ok": self.ok,
            "throttled": self.throttled,
            "max_in_any_second": self.max_in_any_second,
            "calls_per_s": self.calls_per_s,
            "by_flow": self.by_flow,
            "arrivals_s": [t - first for t in self.arrivals],
        }


class EmulatorControl:
    """The emulator's control endpoints, reached on a session of their own."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, port: int) -> None:
        self._session = session
        self.base_url = base_url
        self.port = port

    async def reset(self) -> None:
        """Forget everything the emulator has seen."""
        async with self._session.post(f"{self.base_url}/_emulator/reset") as response:
            response.raise_for_status()

    async def stats(self) -> EmulatorStats:
        """What the emulator has received since the last reset."""
        async with self._session.get(f"{self.base_url}/_emulator/stats") as response:
            response.raise_for_status()
            return EmulatorStats.from_json(await response.json())

    async def wait_until_ready(self, process: asyncio.subprocess.Process) -> None:
        """Return once the emulator answers; raise if it exits or stays silent too long."""
        await wait_until_answering(
            self._session, f"{self.base_url}/_emulator/stats", process, "the emulator"
        )


async def wait_until_answering(
    session: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process, name: str
) -> None:
    """Return once GET `url` answers 200; raise if `process` exits or stays silent too long."""
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode}")
        # Refused connections are expected until the process listens; a probe that hangs
        # (another program took the port) must not outlast the check that it exited.
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(url, timeout=PROBE_TIMEOUT) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{name} did not answer within {STARTUP_TIMEOUT_S:g}s")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def running_emulator(
    *, qps: int, tls: TlsFiles | None = None
) -> AsyncIterator[EmulatorControl]:
    """Run `python -m bot emulator` on a free port until the block ends, over https with `tls`.

    The emulator is a separate process so that its CPU is not counted as the client's.
    """
    port = free_port()
    command = ["-m", "bot", "emulator", "--host", HOST, "--port", str(port), "--qps", str(qps)]
    if tls is not None:
        command += ["--tls-cert", str(tls.server), "--tls-key", str(tls.server)]
    # Without an AccessKey in its environment the emulator accepts the demo key.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in (ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN)
    }
    async with python_process(command, env) as process:
        scheme = "http" if tls is None else "https"
        connector = aiohttp.TCPConnector(ssl=True if tls is None else tls.client_context())
        async with aiohttp.ClientSession(timeout=CONTROL_TIMEOUT, connector=connector) as session:
            control = EmulatorControl(session, f"{scheme}://{HOST}:{port}", port)
            await control.wait_until_ready(process)
            yield control


def inherited_env() -> dict[str, str]:
    """This process's environment less the variables of ours (OWN_PREFIXES)."""
    return {name: value for name, value in os.environ.items() if not name.startswith(OWN_PREFIXES)}


@contextlib.asynccontextmanager
async def python_process(
    arguments: Sequence[str], env: Mapping[str, str], *, pipes: bool = False
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run this Python with `arguments` from the project root until the block ends.

    See `running_process`.
    """
    async with running_process([sys.executable, *arguments], env, pipes=pipes) as process:
        yield process


@contextlib.asynccontextmanager
async def running_process(
    command: Sequence[str], env: Mapping[str, str], *, pipes: bool = False
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run `command` from the project root until the block ends.

    Its stderr is shared, so that a crash shows; its stdout is discarded, or with `pipes` it
    and stdin are pipes to this process. On exit it gets SIGTERM, and SIGKILL if it has not
    stopped within STOP_TIMEOUT_S.
    """
    stream = asyncio.subprocess.PIPE if pipes else asyncio.subprocess.DEVNULL
    process = await asyncio.create_subprocess_exec(
        *command, cwd=PROJECT_ROOT, env=dict(env), stdin=stream, stdout=stream
    )
    try:
        yield process
    finally:
        await _stop(process)


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user and system) that process `pid` has used so far; None where /proc is not.

    Read from /proc so that no dependency is needed; it counts in clock ticks (10 ms).
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces, so count fields after its end;
    # utime and stime are fields 14 and 15 of proc(5).
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float | None:
    """CPU time all processes on this machine have used so far; None where /proc is not.

    Beside the CPU time of the processes a benchmark knows, it tells how much went to others
    that share the machine and may have skewed the figures.
    """
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0]
    except OSError:
        return None
    # The "cpu" line of proc(5): user, nice, system, idle, iowait, irq, softirq, steal, ...;
    # all but idle and iowait is work done, guest time being counted within user already.
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, first.split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()


def versions(*distributions: str) -> dict[str, str]:
    """Python's version, aiohttp's, and those of `distributions`: what the figures depend on."""
    found = {"python": platform.python_version(), "aiohttp": aiohttp.__version__}
    return found | {name: version(name) for name in distributions}


def cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo, or None where there is none."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                return value.strip()
    return None


def machine(*distributions: str) -> dict[str, Any]:
    """The versions (see `versions`), the CPU count and model, for the raw figures."""
    return {"versions": versions(*distributions), "cpus": os.cpu_count(), "cpu_model": cpu_model()}


def describe_machine(*distributions: str) -> str:
    """One line of versions, the CPU count and model, for the top of a report."""
    listed = ", ".join(f"{name} {number}" for name, number in versions(*distributions).items())
    model = cpu_model()
    return f"{listed}; {os.cpu_count()} CPUs" + (f" ({model})" if model else "")


@dataclass(frozen=True, slots=True)
class Asks:
    """What callers saw: each ask's outcome (OK, THROTTLED, BUSY or OTHER) and its wait in s."""

    waits: list[float]
    outcomes: list[str]
    first_error: str | None
    wall_s: float

    @property
    def count(self) -> int:
        """How many asks were made."""
        return len(self.waits)

    @property
    def ok(self) -> int:
        """Asks answered with a preview."""
        return self.outcomes.count(OK)

    @property
    def throttled(self) -> int:
        """Asks that CAMS answered with throttling."""
        return self.outcomes.count(THROTTLED)

    @property
    def busy(self) -> int:
        """Asks refused as Busy: the budget was booked further ahead than they could wait."""
        return self.outcomes.count(BUSY)

    @property
    def other(self) -> int:
        """Asks that failed any other way."""
        return self.outcomes.count(OTHER)

    def to_json(self) -> dict[str, Any]:
        """The raw figures, every wait and outcome included."""
        return {
            "count": self.count,
            "ok": self.ok,
            "throttled": self.throttled,
            "busy": self.busy,
            "other": self.other,
            "first_error": self.first_error,
            "wall_s": self.wall_s,
            "p50_wait_s": percentile(self.waits, 50),
            "p99_wait_s": percentile(self.waits, 99),
            "waits_s": self.waits,
            "outcomes": self.outcomes,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Asks:
        """Read what `to_json` wrote."""
        return cls(
            waits=[float(w) for w in body["waits_s"]],
            outcomes=[str(o) for o in body["outcomes"]],
            first_error=None if body["first_error"] is None else str(body["first_error"]),
            wall_s=float(body["wall_s"]),
        )


async def ask_all(ask: Ask, flow_ids: Sequence[str], *, one_at_a_time: bool = False) -> Asks:
    """Ask for every flow in `flow_ids`, all at once or one after another, and tally them."""
    waits: list[float] = []
    outcomes: list[str] = []
    first_error: str | None = None

    async def one(flow_id: str) -> None:
        nonlocal first_error
        started = time.perf_counter()
        outcome = OK
        try:
            await ask(flow_id)
        except CamsError as error:
            outcome = THROTTLED if error.kind is ErrorKind.THROTTLED else OTHER
            if outcome == OTHER:
                first_error = first_error or repr(error)
        except Busy:
            outcome = BUSY
        except Exception as exc:
            outcome = OTHER
            first_error = first_error or f"{type(exc).__name__}: {exc}"
        waits.append(time.perf_counter() - started)
        outcomes.append(outcome)

    started = time.perf_counter()
    if one_at_a_time:
        for flow_id in flow_ids:
            await one(flow_id)
    else:
        async with asyncio.TaskGroup() as group:
            for flow_id in flow_ids:
                group.create_task(one(flow_id))
    return Asks(waits, outcomes, first_error, time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class Target:
    """A figure, what it must be, and whether it is."""

    description: str
    figure: str
    met: bool

    def to_json(self) -> dict[str, Any]:
        """The target as raw figures."""
        return {"target": self.description, "figure": self.figure, "met": self.met}


def targets_table(targets: Sequence[Target]) -> str:
    """flowpreview's targets with the figures and PASS or MISS."""
    return markdown_table(
        ["flowpreview target", "figure", "verdict"],
        [[t.description, t.figure, verdict(t.met)] for t in targets],
        align="lrl",
    )


def seconds(value: float | None) -> str:
    """A figure in seconds or per second, two decimals; n/a when there is none."""
    return "n/a" if value is None else f"{value:.2f}"


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank `p`th percentile of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> str:
    """A markdown table; `align` has one letter per column, l or r."""
    if len(align) != len(headers) or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r} does not fit {len(headers)} columns")
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
    ]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} does not have {len(headers)} cells")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def verdict(met: bool) -> str:
    """PASS or MISS."""
    return "PASS" if met else "MISS"


def progress(message: str) -> None:
    """Tell the person waiting what is running, on stderr so the tables stay clean."""
    print(message, file=sys.stderr, flush=True)


def write_json(path: Path, figures: dict[str, Any]) -> None:
    """Write `figures` to `path` as indented JSON."""
    path.write_text(json.dumps(figures, indent=2) + "\n")


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def positive_float(text: str) -> float:
    """argparse type: a number above 0."""
    number = float(text)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return number


def non_negative_float(text: str) -> float:
    """argparse type: a number of at least 0."""
    number = float(text)
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {text}")
    return number
