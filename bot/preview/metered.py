"""Limiters that report to the metrics: how long each attempt waited for its slot, and how
many asks were refused with BusyError, by action.

Measured around the gate the client holds, so a shared limiter and the local one it falls
back on count each ask once, and the action comes from the client's own table, never from
a budget key.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping

from bot.cams.actions import Action
from bot.cams.client import AttemptGate
from bot.metrics import BUSY, LIMITER_WAIT_SECONDS
from bot.preview.errors import BusyError


class MeteredGate:
    """An AttemptGate that times `admit` and counts its BusyError refusals for one action."""

    def __init__(self, gate: AttemptGate, action: Action) -> None:
        self._gate = gate
        self._wait = LIMITER_WAIT_SECONDS.labels(action)
        self._busy = BUSY.labels(action)

    async def admit(self, account: str, within: float = math.inf) -> float:
        """The gate's `admit`, timed on the event loop's clock, as the limiters keep time.

        A call that will not wait at all (`within` 0: a background poll that steps aside for
        people) is neither a person refused nor a wait: it is left out of both metrics.
        """
        if within <= 0:
            return await self._gate.admit(account, within)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            send_by = await self._gate.admit(account, within)
        except BusyError:
            self._busy.inc()
            raise
        self._wait.observe(loop.time() - started)
        return send_by

    async def throttled(self, account: str, retry_after: float | None) -> float | None:
        """The gate's `throttled`."""
        return await self._gate.throttled(account, retry_after)

    def settled(self, account: str) -> None:
        """The gate's `settled`."""
        self._gate.settled(account)

    async def missed(self, account: str) -> None:
        """The gate's `missed`."""
        await self._gate.missed(account)


def metered(gates: Mapping[Action, AttemptGate]) -> dict[Action, AttemptGate]:
    """Each action's gate, wrapped to report to the metrics under that action."""
    return {action: MeteredGate(gate, action) for action, gate in gates.items()}
