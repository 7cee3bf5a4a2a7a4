"""Benchmark the account-wide rate limiter and the cache, as the CAMS emulator sees them.

Run from the project root::

    python -m bench.bench_limiter [--burst N] [--asks N] [--flows N] [--peer-asks N]
                                  [--json PATH]

The emulator runs as a separate process over plain http on loopback with its throttling on
(5 calls per second per account, as CAMS). Every figure about calls is the server's own count
from /_emulator/stats; waits are measured in this process from ask to answer. Both sides call
with max_attempts=1, so a throttled answer is counted rather than retried away.

flowpreview is the PreviewService (cache, single-flight and the LocalLimiter). The peer is a
plain CamsClient, without cache, behind aiolimiter's AsyncLimiter(5, 1), fed the same load.

1. A burst of distinct flows asked at once: the server must never see more than 5 calls in any
   1-second window, nor answer any with throttling, while the achieved rate stays near 5/s.
2. Many asks over few flows: the server must see exactly one call per flow. The peer, having
   no cache, makes one call per ask; at 5 calls/s the full load would take minutes, so it is
   run on a smaller number of asks and the full figure is stated, not measured.

The exit status is 1 when any target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiolimiter import AsyncLimiter

from bench.support import (
    Ask,
    Asks,
    EmulatorControl,
    ServerView,
    Target,
    ask_all,
    describe_machine,
    machine,
    markdown_table,
    percentile,
    positive_int,
    progress,
    running_emulator,
    seconds,
    targets_table,
    write_json,
)
from bot.cams.actions import Action
from bot.cams.client import CamsClient
from bot.cams.settings import DEFAULT_ATTEMPT_TIMEOUT_S, CamsSettings
from bot.config import Endpoint
from bot.preview.limiter import LimiterSettings
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.standin.cams.server import DEMO_CREDENTIALS

RATE = 5
PERIOD_S = 1.0
RATE_TARGET = 4.5
ACCOUNT = DEMO_CREDENTIALS.access_key_id
# Long enough that nobody in the burst is refused as Busy: the burst measures pacing, not
# refusal.
BURST_MAX_WAIT_S = 120.0
# The client's overall deadline counts the wait at its gate, so it must outlast the longest
# queue of either side, or queued asks give up before they call.
DEADLINE_S = BURST_MAX_WAIT_S + DEFAULT_ATTEMPT_TIMEOUT_S
BURST_FLOW_BASE = 200_000
REPEAT_FLOW_BASE = 300_000


class AiolimiterGate:
    """The peer's gate: aiolimiter's leaky bucket in front of every attempt."""

    def __init__(self, limiter: AsyncLimiter) -> None:
        self._limiter = limiter

    async def admit(self, account: str, within: float) -> float:
        """Wait for the bucket; one bucket serves the one account of this benchmark.

        aiolimiter cannot bound a wait in advance; the generous deadline keeps `within` moot.
        """
        await self._limiter.acquire()
        return math.inf

    async def throttled(self, account: str, retry_after: float | None) -> float | None:
        """aiolimiter has no way to hear the server's pushback, so this does nothing."""
        return retry_after

    def settled(self, account: str) -> None:
        """aiolimiter has no pauses to end."""

    async def missed(self, account: str) -> None:
        """aiolimiter has no probe to hand on."""


@dataclass(frozen=True, slots=True)
class Side:
    """One client under one load: the callers' view and the server's."""

    asks: Asks
    server: ServerView

    def to_json(self) -> dict[str, Any]:
        """Both views' raw figures."""
        return {"asks": self.asks.to_json(), "server": self.server.to_json()}


async def measure(emulator: EmulatorControl, ask: Ask, flow_ids: Sequence[str]) -> Side:
    """Reset the emulator, ask for `flow_ids` at once, and collect both views."""
    await emulator.reset()
    asks = await ask_all(ask, flow_ids)
    return Side(asks, ServerView.from_stats(await emulator.stats(), ACCOUNT))


def cams_settings(emulator: EmulatorControl) -> CamsSettings:
    """One attempt per call, so that every throttled answer reaches the counts."""
    return CamsSettings(Endpoint.parse(emulator.base_url), max_attempts=1, deadline=DEADLINE_S)


def peer_client(emulator: EmulatorControl) -> CamsClient:
    """A plain CamsClient behind aiolimiter, with no cache."""
    gate = AiolimiterGate(AsyncLimiter(RATE, PERIOD_S))
    # One gate for every action: the peer only ever asks for previews.
    return CamsClient(DEMO_CREDENTIALS, cams_settings(emulator), gates=dict.fromkeys(Action, gate))


