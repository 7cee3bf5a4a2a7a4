"""What the access tests over Slack share: the spaces, the people, the guarded bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.access.policy import AccessDefault
from bot.access.settings import AccessSettings
from bot.preview.spaces import SpaceChoice
from bot.standin.harness.slack_bot import Bot, running_bot
from bot.standin.slack import payloads
from bot.store.settings import StoreSettings
from bot.store.store import Store

SPACE = "cams-demo"
OTHER = "cams-acme"
MEMBER = payloads.DEFAULT_WHO
ADMIN = payloads.ADMIN_WHO


@asynccontextmanager
async def guarded_bot(
    database_url: str, default: AccessDefault = AccessDefault.OPEN, **kwargs: Any
) -> AsyncIterator[tuple[Bot, Store]]:
    """The bot with a store and access rules, CAMS_CUST_SPACE_ID=cams-demo and two spaces."""
    store = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    access = AccessSettings(default=default, admin_users=frozenset({ADMIN.user_id}))
    async with running_bot(store=store, access=access, default_space=SPACE, **kwargs) as bot:
        bot.service.spaces = (SpaceChoice(SPACE, "Demo"), SpaceChoice(OTHER, "Acme"))
        yield bot, store


def listed_spaces(*spaces: str) -> tuple[SpaceChoice, ...]:
    """The spaces as CAMS_SPACES would list them: the only ones settings may name."""
    return tuple(SpaceChoice(space, space, listed=True) for space in spaces)
