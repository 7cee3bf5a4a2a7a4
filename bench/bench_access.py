"""Benchmark what the access check and the audit write add to a cached preview, on PostgreSQL.

Run from the project root::

    python -m bench.bench_access [--requests N] [--workers N] [--rules N] [--json PATH]

Two copies of the bot's web application run in this process, each on its own loopback port with
its own emulator and fake Slack (bot/standin/harness/slack_bot.py), answering signed `/flowpreview
<flow-id>` commands from the preview cache:

- "with the store": the audit trail and access rules on a PostgreSQL server of the bench's own
  (initdb in a temporary folder, as the tests start theirs), with --rules allow rules spread
  over 20 spaces besides the one asked about (which admits the asker's channel), and the
  person's users.info answer cached, as it is after their first ask;
- "without the store": the same application with no store, so no check and no record: the
  path before issue 11.

Both are warmed first (one command each). Then --requests commands go one at a time,
alternating between the two, so that both see the same machine; then --workers concurrent
workers send commands to each in turn for a few seconds. Each latency runs from the send to
the last byte of the answer. At the end every command given must be on the audit trail
(flushed), with nothing dropped.

Target: the store's p99 at most 1 ms above the path without it, one at a time. The exit status
is 1 when the target is missed or any answer or record is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.support import (
    Target,
    describe_machine,
    machine,
    markdown_table,
    percentile,
    positive_float,
    positive_int,
    progress,
    targets_table,
    write_json,
)
from bot.access.ids import Kind
from bot.access.settings import AccessSettings
from bot.slack.constants import EVENTS_PATH
from bot.standin.harness.postgres_server import start_postgres
from bot.standin.harness.slack_bot import SIGNING_SECRET, Bot, running_bot
from bot.standin.slack import payloads
from bot.standin.slack.signing import signed_headers
from bot.store.settings import StoreSettings
from bot.store.store import Store

FLOW = "1234567890123456"
SPACE = "cams-demo"
MS = 1000.0
# What the access check and the audit write may add to a cached preview's p99.
ADDED_P99_TARGET_MS = 1.0
FLUSH_S = 60.0
WITH, WITHOUT = "with the store", "without the store"


@dataclass
class Run:
    """Latencies of one server at one load."""

    server: str
    load: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    wall_s: float = 0.0

    def ms(self, p: float) -> float:
        """The p-th percentile latency, in milliseconds."""
        return percentile(self.latencies, p) * MS

    def to_json(self) -> dict[str, Any]:
        """The run as raw figures."""
        return {
            "server": self.server,
            "load": self.load,
            "requests": len(self.latencies),
            "failures": self.failures,
            "per_s": len(self.latencies) / self.wall_s if self.wall_s else None,
            "p50_ms": self.ms(50),
            "p99_ms": self.ms(99),
            "max_ms": max(self.latencies) * MS,
        }


async def ask(bot: Bot, expected: str) -> float | None:
    """One signed command; its latency, or None when the answer is not the preview."""
    body = payloads.slash_command(FLOW, response_url=bot.slack.new_response_url())
    headers = signed_headers(SIGNING_SECRET, body)
    started = time.perf_counter()
    async with bot.session.post(bot.url + EVENTS_PATH, data=body, headers=headers) as answer:
        text = await answer.text()
    took = time.perf_counter() - started
    return took if answer.status == 200 and expected in text else None


async def one_at_a_time(bots: dict[str, Bot], requests: int) -> dict[str, Run]:
    """`requests` commands to each server, alternating, one in flight at a time."""
    runs = {name: Run(name, "one at a time") for name in bots}
    started = time.perf_counter()
    for _ in range(requests):
        for name, bot in bots.items():
            took = await ask(bot, f"flows/{FLOW}/preview")
            if took is None:
                runs[name].failures += 1
            else:
                runs[name].latencies.append(took)
    for run in runs.values():
        run.wall_s = time.perf_counter() - started
    return runs


async def concurrent(bot: Bot, name: str, workers: int, duration: float) -> Run:
    """`workers` workers sending commands back to back for `duration` seconds."""
    run = Run(name, f"{workers} workers")
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        while time.perf_counter() < deadline:
            took = await ask(bot, f"flows/{FLOW}/preview")
            if took is None:
                run.failures += 1
            else:
                run.latencies.append(took)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    run.wall_s = time.perf_counter() - started
    return run


@asynccontextmanager
async def guarded(database_url: str, rules: int) -> AsyncIterator[tuple[Bot, Store]]:
    """The bot with its store on `database_url`, and `rules` rules besides the one that admits
    the asker's channel to the space asked about."""
    store = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    async with running_bot(store=store, access=AccessSettings(), default_space=SPACE) as bot:
        assert bot.gate is not None
        book = bot.gate.book
        await book.allow(SPACE, Kind.CHANNEL, [payloads.DEFAULT_WHO.channel_id], by="bench")
        for index in range(rules):
            await book.allow(f"space-{index % 20}", Kind.USER, [f"U{index:08d}"], by="bench")
        yield bot, store


