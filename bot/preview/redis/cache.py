"""Previews in Redis, so that one replica's fetch serves all, expiring with the link."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.cams.actions import Action
from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowPreview
from bot.preview.cache import CacheKey, Entry, good_until
from bot.preview.redis.circuit_breaker import RedisCircuitBreaker, RedisUnavailableError

KEY_PREFIX = "flowpreview:preview"


class SharedCache:
    """Entries as JSON under `PX` = their serving life; a miss while Redis is out is a miss."""

    def __init__(
        self,
        breaker: RedisCircuitBreaker,
        *,
        negative_ttl: float,
        timer: Callable[[], float] = time.time,
    ) -> None:
        self._breaker = breaker
        self._negative_ttl = negative_ttl
        self._timer = timer

    async def get(self, key: CacheKey) -> Entry | None:
        """The entry other replicas stored for `key`, or None."""
        try:
            raw = await self._breaker.call(lambda redis: redis.get(_redis_key(key)))
        except RedisUnavailableError:
            return None
        return _decode(raw) if raw is not None else None

    async def put(self, key: CacheKey, entry: Entry) -> None:
        """Store `entry` for as long as it is good; skipped while Redis is out."""
        now = self._timer()
        life_ms = round((good_until(entry, now, self._negative_ttl) - now) * 1000)
        if life_ms <= 0:
            return
        value = json.dumps(_encode(entry), separators=(",", ":"))
        with contextlib.suppress(RedisUnavailableError):
            await self._breaker.call(lambda redis: redis.set(_redis_key(key), value, px=life_ms))


def _redis_key(key: CacheKey) -> str:
    # Hashed, so that no flow ID or space, whatever its characters, can shape the key.
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:40]
    return f"{KEY_PREFIX}:{digest}"


def _encode(entry: Entry) -> dict[str, Any]:
    if isinstance(entry, FlowPreview):
        return {
            "flow_id": entry.flow_id,
            "preview_url": entry.preview_url,
            "expires_ms": round(entry.expires_at.timestamp() * 1000),
            "request_id": entry.request_id,
        }
    return {
        "error": {
            "kind": entry.kind.value,
            "message": entry.message,
            "code": entry.code,
            "request_id": entry.request_id,
            "http_status": entry.http_status,
        }
    }


def _decode(raw: bytes | str) -> Entry | None:
    """The stored entry, or None for anything this version cannot read."""
    try:
        data = json.loads(raw)
        if "error" in data:
            error = data["error"]
            # Only previews are cached, so every stored error was GetFlowPreviewUrl's.
            return CamsError(
                ErrorKind(error["kind"]),
                str(error["message"]),
                action=Action.GET_FLOW_PREVIEW_URL,
                code=error.get("code"),
                request_id=error.get("request_id"),
                http_status=error.get("http_status"),
            )
        return FlowPreview(
            flow_id=str(data["flow_id"]),
            preview_url=str(data["preview_url"]),
            expires_at=datetime.fromtimestamp(int(data["expires_ms"]) / 1000, UTC),
            request_id=str(data["request_id"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
