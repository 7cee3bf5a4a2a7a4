"""The space and key the shared catalog's tests store snapshots under."""

from __future__ import annotations

from bot.preview.catalog import SpaceKey

SPACE = "space-a"
KEY: SpaceKey = ("acct", SPACE)
