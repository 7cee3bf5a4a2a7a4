"""The rate limiter and the cache beside aiolimiter, as the emulator (5 calls/s) counts them.

1. A burst of distinct flows at once. Targets: <= 5 calls in any second, >= 4.5 calls/s, no
throttled answer. 2. Many asks over few flows, twice. Targets: one upstream call per flow, none
the second time. The peer is a CamsClient behind AsyncLimiter(5, 1) with no cache.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from bench.common import (
    RATE,
    Ask,
    Asks,
    Target,
    ask_all,
    budget_targets,
    finish,
    fixed,
    markdown_table,
    measured,
    parser,
    positive_int,
    progress,
    quantiles,
    targets_table,
)
from bot.cams.actions import Action
from bot.cams.client import CamsClient
from bot.cams.settings import DEFAULT_ATTEMPT_TIMEOUT_S, CamsSettings
from bot.config import Endpoint
from bot.preview.limiter import LimiterSettings
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.processes import EmulatorControl, ServerView, controlled_emulator

PERIOD_S = 1.0
ACCOUNT = DEMO_CREDENTIALS.access_key_id
# Long enough that nobody in the burst is refused as busy: it measures pacing, not refusal.
BURST_MAX_WAIT_S = 120.0
# The deadline counts the wait at the gate: it must outlast either side's longest queue.
DEADLINE_S = BURST_MAX_WAIT_S + DEFAULT_ATTEMPT_TIMEOUT_S
BURST_FLOW_BASE = 200_000
REPEAT_FLOW_BASE = 300_000
HEADERS = (
    "client | asks | answered with a preview | throttled answers | Busy | upstream calls at "
    "server | max calls in any 1 s at server | calls/s at server | p50 wait s | p99 wait s | "
    "all answered after s"
)


@dataclass(frozen=True, slots=True)
class AiolimiterGate:
    """The peer's gate: aiolimiter's leaky bucket in front of every attempt."""

    limiter: AsyncLimiter

    async def admit(self, account: str, within: float) -> float:
        """Wait for the bucket, which cannot bound a wait; the long deadline keeps it moot."""
        await self.limiter.acquire()
        return math.inf

    async def throttled(self, account: str, retry_after: float | None) -> float | None:
        """aiolimiter cannot hear the server's pushback."""
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

    def row(self, name: str) -> str:
        """Its row under HEADERS."""
        a, s = self.asks, self.server
        return (
            f"{name} | {a.count:,} | {a.ok:,} | {s.throttled:,} | {a.busy:,} | {s.received:,} | "
            f"{s.max_in_any_second} | {fixed(s.calls_per_s)} | {quantiles(a.waits, 50, 99)} | "
            f"{fixed(a.wall_s)}"
        )


async def measure(emulator: EmulatorControl, ask: Ask, flow_ids: Sequence[str]) -> Side:
    """Reset the emulator, ask for `flow_ids` at once, and collect both views."""
    await emulator.reset()
    asks = await ask_all(ask, flow_ids)
    return Side(asks, ServerView.from_stats(await emulator.stats(), ACCOUNT))


def cams_settings(emulator: EmulatorControl) -> CamsSettings:
    """One attempt per call, so that every throttled answer reaches the counts."""
    return CamsSettings(Endpoint.parse(emulator.url), max_attempts=1, deadline=DEADLINE_S)


def service(emulator: EmulatorControl, limiter: LimiterSettings) -> PreviewService:
    """flowpreview's side."""
    return PreviewService.create(
        DEMO_CREDENTIALS, cams_settings(emulator), PreviewSettings(limiter=limiter)
    )


def peer_client(emulator: EmulatorControl) -> CamsClient:
    """A plain CamsClient behind aiolimiter, with no cache; one gate, as it only previews."""
    gate = AiolimiterGate(AsyncLimiter(RATE, PERIOD_S))
    return CamsClient(DEMO_CREDENTIALS, cams_settings(emulator), gates=dict.fromkeys(Action, gate))


@dataclass(frozen=True, slots=True)
class Burst:
    """Scenario 1: distinct flows all asked at once."""

    flows: int
    ours: Side
    peer: Side

    @property
    def targets(self) -> list[Target]:
        """flowpreview's targets in this scenario."""
        server, asks = self.ours.server, self.ours.asks
        return [
            *budget_targets("", server.max_in_any_second, server.calls_per_s, server.throttled),
            Target(
                "every ask answered with a preview",
                f"{asks.ok}/{asks.count}",
                asks.ok == asks.count == self.flows == server.ok,
            ),
        ]


