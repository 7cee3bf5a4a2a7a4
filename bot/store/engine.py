"""A SQLAlchemy AsyncEngine, tuned for SQLite or PostgreSQL, for what needs SQLAlchemy: Alembic's
migrations and slack_sdk's installation store. The bot's own tables go through
bot.store.database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# The same bounds as the bot's own connections (bot.store.database).
from bot.store.database import (
    BUSY_TIMEOUT_MS,
    CONNECT_TIMEOUT_S,
    POOL_OVERFLOW,
    POOL_SIZE,
    POOL_WAIT_S,
    STATEMENT_TIMEOUT_MS,
)
from bot.store.settings import StoreSettings

# An execution option: on SQLite, a transaction begun with it holds the write lock from the
# start (PostgreSQL locks what it writes as it goes).
WRITE_LOCK = "flowpreview_write_lock"


def open_engine(
    settings: StoreSettings, *, pool_size: int = POOL_SIZE, overflow: int = POOL_OVERFLOW
) -> AsyncEngine:
    """An engine on the configured database; connections open on first use; on PostgreSQL at
    most `pool_size` + `overflow` of them.

    SQL parameters stay out of error messages: they are people's IDs, and messages get logged.
    """
    path = settings.sqlite_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(_sqlalchemy_url(settings), hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        _sqlalchemy_url(settings),
        hide_parameters=True,
        # A connection the server dropped (restart, failover, idle timeout) is replaced
        # before use instead of failing the statement.
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=overflow,
        pool_timeout=POOL_WAIT_S,
        connect_args={
            "timeout": CONNECT_TIMEOUT_S,
            "server_settings": {
                "application_name": "flowpreview",
                "statement_timeout": str(STATEMENT_TIMEOUT_MS),
            },
        },
    )


def _sqlalchemy_url(settings: StoreSettings) -> str:
    return settings.url.render_as_string(hide_password=False)


def _sqlite_connect(connection: Any, _record: Any) -> None:
    # The sqlite3 module would begin transactions itself, and only before INSERT, UPDATE or
    # DELETE: a migration's DDL would run outside any. _sqlite_begin begins them instead.
    connection.isolation_level = None
    cursor = connection.cursor()
    # WAL lets the CLI read while the bot writes; foreign keys are off in SQLite by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a power cut may lose the
    # last moments of the audit trail, never corrupt it, and each batch costs no fsync.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at once: two writers that both read first could not
    # both write after, and the one refused would not wait for the lock (busy_timeout).
    immediate = connection.get_execution_options().get(WRITE_LOCK, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
