"""One INSERT for a whole batch of audit rows, its rows sent as a single JSON parameter.

Under load the writer shares the process, and its GIL, with the event loop that answers
Slack. Binding a batch value by value costs Python work, and every call into aiosqlite's
thread costs a GIL handover, which the event loop pays as much as the thread. So a batch is
one JSON text, made by the json module's C encoder, and one statement, sent in one call on the
driver's own connection outside any transaction (a single statement is atomic by itself). The
database takes the rows apart (SQLite's json_each, PostgreSQL's json_array_elements) and
clips values to their columns' lengths, so Python only has to clean the rare value a
database would refuse.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String

from bot.store.schema import audit_records

# A row as it is sent: the time as UTC text, then every other column, in the table's order.
Row = Sequence[str | None]

_COLUMNS = [column for column in audit_records.columns if column.name != "id"]
# What json.dumps writes, with its default ensure_ascii, for a NUL and for any UTF-16
# surrogate: either may need cleaning (see encode).
_SUSPECT_ESCAPES = ("\\u0000", "\\ud")


def utc_text(at: datetime) -> str:
    """`at` as both databases read it here: naive UTC, to the microsecond.

    It is also the text SQLAlchemy writes and parses for a DateTime on SQLite, so rows
    inserted here read back as those it inserts.
    """
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def encode(rows: Sequence[Row]) -> str:
    """The rows as one JSON array, every value a database would refuse cleaned first.

    Slack IDs and CAMS IDs are ASCII, so the usual batch needs one scan of its text. Only a
    batch that holds an escaped NUL or a surrogate (a lone one, or half of an emoji's pair) is
    encoded again with each of its values cleaned.
    """
    text = _dumps(rows)
    if any(escape in text for escape in _SUSPECT_ESCAPES):
        text = _dumps([[clean(value) for value in row] for row in rows])
    return text


def _dumps(rows: Sequence[Row]) -> str:
    # default=str: a value of another type, which typed callers do not send, is written as
    # its text rather than failing the batch, and the writer with it.
    return json.dumps(rows, separators=(",", ":"), default=str)


def clean(value: str | None) -> str | None:
    """`value` as PostgreSQL takes it: no NUL, no lone surrogate.

    Values come from people (a flow ID typed into Slack); one the database refused would
    fail its whole batch on every retry.
    """
    # Not a str: typed callers send none, and _dumps writes it as its text.
    if not isinstance(value, str) or (value.isascii() and "\x00" not in value):
        return value
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


async def insert(driver: Any, dialect: str, payload: str) -> None:
    """Insert the rows `payload` holds (see encode) in one statement.

    `driver` is the driver's own connection, aiosqlite's ("sqlite") or asyncpg's
    ("postgresql"), with no transaction open.
    """
    if dialect == "sqlite":
        # One call into the connection's thread: execute_fetchall runs the statement and
        # drops its cursor there.
        await driver.execute_fetchall(insert_sql(dialect), (payload,))
    else:
        await driver.execute(insert_sql(dialect), payload)


@functools.cache
def insert_sql(dialect: str) -> str:
    """The INSERT, for `dialect` ("sqlite" or "postgresql"), of the rows in its one parameter."""
    names = ", ".join(column.name for column in _COLUMNS)
    if dialect == "sqlite":
        values = [
            _clipped(f"json_extract(value, '$[{index}]')", column.type, "substr({}, 1, {})")
            for index, column in enumerate(_COLUMNS)
        ]
        source = "json_each(?)"
    else:
        values = [
            _clipped(f"(r ->> {index})", column.type, "left({}, {})")
            for index, column in enumerate(_COLUMNS)
        ]
        values[0] = f"({values[0]}::timestamp AT TIME ZONE 'UTC')"
        source = "json_array_elements($1::text::json) AS r"
    # Names and positions from the schema only: no value is ever part of the text.
    return f"INSERT INTO audit_records ({names}) SELECT {', '.join(values)} FROM {source}"  # noqa: S608


def _clipped(value: str, kind: object, clip: str) -> str:
    length = kind.length if isinstance(kind, String) else None
    return clip.format(value, length) if length else value
