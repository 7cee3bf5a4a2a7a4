"""What the benchmarks share: the command line, tables, targets and JSON; the emulator and the
servers under test as processes; CPU accounting; asking for previews and tallying outcomes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import operator
import os
import platform
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bot.cams.errors import CamsError, ErrorKind
from bot.preview.errors import BusyError
from bot.slack.constants import EVENTS_PATH, HEALTH_PATH
from bot.standin.harness.postgres_server import PostgresServer, start_postgres
from bot.standin.harness.processes import (
    EmulatorControl,
    free_port,
    running_process,
    serve_env,
    wait_until_answering,
)
from bot.standin.slack.fake_slack import FakeSlack

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
MS = 1000.0
# Slack shows an error when an answer has not come within 3 s; so do the benchmarks.
SLACK_TIMEOUT = aiohttp.ClientTimeout(total=3.0)
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
THROTTLED_OUTCOME = "Throttling.User"
# CAMS allows 5 calls per second per account and action; the budget's users must keep to it
# and still get 90% of it.
RATE = 5
RATE_TARGET = 4.5
# What an ask came to, as Asks counts it.
OK, THROTTLED, BUSY, OTHER = "ok", "throttled", "busy", "other"

Ask = Callable[[str], Awaitable[object]]


def parser(doc: str | None, module: str) -> argparse.ArgumentParser:
    """A benchmark's command line: described by its docstring's first line, with --json."""
    found = argparse.ArgumentParser(
        prog=f"python -m {module}", description=(doc or "").split("\n\n")[0]
    )
    found.add_argument("--json", type=Path, metavar="PATH", help="also write the raw figures here")
    return found


def _bounded(
    convert: Callable[[str], T], test: Callable[[T], bool], rule: str
) -> Callable[[str], T]:
    def read(text: str) -> T:
        number = convert(text)
        if not test(number):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return number

    return read


# argparse types.
positive_int = _bounded(int, lambda n: n >= 1, "at least 1")
positive_float = _bounded(float, lambda n: n > 0, "above 0")
non_negative_float = _bounded(float, lambda n: n >= 0, "at least 0")


def measured(run: Coroutine[Any, Any, T]) -> T:
    """Run a benchmark's measurements, telling how long they took."""
    started = time.perf_counter()
    result = asyncio.run(run)
    progress(f"done in {time.perf_counter() - started:.0f}s")
    return result


def finish(
    args: argparse.Namespace, doc: str | None, report: str, raw: object, ok: bool, *packages: str
) -> int:
    """Print the report under `doc`'s first line, write the `raw` figures if asked; the exit
    status, 1 unless `ok`."""
    title = (doc or "").split("\n", 1)[0].rstrip(".")
    print(f"# {title}\n\n{describe_machine(*packages)}\n\n{report}")
    if args.json is not None:
        figures = {"machine": machine(*packages), "settings": vars(args), "figures": raw}
        args.json.write_text(json.dumps(jsonable(figures), indent=2, default=str) + "\n")
    return 0 if ok else 1


def jsonable(value: object) -> object:
    """`value` for json.dumps: a dataclass as its fields and its properties, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        named = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        for name, member in vars(type(value)).items():
            if isinstance(member, property):
                named[name] = getattr(value, name)
        value = named
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def progress(message: str) -> None:
    """Tell the person waiting what is running, on stderr so the tables stay clean."""
    print(message, file=sys.stderr, flush=True)


def machine(*distributions: str) -> dict[str, Any]:
    """Python's, aiohttp's and `distributions`' versions, the CPU count and model."""
    versions = {"python": platform.python_version(), "aiohttp": aiohttp.__version__}
    model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                model = value.strip()
                break
    versions |= {name: version(name) for name in distributions}
    return {"versions": versions, "cpus": os.cpu_count(), "cpu_model": model}


def describe_machine(*distributions: str) -> str:
    """One line of versions, the CPU count and model, for the top of a report."""
    found = machine(*distributions)
    listed = ", ".join(f"{name} {number}" for name, number in found["versions"].items())
    model = f" ({found['cpu_model']})" if found["cpu_model"] else ""
    return f"{listed}; {found['cpus']} CPUs{model}"


