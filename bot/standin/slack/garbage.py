"""Web API answers that are not Slack's JSON object: what a proxy in front of Slack, or Slack
having a bad moment, sends instead. `FakeSlack.garble(method, Garbage...)` makes a method
answer so."""

from __future__ import annotations

from enum import StrEnum

from aiohttp import web

# What Envoy, in front of many HTTP services, answers when it cannot reach the one behind it.
UPSTREAM_ERROR = "upstream connect error or disconnect/reset before headers. reset reason: overflow"
RETRY_AFTER_S = 30


class Garbage(StrEnum):
    """An answer that is not a JSON object with `ok`."""

    UPSTREAM_ERROR = "upstream-error"  # HTTP 503, text/plain, Envoy's "upstream connect error"
    GATEWAY_PAGE = "gateway-page"  # HTTP 502, an HTML page
    INVALID_JSON = "invalid-json"  # HTTP 200, application/json that does not parse
    JSON_ARRAY = "json-array"  # HTTP 200, a JSON array
    JSON_STRING = "json-string"  # HTTP 200, a JSON string
    NOT_UTF8 = "not-utf8"  # HTTP 200, application/json with a byte that is not UTF-8
    RATE_LIMITED = "rate-limited"  # HTTP 429, Slack's `ratelimited`, Retry-After: 30

    def response(self) -> web.Response:
        """This answer, as the fake sends it."""
        if self is Garbage.UPSTREAM_ERROR:
            return web.Response(status=503, text=UPSTREAM_ERROR, content_type="text/plain")
        if self is Garbage.GATEWAY_PAGE:
            page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
            return web.Response(status=502, text=page, content_type="text/html")
        if self is Garbage.INVALID_JSON:
            return web.Response(text='{"ok": true, "user": {', content_type="application/json")
        if self is Garbage.JSON_ARRAY:
            return web.json_response([{"ok": True}])
        if self is Garbage.JSON_STRING:
            return web.json_response("ok")
        if self is Garbage.NOT_UTF8:
            return web.Response(body=b'{"ok": true, "x": "\xff"}', content_type="application/json")
        return web.json_response(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
