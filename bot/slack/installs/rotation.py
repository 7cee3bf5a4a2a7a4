"""Bolt's authorize for installed workspaces, with token rotation done once per workspace.

Slack's refresh tokens are single use: two processes refreshing the same one at once leave one
of them holding tokens that no longer work, and, if it saves them last, the workspace too.
So a rotation is one workspace's turn at a time: within a process an asyncio.Lock, across
replicas on PostgreSQL a transaction-scoped advisory lock. Whoever gets the turn reads the
installation again first, and finds it already rotated when another process has just done it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import FlowpreviewError
from bot.store.database import one_line

log = logging.getLogger(__name__)

# How long a request waits for another process's rotation of the same workspace: as long as
# that rotation may take (bot.slack.installs.oauth.ROTATION_TIMEOUT_S). A rotation is due two hours
# before the token expires, so one that waits in vain uses the stored token, still valid.
TURN_WAIT_S = 10.0
# Rotations on PostgreSQL at once, each holding two of the pool's connections (POOL_SIZE 5
# plus 5 overflow in bot/store/engine.py).
ROTATIONS_AT_ONCE = 3
# Bolt's default: rotate within two hours of expiry.
EXPIRATION_MINUTES = 120


class _NoTurnError(FlowpreviewError):
    """The workspace's turn did not come within TURN_WAIT_S (or could not be taken)."""


class SerialisedRotation(AsyncInstallationStoreAuthorize):
    """AsyncInstallationStoreAuthorize whose rotations take turns per workspace.

    Bolt calls `_rotate_and_save_tokens_if_necessary` while authorising a request; this
    overrides that one step and leaves the rest of Bolt's authorize as it is.
    """

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        installation_store: AsyncInstallationStore,
        client_id: str,
        client_secret: str,
        client: AsyncWebClient,
        logger: logging.Logger,
    ) -> None:
        super().__init__(
            logger=logger,
            installation_store=installation_store,
            client_id=client_id,
            client_secret=client_secret,
            token_rotation_expiration_minutes=EXPIRATION_MINUTES,
            client=client,
        )
        self._engine = engine
        # Each turn on PostgreSQL holds a connection for its lock and takes another to read
        # and save: a few at once leave the pool room for everything else, so that no
        # rotation finds it empty after Slack has issued the new tokens.
        self._turns_at_once = asyncio.Semaphore(ROTATIONS_AT_ONCE)
        # Only workspaces being rotated now have a lock: the others have been collected.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def _rotate_and_save_tokens_if_necessary(
        self, installation: Installation | None
    ) -> Installation | None:
        if installation is None or not self._due(installation):
            return None
        # Shielded: cut short between Slack issuing new tokens and their being saved, a
        # rotation would leave the workspace with no token that works.
        return await asyncio.shield(self._rotate_in_turn(installation))

    def _due(self, installation: Installation) -> bool:
        # As Bolt's rotator decides, on the wall clock, as it does.
        horizon = time.time() + self.token_rotation_expiration_minutes * 60
        bot = installation.bot_refresh_token is not None and (
            installation.bot_token_expires_at is not None
            and installation.bot_token_expires_at <= horizon
        )
        user = installation.user_refresh_token is not None and (
            installation.user_token_expires_at is not None
            and installation.user_token_expires_at <= horizon
        )
        return bot or user

    async def _rotate_in_turn(self, installation: Installation) -> Installation | None:
        workspace = installation.team_id or installation.enterprise_id or ""
        try:
            async with self._turn(workspace):
                current = await self._reread(installation)
                if current is None or not self._due(current):
                    # Uninstalled meanwhile (None: the request fails as for any workspace not
                    # installed), or just rotated by another process: its tokens, as saved.
                    return current
                return await super()._rotate_and_save_tokens_if_necessary(current)
        except _NoTurnError as busy:
            log.warning(
                "no token rotation for %s now (%s); using the stored token", workspace, busy
            )
            return None

    @asynccontextmanager
    async def _turn(self, workspace: str) -> AsyncIterator[None]:
        lock = self._locks.get(workspace)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[workspace] = lock
        try:
            async with asyncio.timeout(TURN_WAIT_S):
                await lock.acquire()
        except TimeoutError:
            raise _NoTurnError(
                f"another request was rotating for over {TURN_WAIT_S:.0f} s"
            ) from None
        try:
            if self._engine.dialect.name != "postgresql":
                # SQLite serves one process: the lock above is the whole turn.
                yield
                return
            async with (
                self._turns_at_once,
                self._engine.connect() as connection,
                connection.begin(),
            ):
                await _advisory_lock(connection, workspace, TURN_WAIT_S)
                yield
        finally:
            lock.release()

    async def _reread(self, installation: Installation) -> Installation | None:
        # The same installation as Bolt read it: the workspace's latest, or one person's when
        # Bolt asked for theirs (it carries their token then).
        person = installation.user_id if installation.user_token is not None else None
        current = await self.installation_store.async_find_installation(
            enterprise_id=installation.enterprise_id,
            team_id=installation.team_id,
            user_id=person,
            is_enterprise_install=installation.is_enterprise_install,
        )
        if current is not None and installation.user_token is None:
            # Bolt drops the installer's user token when someone else makes the request.
            current.user_token = None
            current.user_refresh_token = None
            current.user_token_expires_at = None
            current.user_scopes = None
        return current


async def _advisory_lock(connection: AsyncConnection, workspace: str, wait_s: float) -> None:
    """Take the workspace's advisory lock for the rest of the transaction, or raise _Busy."""
    try:
        # lock_timeout bounds the wait in the server, which leaves the connection usable;
        # cancelling the statement from here would not.
        await connection.execute(
            text("SELECT set_config('lock_timeout', :ms, true)"),
            {"ms": f"{int(wait_s * 1000)}ms"},
        )
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"flowpreview-rotate:{workspace}"},
        )
    except DBAPIError as exc:
        # Most likely the lock_timeout: another replica is rotating.
        raise _NoTurnError(one_line(exc)) from None
