"""What each temporary-credentials provider of the chain amounts to once its settings are read."""

from __future__ import annotations

from dataclasses import dataclass

from bot.cams.credentials.refresh import Fetcher


@dataclass(frozen=True, slots=True)
class Provider:
    """A fetcher of temporary credentials, the account they act for, and a name for the logs."""

    name: str
    account: str
    fetcher: Fetcher
