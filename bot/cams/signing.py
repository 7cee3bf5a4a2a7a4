"""ACS3-HMAC-SHA256, Alibaba Cloud's "V3" request signature.

The same functions sign requests in the client and verify them in the emulator, so both sides
agree on every byte of the canonical request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def percent_encode(value: str) -> str:
    """RFC 3986 encoding of the UTF-8 bytes: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return quote(value, safe="")


def canonical_query(params: Mapping[str, str]) -> str:
    """Parameters sorted by name, names and values percent-encoded, joined as k=v&k=v."""
    return "&".join(
        f"{percent_encode(name)}={percent_encode(value)}" for name, value in sorted(params.items())
    )


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], body_sha256: str
) -> tuple[str, str]:
    """The canonical request over `headers` (all of them are signed) and its SignedHeaders list."""
    lowered = sorted((name.lower(), value.strip()) for name, value in headers.items())
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in lowered)
    signed_headers = ";".join(name for name, _ in lowered)
    request = f"{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{body_sha256}"
    return request, signed_headers


def signature(secret: str, canonical: str) -> str:
    """Hex HMAC-SHA256, keyed with the raw AccessKey secret, of the string to sign."""
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{digest}"
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def authorization(
    *,
    access_key_id: str,
    secret: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body_sha256: str = EMPTY_BODY_SHA256,
) -> str:
    """The Authorization header value for a request whose signed headers are `headers`."""
    canonical, signed_headers = canonical_request(method, path, query, headers, body_sha256)
    return (
        f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},"
        f"Signature={signature(secret, canonical)}"
    )


@dataclass(frozen=True, slots=True)
class ParsedAuthorization:
    """The three fields of an ACS3 Authorization header."""

    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> ParsedAuthorization | None:
    """Split an ACS3 Authorization header into its fields, or None when it is not one."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, field_value = part.strip().partition("=")
        if not sep:
            return None
        fields[name] = field_value
    try:
        return ParsedAuthorization(
            access_key_id=fields["Credential"],
            signed_headers=tuple(fields["SignedHeaders"].split(";")),
            signature=fields["Signature"],
        )
    except KeyError:
        return None