def markdown_table(
    headers: str, rows: Iterable[Sequence[str] | str], align: str | None = None
) -> str:
    """A markdown table of rows as "a | b" or cells; `align`: l or r a column (default lrr...)."""
    names = headers.split(" | ")
    align = align or "l" + "r" * (len(names) - 1)
    if len(align) != len(names) or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r} does not fit {len(names)} columns")
    lines = [f"| {headers} |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    for row in rows:
        cells = row.split(" | ") if isinstance(row, str) else row
        if len(cells) != len(names):
            raise ValueError(f"row {row!r} does not have {len(names)} cells")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(met: bool) -> str:
    """PASS or MISS."""
    return "PASS" if met else "MISS"


@dataclass(frozen=True, slots=True)
class Target:
    """A figure, what it must be, and whether it is."""

    description: str
    figure: str
    met: bool


def target(what: str, figure: float | None, rule: str, bound: float, unit: str = "") -> Target:
    """The Target "`what` `rule` `bound``unit`" (rule one of <=, <, >=, =), met when the figure
    is known and keeps the rule; floats are shown with two decimals, counts as they are."""
    shown = f"{figure:,}" if isinstance(figure, int) else fixed(figure)
    keeps = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, "=": operator.eq}[rule]
    met = figure is not None and bool(keeps(figure, bound))
    return Target(f"{what} {rule} {bound:g}{unit}", f"{shown}{unit}", met)


def budget_targets(label: str, busiest: int, per_s: float | None, throttled: int) -> list[Target]:
    """The account budget's targets, on what the emulator saw."""
    return [
        target(f"{label}max calls in any 1 s at the server", busiest, "<=", RATE),
        target(f"{label}calls/s at the server", per_s, ">=", RATE_TARGET),
        target(f"{label}throttled answers", throttled, "=", 0),
    ]


def targets_table(targets: Sequence[Target]) -> str:
    """flowpreview's targets with the figures and PASS or MISS."""
    rows = [[t.description, t.figure, verdict(t.met)] for t in targets]
    return markdown_table("flowpreview target | figure | verdict", rows, "lrl")


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank `p`th percentile of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def quantiles(values: Sequence[float], *ps: float, scale: float = 1.0) -> str:
    """Markdown cells of `values`' `ps`th percentiles (100: the largest) times `scale`."""
    return " | ".join(fixed(percentile(values, p) * scale) for p in ps)


def fixed(value: float | None) -> str:
    """A figure (seconds, ms, per second) with two decimals; n/a when there is none."""
    return "n/a" if value is None else f"{value:.2f}"


def share(value: float | None) -> str:
    """A share of one core as a percentage, or n/a."""
    return "n/a" if value is None else f"{value * 100:.0f}%"


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user and system) process `pid` has used so far; None where /proc is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces, so count fields after its end;
    # utime and stime are fields 14 and 15 of proc(5).
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float | None:
    """CPU time all processes on this machine have used so far; None where /proc is not."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0]
    except OSError:
        return None
    # The "cpu" line of proc(5): user, nice, system, idle, iowait, irq, softirq, steal, ...;
    # all but idle and iowait is work done, guest time being counted within user already.
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, first.split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _used(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


@dataclass(frozen=True, slots=True)
class CpuUse:
    """CPU seconds over one measurement: this process's, each watched process's (None where
    /proc does not tell), and the whole machine's, which shows load that may skew figures."""

    wall_s: float
    this_s: float
    watched_s: tuple[float | None, ...]
    machine_s: float | None

    @property
    def others_busy(self) -> float | None:
        """Cores' worth of CPU every other process used meanwhile, where /proc tells."""
        if self.machine_s is None or None in self.watched_s:
            return None
        # The counts are in 10 ms ticks, so an idle rest can come out a little below zero.
        rest = self.machine_s - self.this_s - sum(s or 0.0 for s in self.watched_s)
        return max(0.0, rest) / self.wall_s


class CpuMeter:
    """Counts CPU time from its making to `stop`, for this process and the `pids` given."""

    def __init__(self, *pids: int) -> None:
        self._pids = pids
        self._machine = machine_cpu_seconds()
        self._watched = [process_cpu_seconds(pid) for pid in pids]
        self._this = time.process_time()
        self._started = time.perf_counter()

    def stop(self) -> CpuUse:
        """What was used since the meter was made."""
        wall_s = time.perf_counter() - self._started
        this_s = time.process_time() - self._this
        watched = [process_cpu_seconds(pid) for pid in self._pids]
        used = tuple(_used(a, b) for a, b in zip(self._watched, watched, strict=True))
        return CpuUse(wall_s, this_s, used, _used(self._machine, machine_cpu_seconds()))


