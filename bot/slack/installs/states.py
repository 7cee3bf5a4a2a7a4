"""The OAuth `state` of an install: signed and expiring, recorded only when used, and once.

Opening the install page writes nothing, so no number of visits can stand in a real install's
way: the state carries its own expiry and nonce, with an HMAC over both keyed from the app's
client secret, which every replica holds. When Slack sends the person back, the signature and
the expiry are checked first; then the nonce is recorded with one INSERT on the table's primary
key, so of two redirects carrying one state exactly one gets through, whichever replica each
reaches. Only signed, unexpired states are ever recorded, and their rows are purged once the
state has expired: the table grows no faster than real redirects arrive.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import WRITE_LOCK
from bot.store.schema import oauth_states

log = logging.getLogger(__name__)

# As long as Slack's consent screen may reasonably stay open; Bolt's cookie lasts as long.
STATE_EXPIRATION_S = 600
# A used nonce is kept this long past its state's expiry, so that a replica whose clock runs
# behind (by up to this much) still finds it rather than taking the state as new. Only real
# redirects record one, so keeping them longer costs next to nothing.
PURGE_GRACE_S = STATE_EXPIRATION_S
_NONCE_BYTES = 16
# What this module makes: `<expiry>.<nonce>.<mac>`, epoch seconds and unpadded base64url.
_STATE = re.compile(r"([0-9]{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})")
# The state key is the client secret's, kept apart from any other use of it.
_KEY_PURPOSE = b"flowpreview oauth state v1"


def state_key(client_secret: str) -> bytes:
    """The key states are signed with, derived from the app's client secret."""
    return hmac.digest(client_secret.encode(), _KEY_PURPOSE, hashlib.sha256)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SignedStateStore(AsyncOAuthStateStore):
    """Bolt's state store: signed states, their nonces recorded on use (table `oauth_states`)."""

    def __init__(
        self,
        engine: AsyncEngine,
        key: bytes,
        *,
        expiration_s: int = STATE_EXPIRATION_S,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        # On SQLite the purge and the insert take the write lock at once: a transaction that
        # read first could be refused its write, and a good state with it.
        self._engine = engine.execution_options(**{WRITE_LOCK: True})
        self._key = key
        self._lifetime_s = expiration_s
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        """The logger Bolt may write to on this store's behalf."""
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        """A new state, valid for the expiry. Writes nothing."""
        expiry = int(self._clock().timestamp()) + self._lifetime_s
        nonce = secrets.token_urlsafe(_NONCE_BYTES)
        return f"{expiry}.{nonce}.{self._mac(expiry, nonce)}"

    async def async_consume(self, state: str) -> bool:
        """Whether `state` is one of ours, unexpired and now used: true once at most."""
        match = _STATE.fullmatch(state) if state else None
        if match is None:
            return False
        text_expiry, nonce, mac = match.groups()
        expiry = int(text_expiry)
        if not hmac.compare_digest(mac, self._mac(expiry, nonce)):
            return False
        now = self._clock()
        expire_at = datetime.fromtimestamp(expiry, UTC)
        if expire_at <= now:
            return False
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    delete(oauth_states).where(
                        oauth_states.c.expire_at <= now - timedelta(seconds=PURGE_GRACE_S)
                    )
                )
                # The primary key refuses a nonce already recorded, by any replica.
                await connection.execute(
                    insert(oauth_states).values(state=nonce, expire_at=expire_at)
                )
        except IntegrityError:
            return False
        return True

    def _mac(self, expiry: int, nonce: str) -> str:
        digest = hmac.digest(self._key, f"{expiry}.{nonce}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