@dataclass(frozen=True, slots=True)
class BurstResult:
    """Scenario 1: distinct flows all asked at once."""

    flows: int
    ours: Side
    peer: Side

    @property
    def targets(self) -> list[Target]:
        """flowpreview's targets in this scenario."""
        server, asks = self.ours.server, self.ours.asks
        rate = server.calls_per_s
        return [
            Target(
                f"max calls in any 1 s at the server <= {RATE}",
                str(server.max_in_any_second),
                server.max_in_any_second <= RATE,
            ),
            Target(
                f"calls/s at the server >= {RATE_TARGET:g}",
                "n/a" if rate is None else f"{rate:.2f}",
                rate is not None and rate >= RATE_TARGET,
            ),
            Target("throttled answers = 0", str(server.throttled), server.throttled == 0),
            Target(
                "every ask answered with a preview",
                f"{asks.ok}/{asks.count}",
                asks.ok == asks.count == self.flows == server.ok,
            ),
        ]

    def to_json(self) -> dict[str, Any]:
        """Raw figures of both sides and the targets."""
        return {
            "flows": self.flows,
            "flowpreview": self.ours.to_json(),
            "peer": self.peer.to_json(),
            "targets": [t.to_json() for t in self.targets],
        }


async def burst(emulator: EmulatorControl, flows: int) -> BurstResult:
    """Scenario 1: `flows` distinct flows asked at once, through ours and then the peer."""
    flow_ids = [str(BURST_FLOW_BASE + index) for index in range(flows)]
    progress(f"scenario 1: {flows} distinct flows at once through flowpreview ...")
    async with PreviewService.create(
        DEMO_CREDENTIALS,
        cams_settings(emulator),
        PreviewSettings(limiter=LimiterSettings(max_wait=BURST_MAX_WAIT_S)),
    ) as service:
        ours = await measure(emulator, service.get, flow_ids)
    progress(f"scenario 1: {flows} distinct flows at once through the aiolimiter peer ...")
    async with peer_client(emulator) as client:
        peer = await measure(emulator, client.get_flow_preview_url, flow_ids)
    return BurstResult(flows, ours, peer)


@dataclass(frozen=True, slots=True)
class RepeatResult:
    """Scenario 2: many asks over few flows, then the same asks again once answered."""

    flows: int
    first: Side
    again: Side
    peer: Side

    @property
    def targets(self) -> list[Target]:
        """flowpreview's targets in this scenario."""
        first, again = self.first, self.again
        answered = first.asks.ok + again.asks.ok
        asked = first.asks.count + again.asks.count
        one_each = sorted(first.server.by_flow.values()) == [1] * self.flows
        return [
            Target(
                f"upstream calls for {first.asks.count:,} asks over {self.flows} flows "
                f"= {self.flows}, one per flow",
                str(first.server.received),
                first.server.received == self.flows and one_each,
            ),
            Target(
                f"upstream calls for the same {again.asks.count:,} asks again = 0 (cache)",
                str(again.server.received),
                again.server.received == 0,
            ),
            Target(
                "every ask answered with a preview", f"{answered:,}/{asked:,}", answered == asked
            ),
        ]

    def to_json(self) -> dict[str, Any]:
        """Raw figures of all three runs and the targets."""
        return {
            "flows": self.flows,
            "flowpreview_first": self.first.to_json(),
            "flowpreview_again": self.again.to_json(),
            "peer": self.peer.to_json(),
            "targets": [t.to_json() for t in self.targets],
        }


def interleaved(flows: int, asks: int) -> list[str]:
    """`asks` flow IDs cycling through `flows` distinct ones: 0, 1, ..., flows-1, 0, 1, ..."""
    return [str(REPEAT_FLOW_BASE + index % flows) for index in range(asks)]


async def repeat(emulator: EmulatorControl, flows: int, asks: int, peer_asks: int) -> RepeatResult:
    """Scenario 2: `asks` over `flows` flows through ours, twice; `peer_asks` through the peer."""
    progress(f"scenario 2: {asks} asks over {flows} flows through flowpreview, twice ...")
    # Production defaults: the budget needed is one call per flow, well inside max_wait.
    async with PreviewService.create(
        DEMO_CREDENTIALS, cams_settings(emulator), PreviewSettings(limiter=LimiterSettings())
    ) as service:
        first = await measure(emulator, service.get, interleaved(flows, asks))
        again = await measure(emulator, service.get, interleaved(flows, asks))
    progress(f"scenario 2: {peer_asks} asks over {flows} flows through the aiolimiter peer ...")
    async with peer_client(emulator) as client:
        peer = await measure(emulator, client.get_flow_preview_url, interleaved(flows, peer_asks))
    return RepeatResult(flows, first, again, peer)


SIDE_HEADERS = [
    "client",
    "asks",
    "answered with a preview",
    "throttled answers",
    "Busy",
    "upstream calls at server",
    "max calls in any 1 s at server",
    "calls/s at server",
    "p50 wait s",
    "p99 wait s",
    "all answered after s",
]


def side_row(name: str, side: Side) -> list[str]:
    """One row of SIDE_HEADERS."""
    asks, server = side.asks, side.server
    return [
        name,
        f"{asks.count:,}",
        f"{asks.ok:,}",
        f"{server.throttled:,}",
        f"{asks.busy:,}",
        f"{server.received:,}",
        str(server.max_in_any_second),
        seconds(server.calls_per_s),
        seconds(percentile(asks.waits, 50)),
        seconds(percentile(asks.waits, 99)),
        seconds(asks.wall_s),
    ]