def python_process(
    arguments: Sequence[str], env: dict[str, str], *, pipes: bool = False
) -> contextlib.AbstractAsyncContextManager[asyncio.subprocess.Process]:
    """This Python run with `arguments` from the project root until the block ends."""
    return running_process([sys.executable, *arguments], env, pipes=pipes, cwd=ROOT)


@dataclass(frozen=True, slots=True)
class Server:
    """A server under test, and what its answers must hold by flow ID (none: any 200)."""

    name: str
    base_url: str
    pid: int
    expected: dict[str, bytes]

    @property
    def events_url(self) -> str:
        """Where Slack POSTs its requests."""
        return self.base_url + EVENTS_PATH


def server_env(fake: FakeSlack, emulator: EmulatorControl, **extra: str) -> dict[str, str]:
    """A server's environment, on a free PORT, against the fake Slack and the emulator."""
    return serve_env(
        emulator.url,
        fake,
        PORT=str(free_port()),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        LOG_LEVEL="WARNING",
        **extra,
    )


@contextlib.asynccontextmanager
async def running_server(
    name: str,
    arguments: Sequence[str],
    env: dict[str, str],
    session: aiohttp.ClientSession,
    expected: dict[str, bytes] | None = None,
) -> AsyncIterator[Server]:
    """`python <arguments>` serving on env's PORT until the block ends; yielded once up."""
    async with python_process(arguments, env) as process:
        base_url = f"http://{HOST}:{env['PORT']}"
        await wait_until_answering(session, base_url + HEALTH_PATH, process, name)
        yield Server(name, base_url, process.pid, expected or {})


async def open_loop(
    count: int, rate: float, send: Callable[[int], Awaitable[T]]
) -> list[tuple[float, T]]:
    """`send(0)` to `send(count - 1)` at fixed times, `rate` a second, whatever the answers do.

    Each result comes with its latency from its scheduled time, not the actual send: any lag
    of this process's own is charged too, which can only make the figures worse.
    """
    loop = asyncio.get_running_loop()
    results: list[tuple[float, T] | None] = [None] * count

    async def one(at: int, scheduled: float) -> None:
        result = await send(at)
        results[at] = (loop.time() - scheduled, result)

    start = loop.time()
    async with asyncio.TaskGroup() as group:
        for at in range(count):
            scheduled = start + at / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            group.create_task(one(at, scheduled))
    return [result for result in results if result is not None]


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
    def busy(self) -> int:
        """Asks refused as busy (BusyError): booked further ahead than they could wait."""
        return self.outcomes.count(BUSY)

    @property
    def other(self) -> int:
        """Asks that failed any other way than throttling or BusyError."""
        return self.outcomes.count(OTHER)


def outcome_of(error: Exception) -> str:
    """What an ask that raised `error` came to."""
    if isinstance(error, BusyError):
        return BUSY
    if isinstance(error, CamsError) and error.kind is ErrorKind.THROTTLED:
        return THROTTLED
    return OTHER


async def ask_all(ask: Ask, flow_ids: Sequence[str], *, one_at_a_time: bool = False) -> Asks:
    """Ask for every flow in `flow_ids`, all at once or one after another, and tally them."""
    waits: list[float] = []
    outcomes: list[str] = []
    errors: list[str] = []

    async def one(flow_id: str) -> None:
        started = time.perf_counter()
        outcome = OK
        try:
            await ask(flow_id)
        except Exception as error:
            outcome = outcome_of(error)
            if outcome == OTHER:
                errors.append(f"{type(error).__name__}: {error}")
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
    return Asks(waits, outcomes, errors[0] if errors else None, time.perf_counter() - started)


async def get_flow_calls(emulator: EmulatorControl) -> dict[str, int]:
    """GetFlow calls the emulator has received per flow ID since its last reset."""
    async with emulator.session.get(f"{emulator.url}/_emulator/stats") as response:
        response.raise_for_status()
        body = await response.json()
    calls: dict[str, int] = body["get_flow_by_flow"]
    return calls


@contextlib.asynccontextmanager
async def postgres() -> AsyncIterator[str]:
    """A PostgreSQL server of the benchmark's own, and the URL of an empty database on it."""
    server: PostgresServer = await asyncio.to_thread(start_postgres)
    try:
        yield await server.create_database()
    finally:
        await asyncio.to_thread(server.stop)
