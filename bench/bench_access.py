"""What the access check and the audit write add to a cached preview, on PostgreSQL.

The bot's application with the store (PostgreSQL, --rules rules) and without it, in this
process (bot/standin/harness/slack_bot.py), commands alternating one at a time, then under
--workers workers. Targets: at most 1 ms added to the p99, every preview on the audit trail.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from bench.common import (
    MS,
    Target,
    finish,
    markdown_table,
    measured,
    parser,
    percentile,
    positive_float,
    positive_int,
    progress,
    quantiles,
    targets_table,
)
from bot.access.ids import Kind
from bot.access.settings import AccessSettings
from bot.standin.harness.postgres_server import start_postgres
from bot.standin.harness.slack_bot import Bot, running_bot
from bot.standin.slack import payloads
from bot.store.settings import StoreSettings
from bot.store.store import Store

FLOW = "1234567890123456"
SPACE = "cams-demo"
# What the access check and the audit write may add to a cached preview's p99.
ADDED_P99_TARGET_MS = 1.0
FLUSH_S = 60.0
WITH, WITHOUT = "with the store", "without the store"
DISTRIBUTIONS = ("asyncpg", "slack-bolt")


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

    async def ask(self, bot: Bot) -> bool:
        """One signed command, its latency kept; False when the answer is not the preview."""
        answer, _ = await bot.command(FLOW)
        if answer.status != 200 or f"flows/{FLOW}/preview" not in answer.body:
            self.failures += 1
            return False
        self.latencies.append(answer.seconds)
        return True


async def one_at_a_time(bots: dict[str, Bot], requests: int) -> dict[str, Run]:
    """`requests` commands to each server, alternating, one in flight at a time."""
    runs = {name: Run(name, "one at a time") for name in bots}
    started = time.perf_counter()
    for _ in range(requests):
        for name, bot in bots.items():
            await runs[name].ask(bot)
    for run in runs.values():
        run.wall_s = time.perf_counter() - started
    return runs


async def concurrent(bot: Bot, name: str, workers: int, duration: float) -> Run:
    """`workers` workers sending commands back to back for `duration` seconds."""
    run = Run(name, f"{workers} workers")
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await run.ask(bot)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    run.wall_s = time.perf_counter() - started
    return run


@asynccontextmanager
async def guarded(database_url: str, rules: int) -> AsyncIterator[tuple[Bot, Store]]:
    """The bot with its store on `database_url`: `rules` rules besides the asker's channel's."""
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
                assert await Run("", "warm-up").ask(bot), "warm-up failed"
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


def main() -> int:
    """Run the benchmark and print the tables; exit status 1 when a target is missed."""
    cli = parser(__doc__, "bench.bench_access")
    cli.add_argument("--requests", type=positive_int, default=3000, help="to each, one at a time")
    cli.add_argument("--workers", type=positive_int, default=16, help="concurrent workers")
    cli.add_argument("--duration", type=positive_float, default=5.0, help="s of load each")
    cli.add_argument("--rules", type=positive_int, default=1000, help="besides the one used")
    args = cli.parse_args()
    sequential, loaded, store = measured(measure(args))
    runs = [*sequential.values(), *loaded]
    given = sum(len(run.latencies) for run in runs if run.server == WITH)
    added = sequential[WITH].ms(99) - sequential[WITHOUT].ms(99)
    failures = sum(run.failures for run in runs)
    written, dropped = store.audit.written, store.audit.dropped
    targets = [
        Target(
            f"p99 added by the access check and audit write <= {ADDED_P99_TARGET_MS:g} ms",
            f"{added:+.2f} ms ({sequential[WITH].ms(99):.2f} against "
            f"{sequential[WITHOUT].ms(99):.2f})",
            added <= ADDED_P99_TARGET_MS,
        ),
        Target(
            "every preview given is on the audit trail, none dropped",
            f"{written:,} written of {given + 1:,} given, {dropped} dropped",
            written == given + 1 and dropped == 0,
        ),
        Target("no wrong answer", f"{failures} wrong", failures == 0),
    ]
    rows = [
        f"{run.server} | {run.load} | {len(run.latencies):,} | {run.failures:,} | "
        f"{'n/a' if run.load == 'one at a time' else f'{len(run.latencies) / run.wall_s:,.0f}'} | "
        f"{quantiles(run.latencies, 50, 99, 100, scale=MS)}"
        for run in runs
    ]
    headers = "server | load | requests | errors | answered/s | p50 ms | p99 ms | max ms"
    report = (
        f"{markdown_table(headers, rows, 'llrrrrrr')}\n\n## Targets\n\n{targets_table(targets)}"
    )
    ok = all(target.met for target in targets)
    return finish(args, __doc__, report, {"runs": runs, "targets": targets}, ok, *DISTRIBUTIONS)


if __name__ == "__main__":
    sys.exit(main())