def side_errors(name: str, side: Side) -> list[str]:
    """A line naming unexpected failures, if there were any."""
    if not side.asks.other:
        return []
    return [f"{name}: {side.asks.other} asks failed otherwise; first: {side.asks.first_error}"]


def render(burst_result: BurstResult, repeat_result: RepeatResult) -> str:
    """The report: setup, then each scenario's figures side by side and its targets."""
    b, r = burst_result, repeat_result
    full_asks = r.first.asks.count
    lines = [
        "# flowpreview's rate limiter and cache vs aiolimiter, as the CAMS emulator sees them",
        "",
        describe_machine("aiolimiter"),
        f"Emulator: separate process, plain http on loopback, throttling on ({RATE} calls per "
        "second per account, any 1-s window). Both clients make one attempt per call, so "
        "throttled answers are counted, not retried, and have an overall deadline of "
        f"{DEADLINE_S:g} s, since it counts the time spent queueing.",
        f"flowpreview: PreviewService (cache, single-flight, LocalLimiter rate={RATE}/"
        f"{PERIOD_S:g}s, margin 0.1 s). Peer: CamsClient behind aiolimiter.AsyncLimiter("
        f"{RATE}, {PERIOD_S:g}), no cache. Call figures are the server's; waits are from ask to "
        "answer in the client.",
        "",
        f"## 1. {b.flows} distinct flows asked at once",
        "",
        f"flowpreview's limiter here allows waits of up to {BURST_MAX_WAIT_S:g} s, so nobody is "
        "refused as Busy.",
        "",
        markdown_table(
            SIDE_HEADERS,
            [side_row("flowpreview", b.ours), side_row("aiolimiter peer", b.peer)],
            align="l" + "r" * (len(SIDE_HEADERS) - 1),
        ),
        "",
        targets_table(b.targets),
        "",
        f"## 2. {full_asks:,} asks over {r.flows} flows, all at once",
        "",
        f"flowpreview answers {full_asks:,} asks, then the same {r.again.asks.count:,} again. "
        f"The peer, having no cache, makes one call per ask: {full_asks:,} asks would take "
        f"{full_asks:,} upstream calls, at least {full_asks / RATE:,.0f} s at {RATE}/s, so it was "
        f"run on {r.peer.asks.count:,} asks ({r.peer.asks.count // r.flows} per flow) only; "
        f"its {full_asks:,}-ask figure is computed, not measured.",
        "",
        markdown_table(
            SIDE_HEADERS,
            [
                side_row("flowpreview", r.first),
                side_row("flowpreview, same asks again", r.again),
                side_row("aiolimiter peer (measured)", r.peer),
                [
                    "aiolimiter peer (computed)",
                    f"{full_asks:,}",
                    "-",
                    "-",
                    "-",
                    f"{full_asks:,}",
                    "-",
                    "-",
                    "-",
                    "-",
                    f">= {full_asks / RATE:,.0f}",
                ],
            ],
            align="l" + "r" * (len(SIDE_HEADERS) - 1),
        ),
        "",
        targets_table(r.targets),
    ]
    for name, side in (
        ("scenario 1 flowpreview", b.ours),
        ("scenario 1 peer", b.peer),
        ("scenario 2 flowpreview", r.first),
        ("scenario 2 flowpreview again", r.again),
        ("scenario 2 peer", r.peer),
    ):
        lines += side_errors(name, side)
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_limiter",
        description="flowpreview's rate limiter and cache vs aiolimiter, against the emulator.",
    )
    parser.add_argument(
        "--burst", type=positive_int, default=200, help="distinct flows asked at once (scenario 1)"
    )
    parser.add_argument(
        "--asks", type=positive_int, default=1000, help="asks over --flows flows (scenario 2)"
    )
    parser.add_argument(
        "--flows", type=positive_int, default=20, help="distinct flows in scenario 2"
    )
    parser.add_argument(
        "--peer-asks",
        type=positive_int,
        default=100,
        help="asks the cacheless peer makes in scenario 2, at 5 calls/s (default: 100)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the raw figures here")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> tuple[BurstResult, RepeatResult]:
    """Both scenarios against one emulator, reset before every measured run."""
    async with running_emulator(qps=RATE) as emulator:
        burst_result = await burst(emulator, args.burst)
        repeat_result = await repeat(emulator, args.flows, args.asks, args.peer_asks)
    return burst_result, repeat_result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables; exit status 1 when any target is missed."""
    args = parse_args(argv)
    started = time.perf_counter()
    burst_result, repeat_result = asyncio.run(run(args))
    progress(f"done in {time.perf_counter() - started:.0f}s")
    print(render(burst_result, repeat_result))
    if args.json is not None:
        write_json(
            args.json,
            {
                **machine("aiolimiter"),
                "settings": vars(args) | {"json": str(args.json)},
                "rate": RATE,
                "period_s": PERIOD_S,
                "rate_target": RATE_TARGET,
                "burst": burst_result.to_json(),
                "repeat": repeat_result.to_json(),
            },
        )
    targets = burst_result.targets + repeat_result.targets
    return 0 if all(t.met for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
