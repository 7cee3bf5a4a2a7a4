"""Flow watches: the watches, the flows' last-seen states, the changes and their deliveries,
the threads they go to, and the leases that let one replica poll at a time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-04

Written by hand to equal bot/store/schema.py at this revision; the migration tests check it.
Like 0001 it imports nothing of the bot's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite numbers rows by itself only for an INTEGER primary key.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(64), nullable=False)


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "watches",
        sa.Column("id", _BIG_ID, nullable=False, autoincrement=True),
        _id("team_id"),
        _id("channel_id"),
        _id("space_id"),
        _id("flow_id"),
        _id("created_by"),
        _time("created_at"),
        sa.Column("paused_reason", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_watches"),
        sa.UniqueConstraint(
            "team_id",
            "channel_id",
            "space_id",
            "flow_id",
            name="uq_watches_team_id_channel_id_space_id_flow_id",
        ),
    )
    op.create_index("ix_watches_space_id_flow_id", "watches", ["space_id", "flow_id"])
    op.create_table(
        "flow_states",
        _id("space_id"),
        _id("flow_id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False, server_default=sa.false()),
        _time("seen_at"),
        sa.PrimaryKeyConstraint("space_id", "flow_id", name="pk_flow_states"),
    )
    op.create_table(
        "listed_spaces",
        _id("space_id"),
        _time("listed_at"),
        sa.PrimaryKeyConstraint("space_id", name="pk_listed_spaces"),
    )
    op.create_table(
        "flow_changes",
        sa.Column("id", _BIG_ID, nullable=False, autoincrement=True),
        _id("space_id"),
        _id("flow_id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("old_status", sa.String(32), nullable=True),
        sa.Column("new_status", sa.String(32), nullable=True),
        _time("seen_at"),
        sa.PrimaryKeyConstraint("id", name="pk_flow_changes"),
    )
    op.create_index("ix_flow_changes_seen_at", "flow_changes", ["seen_at"])
    op.create_table(
        "watch_deliveries",
        sa.Column("change_id", sa.BigInteger(), nullable=False, autoincrement=False),
        _id("team_id"),
        _id("channel_id"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        _time("claimed_at", nullable=True),
        _time("posted_at", nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("change_id", "team_id", "channel_id", name="pk_watch_deliveries"),
    )
    op.create_index("ix_watch_deliveries_state", "watch_deliveries", ["state"])
    op.create_table(
        "watch_threads",
        _id("team_id"),
        _id("channel_id"),
        _id("space_id"),
        _id("flow_id"),
        sa.Column("parent_ts", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint(
            "team_id", "channel_id", "space_id", "flow_id", name="pk_watch_threads"
        ),
    )
    op.create_table(
        "leases",
        _id("name"),
        _id("holder"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("watch_threads")
    op.drop_index("ix_watch_deliveries_state", table_name="watch_deliveries")
    op.drop_table("watch_deliveries")
    op.drop_index("ix_flow_changes_seen_at", table_name="flow_changes")
    op.drop_table("flow_changes")
    op.drop_table("listed_spaces")
    op.drop_table("flow_states")
    op.drop_index("ix_watches_space_id_flow_id", table_name="watches")
    op.drop_table("watches")
