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

from bot.errors import FlowpreviewError
from bot.store.database import Connection, Database, Dialect, read_time

MAX_PINS = 25
# The first key of the PostgreSQL advisory locks on people's pins; the second is the person's.
PIN_LOCK = 0x70696E73  # "pins"
# The primary key cannot hold NULL: the default space is stored as this.
_DEFAULT_SPACE = ""

_LIST = (
    "SELECT flow_id, space_id, pinned_at FROM pins WHERE team_id = $1 AND user_id = $2 "
    "ORDER BY pinned_at DESC, flow_id, space_id"
)
_INSERT = (
    "INSERT INTO pins (team_id, user_id, flow_id, space_id, pinned_at) "
    "VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (team_id, user_id, flow_id, space_id) DO NOTHING"
)
_COUNT = "SELECT count(*) FROM pins WHERE team_id = $1 AND user_id = $2"
_DELETE = "DELETE FROM pins WHERE team_id = $1 AND user_id = $2 AND flow_id = $3 AND space_id = $4"
_LOCK_PERSON = "SELECT pg_advisory_xact_lock($1, $2)"


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
        database: Database,
        *,
        max_pins: int = MAX_PINS,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._database = database
        self._max_pins = max_pins
        self._clock = clock

    async def list(self, team_id: str, user_id: str) -> list[Pin]:
        """The person's pins, newest first."""
        async with self._database.connection() as connection:
            rows = await connection.fetch(_LIST, team_id, user_id)
        return [Pin(flow, space or None, read_time(at)) for flow, space, at in rows]

    async def pin(self, team_id: str, user_id: str, flow_id: str, space_id: str | None) -> bool:
        """Pin the flow for the person: True if newly pinned, False if it already was.

        Raises PinLimitError when the person already holds `max_pins` other pins.
        """
        pinned_at = self._clock()
        # On SQLite a write takes the lock at BEGIN: a pin that counted first could otherwise
        # be refused its insert, or count a number another writer is about to change.
        async with self._database.transaction(write=True) as connection:
            await _lock_person(connection, team_id, user_id)
            inserted = await connection.execute(
                _INSERT, team_id, user_id, flow_id, space_id or _DEFAULT_SPACE, pinned_at
            )
            if inserted != 1:
                return False
            held = await connection.fetch_value(_COUNT, team_id, user_id)
            # Raised inside the transaction, which takes the insert back with it.
            if int(held or 0) > self._max_pins:
                raise PinLimitError(self._max_pins)
        return True

    async def unpin(self, team_id: str, user_id: str, flow_id: str, space_id: str | None) -> bool:
        """Unpin the flow for the person: True if it was pinned."""
        async with self._database.transaction(write=True) as connection:
            deleted = await connection.execute(
                _DELETE, team_id, user_id, flow_id, space_id or _DEFAULT_SPACE
            )
        return bool(deleted)


async def _lock_person(connection: Connection, team_id: str, user_id: str) -> None:
    # SQLite's write lock, taken at BEGIN, already keeps every other writer out.
    if connection.dialect is not Dialect.POSTGRESQL:
        return
    # A 32-bit digest of the person: people sharing one merely take turns.
    digest = zlib.crc32(f"{team_id}\x00{user_id}".encode())
    person = digest - (1 << 32) if digest >= 1 << 31 else digest
    await connection.execute(_LOCK_PERSON, PIN_LOCK, person)
