"""The tables, in SQLAlchemy Core: the hot path is one insert, and Core keeps it one statement.

The migrations in versions/ create exactly this, with slack_sdk's installation tables
(bot.store.install_tables); tests/unit/store/test_migrations.py compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
    false,
)

from bot.store.limits import (
    ID_LENGTH,
    KIND_LENGTH,
    LEASE_LENGTH,
    NAME_LENGTH,
    OUTCOME_LENGTH,
    REASON_LENGTH,
    STATE_LENGTH,
    STATUS_LENGTH,
    TS_LENGTH,
)

# Named constraints: the same names on SQLite and PostgreSQL, so that migrations can name them.
metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out, on either database.

    SQLite has no time zones: SQLAlchemy would silently drop the offset. So values are
    stored as UTC there, and come back marked as UTC. A naive datetime is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: give it a time zone")
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite numbers rows by itself only for an INTEGER primary key; a BIGINT one stays NULL.
_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

audit_records = Table(
    "audit_records",
    metadata,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("team_id", String(ID_LENGTH), nullable=False),
    Column("channel_id", String(ID_LENGTH), nullable=False),
    Column("user_id", String(ID_LENGTH), nullable=False),
    Column("flow_id", String(ID_LENGTH), nullable=True),
    Column("space_id", String(ID_LENGTH), nullable=True),
    # given, shared, refused or failed (bot.store.audit.AuditOutcome); no CHECK, so that a new
    # outcome needs no migration.
    Column("outcome", String(OUTCOME_LENGTH), nullable=False),
    Column("reason", String(REASON_LENGTH), nullable=True),
    Column("request_id", String(ID_LENGTH), nullable=True),
    # One per filter of `flowpreview audit`, newest first; `at` alone also serves the purge.
    Index(None, "at"),
    Index(None, "user_id", "at"),
    Index(None, "flow_id", "at"),
    # A person's recent previews (AuditTrail.recent_flows), for their Home tab.
    Index(None, "team_id", "user_id", "at"),
)

# Which CAMS space a channel's previews come from.
channel_settings = Table(
    "channel_settings",
    metadata,
    Column("team_id", String(ID_LENGTH), primary_key=True),
    Column("channel_id", String(ID_LENGTH), primary_key=True),
    Column("space_id", String(ID_LENGTH), nullable=False),
    Column("updated_by", String(ID_LENGTH), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Who may preview a space's flows: a channel, a person or a user group.
access_rules = Table(
    "access_rules",
    metadata,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("space_id", String(ID_LENGTH), nullable=False),
    # channel, user or usergroup
    Column("kind", String(KIND_LENGTH), nullable=False),
    Column("subject", String(ID_LENGTH), nullable=False),
    Column("created_by", String(ID_LENGTH), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("space_id", "kind", "subject"),
)

# The spaces a workspace may use at all.
workspace_spaces = Table(
    "workspace_spaces",
    metadata,
    Column("team_id", String(ID_LENGTH), primary_key=True),
    Column("space_id", String(ID_LENGTH), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

# The nonces of OAuth states already used, each until its state expires: a state is good once.
oauth_states = Table(
    "oauth_states",
    metadata,
    Column("state", String(STATE_LENGTH), primary_key=True),
    Column("expire_at", UtcDateTime(), nullable=False),
    # Nonces of expired states are purged by this.
    Index(None, "expire_at"),
)

# The flows a person pinned to their Home tab (bot.store.pins): IDs only, never a preview's link.
pins = Table(
    "pins",
    metadata,
    Column("team_id", String(ID_LENGTH), primary_key=True),
    Column("user_id", String(ID_LENGTH), primary_key=True),
    Column("flow_id", String(ID_LENGTH), primary_key=True),
    # "" for the deployment's default space: a primary key column cannot be NULL.
    Column("space_id", String(ID_LENGTH), primary_key=True),
    Column("pinned_at", UtcDateTime(), nullable=False),
    # A person's pins, newest first, and their count.
    Index(None, "team_id", "user_id", "pinned_at"),
)

# The flows, and whole spaces, each channel hears about (bot.store.watches). IDs only: never a
# preview's link.
watches = Table(
    "watches",
    metadata,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("team_id", String(ID_LENGTH), nullable=False),
    Column("channel_id", String(ID_LENGTH), nullable=False),
    Column("space_id", String(ID_LENGTH), nullable=False),
    # "" for a watch of the whole space: a unique constraint would let NULLs repeat.
    Column("flow_id", String(ID_LENGTH), nullable=False),
    Column("created_by", String(ID_LENGTH), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # Why the watch stopped hearing (CAMS refused its flow); NULL while it is active.
    Column("paused_reason", String(REASON_LENGTH), nullable=True),
    UniqueConstraint("team_id", "channel_id", "space_id", "flow_id"),
    # Who watches a flow, or its space, when it changes.
    Index(None, "space_id", "flow_id"),
)

# Each flow's state as last seen: what the next look compares with, across restarts.
flow_states = Table(
    "flow_states",
    metadata,
    Column("space_id", String(ID_LENGTH), primary_key=True),
    Column("flow_id", String(ID_LENGTH), primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    # NULL while no look has told the status.
    Column("status", String(STATUS_LENGTH), nullable=True),
    Column("removed", Boolean(), nullable=False, server_default=false()),
    Column("seen_at", UtcDateTime(), nullable=False),
)

# The spaces whose whole flow list was recorded once: a flow first seen after that is new, one
# first seen before it was merely there already.
listed_spaces = Table(
    "listed_spaces",
    metadata,
    Column("space_id", String(ID_LENGTH), primary_key=True),
    Column("listed_at", UtcDateTime(), nullable=False),
)

# Each change seen: a status changed, a flow appeared, or one was removed.
flow_changes = Table(
    "flow_changes",
    metadata,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("space_id", String(ID_LENGTH), nullable=False),
    Column("flow_id", String(ID_LENGTH), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    # status, new or removed (bot.store.watches.ChangeKind)
    Column("kind", String(KIND_LENGTH), nullable=False),
    Column("old_status", String(STATUS_LENGTH), nullable=True),
    Column("new_status", String(STATUS_LENGTH), nullable=True),
    Column("seen_at", UtcDateTime(), nullable=False),
    Index(None, "seen_at"),
)

# One row per change and channel to tell: the message's progress, so that each is posted once.
watch_deliveries = Table(
    "watch_deliveries",
    metadata,
    Column("change_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("team_id", String(ID_LENGTH), primary_key=True),
    Column("channel_id", String(ID_LENGTH), primary_key=True),
    # pending, posting, posted or failed (bot.store.watches.DeliveryState)
    Column("state", String(KIND_LENGTH), nullable=False),
    Column("reason", String(REASON_LENGTH), nullable=True),
    Column("claimed_at", UtcDateTime(), nullable=True),
    Column("posted_at", UtcDateTime(), nullable=True),
    Column("message_ts", String(TS_LENGTH), nullable=True),
    # The pending ones, and the ones a replica may have left posting.
    Index(None, "state"),
)

# The message in each channel whose thread holds a flow's later changes.
watch_threads = Table(
    "watch_threads",
    metadata,
    Column("team_id", String(ID_LENGTH), primary_key=True),
    Column("channel_id", String(ID_LENGTH), primary_key=True),
    Column("space_id", String(ID_LENGTH), primary_key=True),
    Column("flow_id", String(ID_LENGTH), primary_key=True),
    Column("parent_ts", String(TS_LENGTH), nullable=False),
)

# Work that one replica at a time does (polling the watched flows): who holds it, and until when.
leases = Table(
    "leases",
    metadata,
    Column("name", String(LEASE_LENGTH), primary_key=True),
    Column("holder", String(LEASE_LENGTH), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)
