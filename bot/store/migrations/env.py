"""Alembic's environment: migrations run on the connection bot.store.migrate hands over.

There is no alembic.ini and no URL here: the caller has already opened the database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

# The schema's metadata, with slack_sdk's installation tables on it.
from bot.store.install_tables import metadata


def _run() -> None:
    connection = context.config.attributes["connection"]
    if not isinstance(connection, Connection):
        raise TypeError("run migrations through bot.store.migrate, which passes a connection")
    # Batch mode lets SQLite, which cannot alter most of a table, take the same migrations.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


_run()
