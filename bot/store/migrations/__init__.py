"""Alembic's scripts for bot.store.migrate. A package so that a built wheel ships them."""
