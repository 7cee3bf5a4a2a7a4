"""Pinned flows for the Home tab, and the index a person's recent previews are read by.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03

Written by hand to equal bot/store/schema.py at this revision; the migration tests check it.
Like 0001 it imports nothing of the bot's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(64), nullable=False)


def upgrade() -> None:
    op.create_index(
        "ix_audit_records_team_id_user_id_at", "audit_records", ["team_id", "user_id", "at"]
    )
    op.create_table(
        "pins",
        _id("team_id"),
        _id("user_id"),
        _id("flow_id"),
        _id("space_id"),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", "flow_id", "space_id", name="pk_pins"),
    )
    op.create_index(
        "ix_pins_team_id_user_id_pinned_at", "pins", ["team_id", "user_id", "pinned_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_pins_team_id_user_id_pinned_at", table_name="pins")
    op.drop_table("pins")
    op.drop_index("ix_audit_records_team_id_user_id_at", table_name="audit_records")
