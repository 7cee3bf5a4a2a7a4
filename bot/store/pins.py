"""The flows each person pinned to their Home tab: a flow and its space, never a preview's link.

A pin is keyed by workspace, person, flow and space, so pinning twice is harmless and two
replicas pinning at once store one row. Each person holds at most `max_pins`; the count and the
insert share a transaction that one writer at a time may hold for that person (SQLite's write
lock, a PostgreSQL advisory lock on the person), so that racing pins cannot pass the bound.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, bindparam, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import FlowpreviewError
from bot.store.engine import WRITE_LOCK
from bot.store.schema import pins
from bot.store.upsert import insert_new

MAX_PINS = 25
# The first key of the PostgreSQL advisory locks on people's pins; the second is the person's.
PIN_LOCK = 0x70696E73  # "pins"
# The primary key cannot hold NULL: the default space is stored as this.
_DEFAULT_SPACE = ""

_LOCK_PERSON = text("SELECT pg_advisory_xact_lock(:kind, :person)").bindparams(
    bindparam("kind", type_=Integer()), bindparam("person", type_=Integer())
)


@dataclass(frozen=True, slots=True)
class Pin:
    """A pinned flow: `space_id` None means the deployment's default space."""

    flow_id: str
    space_id: str | None
    pinned_at: datetime


class PinLimitError(FlowpreviewError):
    """A person who already holds as many pins as allowed asked for another."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"you can pin at most {limit} flows: unpin one to pin another")
        self.limit = limit


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Pins:
    """People's pinned flows in the store's database."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_pins: int = MAX_PINS,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._engine = engine
        # On SQLite a write takes the lock at once: a pin that counted first could otherwise be
        # refused its insert, or count a number another writer is about to change.
        self._writer = engine.execution_options(**{WRITE_LOCK: True})
        self._max_pins = max_pins
        self._clock = clock

    async def list(self, team_id: str, user_id: str) -> list[Pin]:
        """The person's pins, newest first."""
        statement = (
            select(pins.c.flow_id, pins.c.space_id, pins.c.pinned_at)
            .where(*_person(team_id, user_id))
            .order_by(pins.c.pinned_at.desc(), pins.c.flow_id, pins.c.space_id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [Pin(flow, space or None, at) for flow, space, at in rows]

    async def pin(self, team_id: str, user_id: str, flow_id: str, space_id: str | None) -> bool:
        """Pin the flow for the person: True if newly pinned, False if it already was.

        Raises PinLimitError when the person already holds `max_pins` other pins.
        """
        row = {
            "team_id": team_id,
            "user_id": user_id,
            "flow_id": flow_id,
            "space_id": space_id or _DEFAULT_SPACE,
            "pinned_at": self._clock(),
        }
        async with self._writer.begin() as connection:
            await _lock_person(connection, team_id, user_id)
            inserted = await connection.execute(insert_new(connection, pins).values(row))
            if inserted.rowcount != 1:
                return False
            held = await connection.scalar(
                select(func.count()).select_from(pins).where(*_person(team_id, user_id))
            )
            # Raised inside the transaction, which takes the insert back with it.
            if int(held or 0) > self._max_pins:
                raise PinLimitError(self._max_pins)
        return True

    async def unpin(self, team_id: str, user_id: str, flow_id: str, space_id: str | None) -> bool:
        """Unpin the flow for the person: True if it was pinned."""
        statement = delete(pins).where(
            *_person(team_id, user_id),
            pins.c.flow_id == flow_id,
            pins.c.space_id == (space_id or _DEFAULT_SPACE),
        )
        async with self._writer.begin() as connection:
            deleted = await connection.execute(statement)
        return bool(deleted.rowcount)


def _person(team_id: str, user_id: str) -> tuple[Any, Any]:
    return pins.c.team_id == team_id, pins.c.user_id == user_id


async def _lock_person(connection: AsyncConnection, team_id: str, user_id: str) -> None:
    # SQLite's write lock, taken at BEGIN, already keeps every other writer out.
    if connection.dialect.name != "postgresql":
        return
    # A 32-bit digest of the person: people sharing one merely take turns.
    digest = zlib.crc32(f"{team_id}\x00{user_id}".encode())
    person = digest - (1 << 32) if digest >= 1 << 31 else digest
    await connection.execute(_LOCK_PERSON, {"kind": PIN_LOCK, "person": person})
