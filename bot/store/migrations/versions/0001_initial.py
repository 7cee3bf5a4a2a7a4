"""The first schema: the audit trail, and the tables access rules will use.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Written by hand to equal bot/store/schema.py at this revision; the migration tests check it.
It imports nothing of the bot's, so that later changes to schema.py cannot change it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite numbers rows by itself only for an INTEGER primary key.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(64), nullable=False)


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("id", _BIG_ID, nullable=False, autoincrement=True),
        _time("at"),
        _id("team_id"),
        _id("channel_id"),
        _id("user_id"),
        sa.Column("flow_id", sa.String(64), nullable=True),
        sa.Column("space_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_records"),
    )
    op.create_index("ix_audit_records_at", "audit_records", ["at"])
    op.create_index("ix_audit_records_user_id_at", "audit_records", ["user_id", "at"])
    op.create_index("ix_audit_records_flow_id_at", "audit_records", ["flow_id", "at"])
    op.create_table(
        "channel_settings",
        _id("team_id"),
        _id("channel_id"),
        _id("space_id"),
        _id("updated_by"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("team_id", "channel_id", name="pk_channel_settings"),
    )
    op.create_table(
        "access_rules",
        sa.Column("id", _BIG_ID, nullable=False, autoincrement=True),
        _id("space_id"),
        sa.Column("kind", sa.String(16), nullable=False),
        _id("subject"),
        _id("created_by"),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_access_rules"),
        sa.UniqueConstraint(
            "space_id", "kind", "subject", name="uq_access_rules_space_id_kind_subject"
        ),
    )
    op.create_table(
        "workspace_spaces",
        _id("team_id"),
        _id("space_id"),
        _time("created_at"),
        sa.PrimaryKeyConstraint("team_id", "space_id", name="pk_workspace_spaces"),
    )


def downgrade() -> None:
    op.drop_table("workspace_spaces")
    op.drop_table("access_rules")
    op.drop_table("channel_settings")
    op.drop_index("ix_audit_records_flow_id_at", table_name="audit_records")
    op.drop_index("ix_audit_records_user_id_at", table_name="audit_records")
    op.drop_index("ix_audit_records_at", table_name="audit_records")
    op.drop_table("audit_records")