async def measure(args: argparse.Namespace) -> tuple[dict[str, Run], list[Run], Store]:
    """Start PostgreSQL and both servers, warm them, and measure."""
    server = start_postgres()
    try:
        async with AsyncExitStack() as stack:
            database_url = await server.create_database()
            ours, store = await stack.enter_async_context(guarded(database_url, args.rules))
            bare = await stack.enter_async_context(running_bot(default_space=SPACE))
            bots = {WITH: ours, WITHOUT: bare}
            progress("warming both ...")
            for bot in bots.values():
                assert await ask(bot, f"flows/{FLOW}/preview") is not None, "warm-up failed"
            progress(f"{args.requests} commands each, one at a time ...")
            sequential = await one_at_a_time(bots, args.requests)
            loaded: list[Run] = []
            for name, bot in bots.items():
                progress(f"{name}: {args.workers} workers for {args.duration:g} s ...")
                loaded.append(await concurrent(bot, name, args.workers, args.duration))
            assert await store.audit.flush(FLUSH_S), "the audit trail did not catch up"
            return sequential, loaded, store
    finally:
        server.stop()


def render(sequential: dict[str, Run], loaded: Sequence[Run], targets: Sequence[Target]) -> str:
    """The tables."""
    headers = ["server", "load", "requests", "errors", "answered/s", "p50 ms", "p99 ms", "max ms"]
    rows = [
        [
            run.server,
            run.load,
            f"{len(run.latencies):,}",
            f"{run.failures:,}",
            f"{len(run.latencies) / run.wall_s:,.0f}" if run.load != "one at a time" else "n/a",
            f"{run.ms(50):.2f}",
            f"{run.ms(99):.2f}",
            f"{max(run.latencies) * MS:.2f}",
        ]
        for run in (*sequential.values(), *loaded)
    ]
    return "\n\n".join(
        [
            "# Access check and audit write on a cached preview (PostgreSQL)",
            describe_machine("sqlalchemy", "asyncpg", "slack-bolt"),
            markdown_table(headers, rows, "llrrrrrr"),
            "## Targets",
            targets_table(targets),
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_access",
        description="What the access check and audit write add to a cached preview.",
    )
    parser.add_argument(
        "--requests", type=positive_int, default=3000, help="commands to each, one at a time"
    )
    parser.add_argument("--workers", type=positive_int, default=16, help="concurrent workers")
    parser.add_argument(
        "--duration", type=positive_float, default=5.0, help="seconds of concurrent load each"
    )
    parser.add_argument(
        "--rules", type=positive_int, default=1000, help="rules in the book besides the one used"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the raw figures here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables; exit status 1 when the target is missed."""
    args = parse_args(argv)
    sequential, loaded, store = asyncio.run(measure(args))
    given = sum(len(run.latencies) for run in (*sequential.values(), *loaded) if run.server == WITH)
    added = sequential[WITH].ms(99) - sequential[WITHOUT].ms(99)
    failures = sum(run.failures for run in (*sequential.values(), *loaded))
    targets = [
        Target(
            f"p99 added by the access check and audit write <= {ADDED_P99_TARGET_MS:g} ms",
            f"{added:+.2f} ms ({sequential[WITH].ms(99):.2f} against "
            f"{sequential[WITHOUT].ms(99):.2f})",
            added <= ADDED_P99_TARGET_MS,
        ),
        Target(
            "every preview given is on the audit trail, none dropped",
            f"{store.audit.written:,} written of {given + 1:,} given, "
            f"{store.audit.dropped} dropped",
            store.audit.written == given + 1 and store.audit.dropped == 0,
        ),
        Target("no wrong answer", f"{failures} wrong", failures == 0),
    ]
    print(render(sequential, loaded, targets))
    if args.json is not None:
        write_json(
            args.json,
            {
                **machine("sqlalchemy", "asyncpg", "slack-bolt"),
                "settings": vars(args) | {"json": str(args.json)},
                "runs": [run.to_json() for run in (*sequential.values(), *loaded)],
                "targets": [target.to_json() for target in targets],
            },
        )
    return 0 if all(target.met for target in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