async def burst(emulator: EmulatorControl, flows: int) -> Burst:
    """Scenario 1: `flows` distinct flows asked at once, through ours and then the peer."""
    flow_ids = [str(BURST_FLOW_BASE + index) for index in range(flows)]
    progress(f"scenario 1: {flows} distinct flows at once through flowpreview ...")
    async with service(emulator, LimiterSettings(max_wait=BURST_MAX_WAIT_S)) as ours:
        ours_side = await measure(emulator, ours.get, flow_ids)
    progress(f"scenario 1: {flows} distinct flows at once through the aiolimiter peer ...")
    async with peer_client(emulator) as client:
        peer = await measure(emulator, client.get_flow_preview_url, flow_ids)
    return Burst(flows, ours_side, peer)


@dataclass(frozen=True, slots=True)
class Repeat:
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


def interleaved(flows: int, asks: int) -> list[str]:
    """`asks` flow IDs cycling through `flows` distinct ones: 0, 1, ..., flows-1, 0, 1, ..."""
    return [str(REPEAT_FLOW_BASE + index % flows) for index in range(asks)]


async def repeat(emulator: EmulatorControl, flows: int, asks: int, peer_asks: int) -> Repeat:
    """Scenario 2: `asks` over `flows` flows through ours, twice; `peer_asks` through the peer."""
    progress(f"scenario 2: {asks} asks over {flows} flows through flowpreview, twice ...")
    # Production defaults: the budget needed is one call per flow, well inside max_wait.
    async with service(emulator, LimiterSettings()) as ours:
        first = await measure(emulator, ours.get, interleaved(flows, asks))
        again = await measure(emulator, ours.get, interleaved(flows, asks))
    progress(f"scenario 2: {peer_asks} asks over {flows} flows through the aiolimiter peer ...")
    async with peer_client(emulator) as client:
        peer = await measure(emulator, client.get_flow_preview_url, interleaved(flows, peer_asks))
    return Repeat(flows, first, again, peer)


def render(b: Burst, r: Repeat) -> str:
    """The report: setup, then each scenario's figures side by side and its targets."""
    full = r.first.asks.count
    computed = f"aiolimiter peer (computed) | {full:,} | - | - | - | {full:,} | - | - | - | - | "
    repeat_rows = [r.first.row("flowpreview"), r.again.row("flowpreview, same asks again")]
    repeat_rows += [r.peer.row("aiolimiter peer (measured)"), f"{computed}>= {full / RATE:,.0f}"]
    lines = [
        f"Emulator throttling at {RATE}/s per account; one attempt per call, deadline "
        f"{DEADLINE_S:g} s. Calls are the server's counts; waits from ask to answer.",
        f"## 1. {b.flows} distinct flows asked at once (max wait {BURST_MAX_WAIT_S:g} s)",
        markdown_table(HEADERS, [b.ours.row("flowpreview"), b.peer.row("aiolimiter peer")]),
        targets_table(b.targets),
        f"## 2. {full:,} asks over {r.flows} flows, all at once, then again",
        f"The cacheless peer needs one call per ask, at least {full / RATE:,.0f} s at {RATE}/s "
        f"for {full:,}: measured on {r.peer.asks.count:,} asks, the full figure computed.",
        markdown_table(HEADERS, repeat_rows),
        targets_table(r.targets),
    ]
    names = ["1 flowpreview", "1 peer", "2 flowpreview", "2 flowpreview again", "2 peer"]
    sides = [b.ours, b.peer, r.first, r.again, r.peer]
    lines += [
        f"scenario {name}: {side.asks.other} asks failed otherwise; first: {side.asks.first_error}"
        for name, side in zip(names, sides, strict=True)
        if side.asks.other
    ]
    return "\n\n".join(lines)


async def run(args: argparse.Namespace) -> tuple[Burst, Repeat]:
    """Both scenarios against one emulator, reset before every measured run."""
    async with controlled_emulator("--qps", str(RATE)) as emulator:
        return (
            await burst(emulator, args.burst),
            await repeat(emulator, args.flows, args.asks, args.peer_asks),
        )


def main() -> int:
    """Run the benchmark and print the tables; exit status 1 when any target is missed."""
    cli = parser(__doc__, "bench.bench_limiter")
    cli.add_argument("--burst", type=positive_int, default=200, help="distinct flows at once")
    cli.add_argument("--asks", type=positive_int, default=1000, help="asks over --flows flows")
    cli.add_argument("--flows", type=positive_int, default=20, help="distinct flows in part 2")
    cli.add_argument("--peer-asks", type=positive_int, default=100, help="the peer's, part 2")
    args = cli.parse_args()
    b, r = measured(run(args))
    ok = all(t.met for t in b.targets + r.targets)
    return finish(args, __doc__, render(b, r), {"burst": b, "repeat": r}, ok, "aiolimiter")


if __name__ == "__main__":
    sys.exit(main())
