"""Reading a request body within bounds, and telling whether it is something Slack sends.

Every read is bounded in size and in time. The shape check runs on verified bodies only, and
it parses them the way Bolt will afterwards, so that nothing a signed request carries can make
Bolt or a listener fail: a body Slack would never send is refused here with a reason.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

# Slack's largest bodies are message shortcuts carrying a whole message; 1 MiB is far above.
MAX_BODY_BYTES = 1 << 20
# Slack payloads nest about ten levels; a listener walking a deeper one could run out of stack.
MAX_DEPTH = 64
MAX_FORM_FIELDS = 100
FORM = "application/x-www-form-urlencoded"
SLASH_COMMAND_OR_SSL_CHECK = re.compile(r"(?:^|&)(?:command=(?:%2[Ff]|/)|ssl_check=)")
JSON = "application/json"


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


def check_shape(content_type: str, text: str) -> None:
    """Raise Refused (400) unless `text` is a form or JSON body of a kind Slack sends."""
    media = content_type.partition(";")[0].strip().lower()
    if media == FORM:
        _check_form(text)
    elif media == JSON:
        _check_document(text)
    else:
        raise Refused(400, "not a Slack request: unexpected Content-Type")


def _check_form(text: str) -> None:
    if "payload" not in text:
        # Bolt reads such a form with parse_qsl, which cannot fail; a slash command or an
        # ssl_check is all there is to recognise, and a look for its field costs far less
        # than parsing the form twice on the hot path.
        if not SLASH_COMMAND_OR_SSL_CHECK.search(text):
            raise Refused(400, "not a Slack request: a form with neither a command nor a payload")
        return
    try:
        form = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise Refused(400, "not a Slack request: unreadable form") from None
    if "payload" in form:
        (payload, *others) = form["payload"]
        if others:
            raise Refused(400, "not a Slack request: more than one payload")
        _check_document(payload)
    elif "command" in form:
        if not all(command.startswith("/") for command in form["command"]):
            raise Refused(400, "not a Slack request: not a slash command")
    elif "ssl_check" not in form:
        raise Refused(400, "not a Slack request: a form with neither a command nor a payload")


def _check_document(text: str) -> None:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, "not a Slack request: unreadable JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("type"), str):
        raise Refused(400, "not a Slack request: JSON that is not an object with a type")
    if not _shallow(document):
        raise Refused(400, f"not a Slack request: JSON nested deeper than {MAX_DEPTH}")


def _shallow(document: dict[str, Any]) -> bool:
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True
