"""STS-style temporary credentials that anyone holding the same secret can check, with no table
shared between the issuer and the checker (they may be separate processes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass

from bot.cams.credentials import Credentials
from bot.config import Secret

_KEY_ID = re.compile(r"STS\.(?P<account>[A-Za-z0-9_-]+)\.(?P<expires>[0-9]+)\.(?P<nonce>[0-9a-f]+)")


@dataclass(frozen=True, slots=True)
class Grant:
    """Issued credentials and the account (uid) they act for."""

    credentials: Credentials
    account: str

    @property
    def expires_at(self) -> float:
        """When the credentials stop working (Unix time)."""
        return self.credentials.expires_at or 0.0


class KeyMint:
    """Issues `STS.<account>.<expiry>.<nonce>` AccessKey IDs whose secret and token are MACs of
    the ID: checking one only takes recomputing them."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)

    def issue(self, account: str, expires_at: float) -> Credentials:
        """New credentials for `account`, expiring at `expires_at` (whole seconds, as STS's)."""
        key_id = f"STS.{account}.{math.floor(expires_at)}.{secrets.token_hex(8)}"
        grant = self.check(key_id)
        if grant is None:
            raise ValueError(f"account {account!r} cannot be written in an AccessKey ID")
        return grant.credentials

    def check(self, access_key_id: str) -> Grant | None:
        """The grant behind an AccessKey ID this mint issued, expired or not; None for others."""
        match = _KEY_ID.fullmatch(access_key_id)
        if match is None:
            return None
        secret = base64.urlsafe_b64encode(self._mac("secret", access_key_id)).decode().rstrip("=")
        # Standard base64, like real tokens: '+', '/' and '=' test how headers carry them.
        token = "CAIS" + base64.b64encode(self._mac("token", access_key_id)).decode()
        credentials = Credentials(
            access_key_id, Secret(secret), Secret(token), float(match["expires"])
        )
        return Grant(credentials, match["account"])

    def _mac(self, purpose: str, key_id: str) -> bytes:
        return hmac.new(self._secret, f"{purpose}\0{key_id}".encode(), hashlib.sha256).digest()
