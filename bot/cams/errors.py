"""The one error type of the CAMS client, and how an upstream answer maps to its kind."""

from __future__ import annotations

from enum import StrEnum

from bot.cams.actions import Action
from bot.errors import FlowpreviewError


class ErrorKind(StrEnum):
    """What went wrong, in terms a caller can act on."""

    NOT_SUBSCRIBED = "not_subscribed"
    PERMISSION_DENIED = "permission_denied"
    THROTTLED = "throttled"
    WRONG_OWNER = "wrong_owner"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    AUTH_FAILED = "auth_failed"
    SERVER_ERROR = "server_error"
    NETWORK = "network"
    MALFORMED_RESPONSE = "malformed_response"

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later without anyone changing anything."""
        return self in _RETRYABLE


_RETRYABLE = frozenset({ErrorKind.THROTTLED, ErrorKind.SERVER_ERROR, ErrorKind.NETWORK})

_AUTH_CODE_PREFIXES = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidSecurityToken",
    "MissingSecurityToken",
    "InvalidTimeStamp",
    "SignatureNonceUsed",
    "InvalidAuthorization",
    "MissingAuthorization",
)
_SERVER_CODE_PREFIXES = ("ServiceUnavailable", "InternalError", "UnknownError", "ServiceTimeout")


def classify(http_status: int, code: str | None) -> ErrorKind:
    """The kind of a non-successful answer, decided by its Code first and its HTTP status next."""
    code = code or ""
    lowered = code.lower()
    if code == "Product.Unsubscript":
        kind = ErrorKind.NOT_SUBSCRIBED
    elif code == "Ram.PermissionDeny" or code.startswith("Forbidden"):
        kind = ErrorKind.PERMISSION_DENIED
    elif code == "System.LimitControl" or code.startswith("Throttling") or http_status == 429:
        kind = ErrorKind.THROTTLED
    elif code == "Unknown.ResourceOwnerId":
        kind = ErrorKind.WRONG_OWNER
    elif code.startswith(_AUTH_CODE_PREFIXES):
        kind = ErrorKind.AUTH_FAILED
    elif code.startswith(_SERVER_CODE_PREFIXES) or http_status >= 500:
        kind = ErrorKind.SERVER_ERROR
    elif "notfound" in lowered or "notexist" in lowered or http_status == 404:
        kind = ErrorKind.NOT_FOUND
    else:
        kind = ErrorKind.BAD_REQUEST
    return kind


class CamsError(FlowpreviewError):
    """A CAMS call that did not produce its result.

    Carries what support needs (the action, Code, Message, RequestId, HTTP status,
    AccessDeniedDetail) and a kind to branch on. It never carries credentials. `action` is the
    call's action, set by the client on every error it raises (None only for errors made
    elsewhere, such as one read back from a cache).
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        access_denied_detail: str | None = None,
        retry_after: float | None = None,
        action: Action | None = None,
    ) -> None:
        self.kind = kind
        self.message = message
        self.code = code
        self.request_id = request_id
        self.http_status = http_status
        self.access_denied_detail = access_denied_detail
        self.retry_after = retry_after
        self.action = action
        super().__init__(self.describe())

    def __str__(self) -> str:
        # Described afresh: the client sets `action` on an error after it is made.
        return self.describe()

    def describe(self) -> str:
        """One line: action, code, message, RequestId and HTTP status, as far as they are known."""
        parts = [f"{self.code or self.kind.value}: {self.message}"]
        if self.action is not None:
            parts.insert(0, self.action.value)
        if self.request_id:
            parts.append(f"RequestId {self.request_id}")
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return f"CamsError(kind={self.kind.value!r}, {self.describe()!r})"
