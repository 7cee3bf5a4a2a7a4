"""The one AsyncEngine a process uses, tuned for SQLite or PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.store.settings import StoreSettings

# A writer that finds the SQLite file locked waits this long for the lock, then fails (and
# the audit trail retries) rather than failing at once.
SQLITE_BUSY_TIMEOUT_MS = 5_000
# The bot does a few small statements at a time: a handful of connections is plenty (the audit
# trail's writer keeps one of them), and a bound keeps several replicas within the server's
# max_connections.
POOL_SIZE = 5
POOL_OVERFLOW = 5
POOL_WAIT_S = 10.0
CONNECT_TIMEOUT_S = 10.0
# No statement of ours should take long; one that does is stuck, and holds a connection.
STATEMENT_TIMEOUT_MS = 30_000
ERROR_LENGTH = 200
# An execution option: on SQLite, a transaction begun with it holds the write lock from the
# start (PostgreSQL locks what it writes as it goes).
WRITE_LOCK = "flowpreview_write_lock"


def open_engine(settings: StoreSettings) -> AsyncEngine:
    """An engine on the configured database; connections open on first use.

    SQL parameters stay out of error messages: they are people's IDs, and messages get logged.
    """
    path = settings.sqlite_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(settings.url, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        settings.url,
        hide_parameters=True,
        # A connection the server dropped (restart, failover, idle timeout) is replaced
        # before use instead of failing the statement.
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_timeout=POOL_WAIT_S,
        connect_args={
            "timeout": CONNECT_TIMEOUT_S,
            "server_settings": {
                "application_name": "flowpreview",
                "statement_timeout": str(STATEMENT_TIMEOUT_MS),
            },
        },
    )


def _sqlite_connect(connection: Any, _record: Any) -> None:
    # The sqlite3 module would begin transactions itself, and only before INSERT, UPDATE or
    # DELETE: a migration's DDL would run outside any. _sqlite_begin begins them instead.
    connection.isolation_level = None
    cursor = connection.cursor()
    # WAL lets the CLI read while the bot writes; foreign keys are off in SQLite by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a power cut may lose the
    # last moments of the audit trail, never corrupt it, and each batch costs no fsync.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at once: two writers that both read first could not
    # both write after, and the one refused would not wait for the lock (busy_timeout).
    immediate = connection.get_execution_options().get(WRITE_LOCK, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def describe_error(exc: BaseException) -> str:
    """A database error as one short line for a log or a terminal.

    SQLAlchemy's messages run on with the statement (never the parameters: see open_engine);
    the first line says what went wrong.
    """
    lines = str(exc).strip().splitlines()
    first = lines[0][:ERROR_LENGTH] if lines else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
