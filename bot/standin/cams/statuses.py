"""Changing a flow's status while the emulator runs, as Meta does on its own.

Meta throttles or blocks a flow, a team deprecates one, and flows disappear; CAMS sends no event
for any of it, and only GetFlow's `Status` tells. The emulator changes a flow's state on request
(the control route, `Emulator.set_status` and `remove_flow`) or on a schedule given at start-up
(`--status-change FLOW_ID=STATUS@SECONDS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from bot.errors import FlowpreviewError

# CAMS passes through statuses the bot may not know, so any short printable text is accepted.
MAX_STATUS_LEN = 32
# What a schedule entry says instead of a status to make its flow disappear.
REMOVED = "removed"
# The keys a control body may hold.
_BODY_KEYS = frozenset({"space", "status", "removed"})


class InvalidStatusError(FlowpreviewError):
    """A status, a control body or a `--status-change` entry that cannot be used."""


class UnknownFlowError(FlowpreviewError):
    """No space of the catalog holds the flow (or not the space named)."""

    def __init__(self, flow_id: str, space: str | None) -> None:
        where = f"space {space!r}" if space is not None else "any space"
        super().__init__(f"flow {flow_id!r} is not in {where}")
        self.flow_id = flow_id
        self.space = space


class AmbiguousFlowError(FlowpreviewError):
    """The flow ID is in several spaces and none was named."""

    def __init__(self, flow_id: str, spaces: Iterable[str]) -> None:
        self.spaces = tuple(spaces)
        super().__init__(f"flow {flow_id!r} is in spaces {', '.join(self.spaces)}: name the space")
        self.flow_id = flow_id


def check_status(status: object) -> str:
    """`status` if it is printable text of 1 to MAX_STATUS_LEN characters, not all blank."""
    if (
        not isinstance(status, str)
        or not status.strip()
        or len(status) > MAX_STATUS_LEN
        or not status.isprintable()
    ):
        raise InvalidStatusError(
            f"status must be printable text of 1 to {MAX_STATUS_LEN} characters, not {status!r}"
        )
    return status


def read_control_body(body: object) -> tuple[str | None, str | None]:
    """(space, status) from a control body; a None status removes the flow.

    The body is `{"status": "…"}` or `{"removed": true}`, each with an optional `"space"`.
    """
    if not isinstance(body, dict):
        raise InvalidStatusError('the body must be a JSON object such as {"status": "BLOCKED"}')
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise InvalidStatusError(f"unknown keys {', '.join(map(repr, unknown))}")
    space = body.get("space")
    if space is not None and not (isinstance(space, str) and space):
        raise InvalidStatusError(f"space must be a non-empty string, not {space!r}")
    if ("status" in body) == ("removed" in body):
        raise InvalidStatusError('the body needs either "status" or "removed": true')
    if "removed" in body:
        if body["removed"] is not True:
            raise InvalidStatusError('"removed" can only be true: PUT a status to bring it back')
        return space, None
    return space, check_status(body["status"])


@dataclass(frozen=True, slots=True)
class StatusChange:
    """Flow `flow_id` takes `status` (disappears, when None) `at` seconds after the start."""

    flow_id: str
    status: str | None
    at: float

    @classmethod
    def parse(cls, text: str) -> StatusChange:
        """Read `FLOW_ID=STATUS@SECONDS`, where STATUS may be `removed`."""
        flow_id, equals, rest = text.partition("=")
        status, at, seconds = rest.rpartition("@")
        if not (equals and at and flow_id and status):
            raise InvalidStatusError(f"{text!r} must be FLOW_ID=STATUS@SECONDS")
        try:
            delay = float(seconds)
        except ValueError:
            delay = math.nan
        if not (math.isfinite(delay) and delay >= 0):
            raise InvalidStatusError(f"seconds in {text!r} must be a number from 0")
        return cls(flow_id, None if status == REMOVED else check_status(status), delay)

    def apply(self, target: StatusTarget) -> None:
        """Make the change on `target`."""
        if self.status is None:
            target.remove_flow(self.flow_id)
        else:
            target.set_status(self.flow_id, self.status)


class StatusTarget(Protocol):
    """What a schedule changes: the emulator."""

    def set_status(self, flow_id: str, status: str, space: str | None = None) -> object:
        """Give the flow `status`, bringing it back if it was removed."""
        ...

    def remove_flow(self, flow_id: str, space: str | None = None) -> object:
        """Make the flow disappear from ListFlow and GetFlow."""
        ...


class StatusSchedule:
    """Status changes made on time, measured from when `run` starts.

    `sleep` and `clock` default to asyncio's and the event loop's; tests pass a fake clock's,
    or call `step` directly. `announce` hears of each change once it is made.
    """

    def __init__(
        self,
        changes: Iterable[StatusChange],
        target: StatusTarget,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] | None = None,
        announce: Callable[[StatusChange], None] | None = None,
    ) -> None:
        # A stable sort: changes due at the same time are made in the order given.
        self._pending = sorted(changes, key=lambda change: change.at)
        self._target = target
        self._sleep = sleep
        self._clock = clock
        self._announce = announce

    @property
    def pending(self) -> tuple[StatusChange, ...]:
        """The changes not made yet, soonest first."""
        return tuple(self._pending)

    def step(self, elapsed: float) -> list[StatusChange]:
        """Make every pending change due `elapsed` seconds after the start; return them."""
        due = []
        while self._pending and self._pending[0].at <= elapsed:
            change = self._pending.pop(0)
            change.apply(self._target)
            if self._announce is not None:
                self._announce(change)
            due.append(change)
        return due

    async def run(self) -> None:
        """Make every change at its time, then return."""
        clock = self._clock or asyncio.get_running_loop().time
        start = clock()
        while self._pending:
            await self._sleep(max(0.0, self._pending[0].at - (clock() - start)))
            self.step(clock() - start)

    async def background(self, app: web.Application) -> AsyncIterator[None]:
        """An aiohttp cleanup context: run while `app` serves, stop when it stops."""
        task = asyncio.create_task(self.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
