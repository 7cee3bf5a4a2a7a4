"""Reading a request body within bounds, and telling whether it is something Slack sends.

Every read is bounded in size and in time. The shape check runs on verified bodies only, on
what Bolt parsed (one parse, by Bolt's own rules), so that nothing a signed request carries
can make Bolt or a listener fail: a body Slack would never send is refused with a reason.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

# Slack's largest bodies are message shortcuts carrying a whole message; 1 MiB is far above.
MAX_BODY_BYTES = 1 << 20
# Slack payloads nest about ten levels; a listener walking a deeper one could run out of stack.
MAX_DEPTH = 64
# Fields Bolt reads, wherever they appear, while it builds a request's context and routes it;
# Slack gives them these types, and anything else would fail inside Bolt, not be refused.
FIELD_KINDS: dict[str, type | tuple[type, ...]] = {
    "type": str,
    "team": (dict, str),
    "user": (dict, str),
    "channel": (dict, str),
    "enterprise": (dict, str),
    "event": dict,
    "message": dict,
    "previous_message": dict,
    "item": dict,
    "assistant_thread": dict,
    "view": dict,
    "container": dict,
}
LIST_OF_OBJECTS = ("authorizations", "actions")


class Refused(Exception):
    """A request the server answers with `status` and no further work; `reason` is for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: web.Request, *, within: float, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or Refused: 413 beyond `limit` bytes, 408 if it takes over `within` s."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise Refused(413, "body too large")
    if request.content.is_eof():
        # The common case: the whole body came with the headers, so no wait is needed.
        buffered = request.content.read_nowait()
        if len(buffered) > limit:
            raise Refused(413, "body too large")
        return buffered
    body = bytearray()
    try:
        async with asyncio.timeout(within):
            async for chunk in request.content.iter_any():
                body += chunk
                if len(body) > limit:
                    raise Refused(413, "body too large")
    except TimeoutError:
        raise Refused(408, "body too slow") from None
    return bytes(body)


def decode(body: bytes) -> str:
    """The body as text: Slack sends UTF-8 whatever a Content-Type's charset claims."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None


def check_shape(body: object) -> None:
    """Raise Refused (400) unless `body`, as Bolt parsed it, is something Slack sends.

    That is a slash command, an ssl_check, or an object with a `type` (an interaction payload
    or an Events API callback), nested at most MAX_DEPTH deep, whose fields that Bolt reads on
    its way to a listener have the types Slack gives them.
    """
    if not isinstance(body, dict):
        raise Refused(400, "not a Slack request: not an object")
    command = body.get("command")
    if command is not None:
        if not isinstance(command, str) or not command.startswith("/"):
            raise Refused(400, "not a Slack request: not a slash command")
    elif "ssl_check" not in body and not isinstance(body.get("type"), str):
        raise Refused(400, "not a Slack request: neither a command nor an object with a type")
    problem = _walk(body)
    if problem is not None:
        raise Refused(400, f"not a Slack request: {problem}")


def _walk(document: dict[str, Any]) -> str | None:
    """What is wrong with the document's depth or field types, if anything."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH}"
        if isinstance(node, dict):
            for key, kinds in FIELD_KINDS.items():
                value = node.get(key)
                if value is not None and not isinstance(value, kinds):
                    return f"a {key} field of the wrong type"
            for key in LIST_OF_OBJECTS:
                value = node.get(key)
                if value is not None and not (
                    isinstance(value, list) and all(isinstance(item, dict) for item in value)
                ):
                    return f"a {key} field that is not a list of objects"
            children: Any = node.values()
        else:
            children = node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return None
