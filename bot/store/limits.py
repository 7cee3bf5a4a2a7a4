"""The lengths of the tables' text columns: the schema declares them, the code clips to them.

Apart from bot.store.schema, which is SQLAlchemy's, so that the code serving people needs no
SQLAlchemy to know them.
"""

# Slack IDs are a dozen characters and CAMS IDs a few dozen; Slack promises no fixed length,
# so the columns leave room. The audit trail's INSERT clips values to these
# (bot.store.audit_insert).
ID_LENGTH = 64
OUTCOME_LENGTH = 16
KIND_LENGTH = 16
REASON_LENGTH = 200
# A flow's name, and a flow's status as CAMS gives it (PUBLISHED, THROTTLED, ...).
NAME_LENGTH = 200
STATUS_LENGTH = 32
# A Slack message's ts ("1700000000.123456") and a lease's name.
TS_LENGTH = 32
LEASE_LENGTH = 64
# The nonce of an OAuth state: 22 characters as bot.slack.installs.states makes them.
STATE_LENGTH = 64
