"""The CAMS client: signed calls to Chat App Message Service, its credentials and its errors.

It knows nothing of Slack, the access rules or the store: everything above it imports it, never
the other way round (the import-linter contracts in pyproject.toml check this).
"""
