"""Slack's payload fixtures, mutated and sent signed over loopback."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote, urlencode

from bot.slack.constants import EVENTS_PATH
from bot.standin.harness.slack_bot import SIGNING_SECRET, Bot
from bot.standin.slack.signing import FORM_CONTENT_TYPE, JSON_CONTENT_TYPE, signed_headers
from tests.support import DATA, log_capture

FIXTURES: dict[str, dict[str, Any]] = json.loads(
    (DATA / "slack-payloads" / "routed.json").read_text()
)


DELETE = object()


def encoded(name: str, body: dict[str, Any]) -> tuple[bytes, str]:
    """`body` as Slack sends a fixture of its kind: a form, `payload=<JSON>`, or JSON.

    A form can only carry text, so a command whose fields are not all text goes as JSON,
    which Bolt reads as well.
    """
    encoding = FIXTURES[name]["encoding"]
    if encoding == "payload":
        return b"payload=" + quote(json.dumps(body)).encode(), FORM_CONTENT_TYPE
    if encoding == "form" and all(isinstance(value, str) for value in body.values()):
        return urlencode(body).encode(), FORM_CONTENT_TYPE
    return json.dumps(body).encode(), JSON_CONTENT_TYPE


def fixture(name: str) -> dict[str, Any]:
    """A fresh copy of the body of the payload fixture `name`."""
    body: dict[str, Any] = copy.deepcopy(FIXTURES[name]["body"])
    return body


def changed(body: dict[str, Any], path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    """A copy of `body` with `value` at `path` (or the field deleted), or {} if the path's
    parent is not there to hold it."""
    copied = copy.deepcopy(body)
    node: Any = copied
    for step in path[:-1]:
        if isinstance(step, int):
            if not isinstance(node, list) or len(node) <= step:
                return {}
        elif not isinstance(node, dict) or step not in node:
            return {}
        node = node[step]
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or len(node) <= last:
            return {}
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    elif isinstance(node, dict):
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    else:
        return {}
    return copied


async def send(bot: Bot, name: str, body: dict[str, Any]) -> tuple[int, str, str]:
    """POST `body`, signed, as Slack sends a payload of its kind: status, answer, what was
    logged meanwhile."""
    data, content_type = encoded(name, body)
    headers = signed_headers(SIGNING_SECRET, data) | {"Content-Type": content_type}
    with log_capture() as logged:
        async with bot.session.post(bot.url + EVENTS_PATH, data=data, headers=headers) as r:
            status, answer = r.status, await r.text()
    return status, answer, logged.getvalue()
