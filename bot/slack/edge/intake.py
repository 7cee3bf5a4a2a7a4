"""Reading a request body within bounds, and telling whether it is something Slack sends.

Every read is bounded in size and in time. The shape check runs on verified bodies only, on
what Bolt parsed (one parse, by Bolt's own rules), so that nothing a signed request carries
can make Bolt or a listener fail: a body Slack would never send is refused with a reason.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.errors import FlowpreviewError

# Slack's largest bodies are message shortcuts carrying a whole message; 1 MiB is far above.
MAX_BODY_BYTES = 1 << 20
# Slack payloads nest about ten levels; a listener walking a deeper one could run out of stack.
MAX_DEPTH = 64
# Fields Bolt reads, wherever they appear, while it builds a request's context (in the body,
# its event, message, item... at any depth); Slack gives them these types, and anything else
# would fail inside Bolt, or in a lookup by ID, not be refused. A null counts as absent.
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
    "authorizations": list,
    "actions": list,
    "response_urls": list,
    # The IDs Bolt copies into the context, where installations and rules are looked up by them.
    "team_id": str,
    "user_id": str,
    "channel_id": str,
    "enterprise_id": str,
    "app_installed_team_id": str,
    "thread_ts": str,
    "function_execution_id": str,
    "bot_access_token": str,
}
# Of those, the lists whose items Bolt reads as objects...
LIST_OF_OBJECTS = frozenset({"authorizations", "actions", "response_urls"})
# ...and the objects whose `id` it takes for the context's team, user, channel or enterprise.
ID_HOLDERS = frozenset({"team", "user", "channel", "enterprise"})


@dataclass(frozen=True, slots=True)
class Kind:
    """What a field may hold, as Slack sends it."""

    name: str
    types: tuple[type, ...]
    non_empty: bool = False
    # Every item of a list is of this type.
    items: type | None = None
    # A text starts with one of these.
    prefixes: tuple[str, ...] = ()

    def fits(self, value: object) -> bool:
        """Whether `value` is of this kind."""
        if not isinstance(value, self.types):
            return False
        if self.non_empty and not value:
            return False
        if self.prefixes and isinstance(value, str) and not value.startswith(self.prefixes):
            return False
        return self.items is None or (
            isinstance(value, list) and all(isinstance(item, self.items) for item in value)
        )


TEXT = Kind("text", (str,))
TEXT_OR_NULL = Kind("text or null", (str, type(None)))
# Bolt posts to a response_url itself when it cannot authorise a request.
URL_OR_NULL = Kind("a URL or null", (str, type(None)), prefixes=("https://", "http://"))
OBJECT = Kind("an object", (dict,))
OBJECTS = Kind("a list of objects", (list,), items=dict)
SOME_OBJECTS = Kind("a non-empty list of objects", (list,), non_empty=True, items=dict)
TEXTS = Kind("a list of text", (list,), items=str)


@dataclass(frozen=True, slots=True)
class Field:
    """A field Bolt reads on a kind of payload: its path from the top (a number is a list's
    item), what it must hold, and whether Slack always sends it."""

    path: tuple[str | int, ...]
    kind: Kind
    required: bool = True

    @property
    def name(self) -> str:
        """The path as the log names it: `actions.0.action_id`."""
        return ".".join(str(step) for step in self.path)


# What Bolt reads on every request, whatever its type: its middleware takes `event` and its
# unhandled-request warning `view`, `actions` and `action_id`; the context takes the first
# `response_urls` entry's URL; listeners read a view's state.
COMMON_FIELDS = (
    Field(("event",), OBJECT, required=False),
    Field(("view",), OBJECT, required=False),
    Field(("view", "state"), OBJECT, required=False),
    Field(("view", "state", "values"), OBJECT, required=False),
    Field(("actions",), OBJECTS, required=False),
    Field(("action_id",), TEXT_OR_NULL, required=False),
    Field(("response_url",), URL_OR_NULL, required=False),
    Field(("response_urls",), OBJECTS, required=False),
    Field(("response_urls", 0, "response_url"), URL_OR_NULL, required=False),
)
# What Bolt reads to route each payload `type` it knows, and to hand its listener the action,
# view, options, shortcut, event or step: fields Slack always sends, of the kinds it sends.
# A key "type/second" holds what Bolt reads when SECOND_LOOK's field of that type is "second".
PAYLOAD_FIELDS: dict[str, tuple[Field, ...]] = {
    "block_actions": (
        Field(("actions",), SOME_OBJECTS),
        Field(("actions", 0, "action_id"), TEXT),
        Field(("actions", 0, "block_id"), TEXT, required=False),
    ),
    "block_suggestion": (
        Field(("action_id",), TEXT),
        Field(("block_id",), TEXT, required=False),
        Field(("value",), TEXT, required=False),
    ),
    "interactive_message": (Field(("callback_id",), TEXT), Field(("actions",), SOME_OBJECTS)),
    "dialog_submission": (Field(("callback_id",), TEXT), Field(("submission",), OBJECT)),
    "dialog_suggestion": (Field(("callback_id",), TEXT), Field(("value",), TEXT, required=False)),
    "dialog_cancellation": (Field(("callback_id",), TEXT),),
    "workflow_step_edit": (Field(("callback_id",), TEXT), Field(("workflow_step",), OBJECT)),
    "shortcut": (Field(("callback_id",), TEXT),),
    "message_action": (Field(("callback_id",), TEXT),),
    "view_submission": (
        Field(("view",), OBJECT),
        Field(("view", "callback_id"), TEXT),
        Field(("view", "type"), TEXT),
    ),
    "view_submission/workflow_step": (Field(("workflow_step",), OBJECT),),
    "view_closed": (
        Field(("view",), OBJECT),
        Field(("view", "callback_id"), TEXT),
        Field(("view", "type"), TEXT),
    ),
    "event_callback": (Field(("event",), OBJECT), Field(("event", "type"), TEXT)),
    "event_callback/function_executed": (
        Field(("event", "function_execution_id"), TEXT),
        Field(("event", "function"), OBJECT),
        Field(("event", "function", "callback_id"), TEXT),
        Field(("event", "inputs"), OBJECT, required=False),
    ),
    "event_callback/workflow_step_execute": (
        Field(("event", "callback_id"), TEXT),
        Field(("event", "workflow_step"), OBJECT),
    ),
    "event_callback/tokens_revoked": (
        Field(("event", "tokens"), OBJECT),
        Field(("event", "tokens", "oauth"), TEXTS, required=False),
        Field(("event", "tokens", "bot"), TEXTS, required=False),
    ),
    "url_verification": (Field(("challenge",), TEXT),),
    "app_rate_limited": (Field(("team_id",), TEXT),),
}
# Payload types Bolt reads further by a second field: events by the event's type, and view
# submissions by the view's (a workflow step's submission carries the step).
SECOND_LOOK: dict[str, tuple[str, ...]] = {
    "event_callback": ("event", "type"),
    "view_submission": ("view", "type"),
}
_FIELDS = {key: COMMON_FIELDS + fields for key, fields in PAYLOAD_FIELDS.items() if "/" not in key}
# What a path leads to when something on the way is missing.
_ABSENT = object()


class RefusedRequestError(FlowpreviewError):
    """A request the server answers with `status` and no further work; `reason` is for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: web.Request, *, within: float, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or RefusedRequestError: 413 beyond `limit` bytes, 408 if it takes over
    `within` s."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise RefusedRequestError(413, "body too large")
    if request.content.is_eof():
        # The common case: the whole body came with the headers, so no wait is needed.
        buffered = request.content.read_nowait()
        if len(buffered) > limit:
            raise RefusedRequestError(413, "body too large")
        return buffered
    body = bytearray()
    try:
        async with asyncio.timeout(within):
            async for chunk in request.content.iter_any():
                body += chunk
                if len(body) > limit:
                    raise RefusedRequestError(413, "body too large")
    except TimeoutError:
        raise RefusedRequestError(408, "body too slow") from None
    return bytes(body)


