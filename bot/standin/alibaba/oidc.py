"""A cluster's OIDC issuer, as RRSA on ACK has one: it signs service-account tokens (JWTs) that
STS accepts for AssumeRoleWithOIDC. HS256 with a shared secret stands in for the RS256 keys and
JWKS discovery of a real issuer; what STS checks is the same: signature, issuer, audience and
expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

AUDIENCE = "sts.aliyuncs.com"
DEFAULT_ISSUER = "https://oidc-ack.standin.invalid/cluster"
DEFAULT_SUBJECT = "system:serviceaccount:flowpreview:flowpreview"


class TokenError(Exception):
    """Why STS refuses a token: an STS error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class OidcIssuer:
    """Issues and checks service-account tokens; `clock` is wall time."""

    def __init__(
        self,
        *,
        issuer: str = DEFAULT_ISSUER,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._clock = clock

    def token(self, subject: str = DEFAULT_SUBJECT, *, lifetime: float = 3600) -> str:
        """A fresh token for `subject`, good for `lifetime` seconds; its `jti` is unique."""
        now = int(self._clock())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": [AUDIENCE],
            "iat": now,
            "exp": now + int(lifetime),
            "jti": secrets.token_hex(8),
        }
        head = _encode({"alg": "HS256", "typ": "JWT"}) + "." + _encode(claims)
        return head + "." + _b64(self._sign(head))

    def check(self, token: str) -> dict[str, Any]:
        """The token's claims, or TokenError as STS words it."""
        parts = token.strip().split(".")
        if len(parts) != 3:
            raise TokenError("AuthenticationFail.OIDCToken.Invalid", "The OIDC token is not a JWT.")
        head = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(_b64(self._sign(head)), parts[2]):
            raise TokenError(
                "AuthenticationFail.OIDCToken.Invalid", "The OIDC token signature is invalid."
            )
        claims = json.loads(_unb64(parts[1]))
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if claims.get("iss") != self.issuer or AUDIENCE not in audiences:
            raise TokenError(
                "AuthenticationFail.OIDCToken.Invalid",
                "The OIDC token issuer or audience is wrong.",
            )
        if claims.get("exp", 0) <= self._clock():
            raise TokenError("AuthenticationFail.OIDCToken.Expired", "The OIDC token has expired.")
        return dict(claims)

    def _sign(self, head: str) -> bytes:
        return hmac.new(self._secret, head.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _encode(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())
