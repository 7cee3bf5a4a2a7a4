"""Multi-workspace installs: slack_sdk's installation tables, on the schema's metadata.

slack_sdk's installation store reads and writes these two in its own shape, so they are built
by its own code (an upgrade of slack_sdk that changes them shows in the migration tests, and
needs a migration). They live apart from bot.store.schema so that a replica serving one
workspace never loads slack_sdk's OAuth modules: only the migrations and the install flow
import this.
"""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

from bot.store.schema import metadata

slack_installations = SQLAlchemyInstallationStore.build_installations_table(
    metadata, SQLAlchemyInstallationStore.default_installations_table_name
)
slack_bots = SQLAlchemyInstallationStore.build_bots_table(
    metadata, SQLAlchemyInstallationStore.default_bots_table_name
)

__all__ = ["metadata", "slack_bots", "slack_installations"]