def decode(body: bytes) -> str:
    """The body as text: Slack sends UTF-8 whatever a Content-Type's charset claims."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedRequestError(400, "body is not UTF-8") from None


def check_shape(body: object) -> None:
    """Raise RefusedRequestError (400) unless `body`, as Bolt parsed it, is something Slack sends.

    That is a slash command, an ssl_check, or an object with a `type` (an interaction payload
    or an Events API callback), nested at most MAX_DEPTH deep, that has every field Bolt reads
    on its way to a listener (`fields_for`), and whose fields Bolt reads wherever they appear
    (FIELD_KINDS) have the types Slack gives them.
    """
    if not isinstance(body, dict):
        raise RefusedRequestError(400, "not a Slack request: not an object")
    command = body.get("command")
    if command is not None:
        if not isinstance(command, str) or not command.startswith("/"):
            raise RefusedRequestError(400, "not a Slack request: not a slash command")
    elif "ssl_check" not in body and not isinstance(body.get("type"), str):
        raise RefusedRequestError(
            400, "not a Slack request: neither a command nor an object with a type"
        )
    problem = _missing_or_mistyped(body) or _walk(body)
    if problem is not None:
        raise RefusedRequestError(400, f"not a Slack request: {problem}")


def fields_for(body: dict[str, Any]) -> tuple[Field, ...]:
    """The fields Bolt reads on `body`: COMMON_FIELDS, and those of its payload type."""
    kind = body.get("type")
    if not isinstance(kind, str):
        return COMMON_FIELDS
    fields = _FIELDS.get(kind, COMMON_FIELDS)
    second = SECOND_LOOK.get(kind)
    if second is not None:
        further = _at(body, second)
        if isinstance(further, str):
            fields += PAYLOAD_FIELDS.get(f"{kind}/{further}", ())
    return fields


def _missing_or_mistyped(body: dict[str, Any]) -> str | None:
    """Which field Bolt reads on `body` is missing or of the wrong kind, if any.

    An optional field under a parent that is missing is not looked for: the parent's own
    field, listed first, says what is wrong.
    """
    for field in fields_for(body):
        # Most fields Bolt may read are not there at all: that is told without a walk.
        value = _at(body, field.path) if field.path[0] in body else _ABSENT
        if value is _ABSENT:
            if field.required:
                return f"{body.get('type')} without {field.name}"
        elif not field.kind.fits(value):
            return f"{field.name} is not {field.kind.name}"
    return None


def _at(document: dict[str, Any], path: tuple[str | int, ...]) -> object:
    """What `path` leads to in `document`, or _ABSENT."""
    node: object = document
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or len(node) <= step:
                return _ABSENT
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return _ABSENT
            node = node[step]
    return node


def _walk(document: dict[str, Any]) -> str | None:
    """What is wrong with the document's depth or with the types of FIELD_KINDS, if anything."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH}"
        if isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if isinstance(child, dict | list))
            continue
        # One pass over each object's items, looking up each key: payloads' objects are small,
        # FIELD_KINDS is not.
        for key, value in node.items():
            if isinstance(value, dict | list):
                stack.append((value, depth + 1))
            kinds = FIELD_KINDS.get(key)
            if kinds is None or value is None:
                continue
            if not isinstance(value, kinds):
                return f"a {key} field of the wrong type"
            if isinstance(value, list):
                if key in LIST_OF_OBJECTS and not all(isinstance(item, dict) for item in value):
                    return f"a {key} field that is not a list of objects"
            elif isinstance(value, dict) and key in ID_HOLDERS:
                held = value.get("id")
                if held is not None and not isinstance(held, str):
                    return f"a {key} field whose id is not text"
    return None
