"""One INSERT for a whole batch of audit rows, its rows sent as a single JSON parameter.

Under load the writer shares the process, and its GIL, with the event loop that answers
Slack. Binding a batch value by value costs Python work, and every call into aiosqlite's
thread costs a GIL handover, which the event loop pays as much as the thread. So a batch is
one JSON text, made by the json module's C encoder, and one statement, sent in one call on a
connection outside any transaction (a single statement is atomic by itself). The database
takes the rows apart (SQLite's json_each, PostgreSQL's json_array_elements) and clips values
to their columns' lengths, so Python only has to clean the rare value a database would refuse.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

from bot.store.database import Connection, Dialect
from bot.store.limits import ID_LENGTH, OUTCOME_LENGTH, REASON_LENGTH

# A row as it is sent: the time as UTC text (bot.store.database.utc_text), then every other
# column, in the table's order.
Row = Sequence[str | None]

# The columns a row fills, in the table's order, each with the length it is clipped to (None:
# not clipped). tests/unit/store/test_audit.py holds them to bot.store.schema.audit_records.
COLUMNS: tuple[tuple[str, int | None], ...] = (
    ("at", None),
    ("team_id", ID_LENGTH),
    ("channel_id", ID_LENGTH),
    ("user_id", ID_LENGTH),
    ("flow_id", ID_LENGTH),
    ("space_id", ID_LENGTH),
    ("outcome", OUTCOME_LENGTH),
    ("reason", REASON_LENGTH),
    ("request_id", ID_LENGTH),
)
# What json.dumps writes, with its default ensure_ascii, for a NUL and for any UTF-16
# surrogate: either may need cleaning (see encode).
_SUSPECT_ESCAPES = ("\\u0000", "\\ud")


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


async def insert(connection: Connection, payload: str) -> None:
    """Insert the rows `payload` holds (see encode) in one statement, on `connection`, which
    has no transaction open."""
    # fetch, not execute: on SQLite, execute calls into the connection's thread a second
    # time to close its cursor; fetch runs the statement and drops its cursor in one call.
    await connection.fetch(insert_sql(connection.dialect), payload)


@functools.cache
def insert_sql(dialect: Dialect) -> str:
    """The INSERT, for `dialect`, of the rows in its one parameter."""
    names = ", ".join(name for name, _ in COLUMNS)
    if dialect is Dialect.SQLITE:
        values = [
            _clipped(f"json_extract(value, '$[{index}]')", length, "substr({}, 1, {})")
            for index, (_, length) in enumerate(COLUMNS)
        ]
        source = "json_each($1)"
    else:
        values = [
            _clipped(f"(r ->> {index})", length, "left({}, {})")
            for index, (_, length) in enumerate(COLUMNS)
        ]
        values[0] = f"({values[0]}::timestamp AT TIME ZONE 'UTC')"
        # asyncpg sends a str for a text parameter; json would want it encoded by a codec.
        source = "json_array_elements($1::text::json) AS r"
    # Names and positions from COLUMNS only: no value is ever part of the text.
    return f"INSERT INTO audit_records ({names}) SELECT {', '.join(values)} FROM {source}"  # noqa: S608


def _clipped(value: str, length: int | None, clip: str) -> str:
    return clip.format(value, length) if length else value
