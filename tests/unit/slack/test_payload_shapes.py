"""Every payload type Bolt routes, signed and sent over real loopback HTTP.

Slack's own shapes are answered. A field Bolt reads that is missing, or of a type Slack never
sends, gets HTTP 400 and at most one short log line: never "Something went wrong", a 5xx or a
traceback from inside Bolt.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack.edge.intake import (
    FIELD_KINDS,
    ID_HOLDERS,
    OBJECT,
    OBJECTS,
    PAYLOAD_FIELDS,
    SECOND_LOOK,
    SOME_OBJECTS,
    TEXT,
    TEXT_OR_NULL,
    TEXTS,
    URL_OR_NULL,
    Field,
    Kind,
    fields_for,
)
from bot.standin.harness.slack_bot import Bot
from tests.shared.payload_shapes import DELETE, FIXTURES, changed, fixture, send

# The payload types bolt-python 1.30 routes to a listener (slack_bolt/request/payload_utils.py).
BOLT_ROUTES = {
    "block_actions",
    "block_suggestion",
    "interactive_message",
    "dialog_submission",
    "dialog_suggestion",
    "dialog_cancellation",
    "workflow_step_edit",
    "shortcut",
    "message_action",
    "view_submission",
    "view_closed",
    "event_callback",
    "url_verification",
}
# Values of a type Slack never sends in a field of each kind.
WRONG: dict[Kind, list[Any]] = {
    TEXT: [None, 1, []],
    TEXT_OR_NULL: [1, {}],
    URL_OR_NULL: [1, "hooks.slack.com/actions"],
    OBJECT: [None, "x", []],
    OBJECTS: [None, "x", [1]],
    SOME_OBJECTS: [None, [], ["x"]],
    TEXTS: [None, "x", [1]],
}
# For FIELD_KINDS: the first of these whose type the field may not have.
WALKED_WRONG: tuple[object, ...] = (1, "x", {})


def table_keys(body: dict[str, Any]) -> set[str]:
    """The PAYLOAD_FIELDS entries that apply to `body`."""
    kind = body.get("type")
    if not isinstance(kind, str):
        return set()
    keys = {kind}
    second = SECOND_LOOK.get(kind)
    if second is not None:
        value: Any = body
        for step in second:
            value = value.get(step) if isinstance(value, dict) else None
        keys.add(f"{kind}/{value}")
    return keys & PAYLOAD_FIELDS.keys()


def table_variants(name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each field the table lists for the fixture, missing (if Slack always sends it) or
    holding each value of a type Slack never sends in it."""
    body = fixture(name)
    fields: tuple[Field, ...] = fields_for(body)
    for field in fields:
        removed = changed(body, field.path, DELETE) if field.required else {}
        if removed:
            yield f"{field.name} missing", removed
        for wrong in WRONG[field.kind]:
            variant = changed(body, field.path, wrong)
            if variant:
                yield f"{field.name}={wrong!r}", variant


def walked_variants(name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each FIELD_KINDS field found in the fixture (three levels deep at most) holding a value
    of a type Slack never sends in it, and each ID holder's `id` holding a number."""
    body = fixture(name)
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), body)]
    while stack:
        path, node = stack.pop()
        if len(path) > 3:
            continue
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            here = (*path, key)
            if isinstance(value, dict | list):
                stack.append((here, value))
            kinds = FIELD_KINDS.get(key) if isinstance(key, str) else None
            if kinds is None:
                continue
            wrong = next(w for w in WALKED_WRONG if not isinstance(w, kinds))
            yield f"{'.'.join(map(str, here))}={wrong!r}", changed(body, here, wrong)
            if key in ID_HOLDERS and isinstance(value, dict) and "id" in value:
                yield f"{'.'.join(map(str, here))}.id=1", changed(body, (*here, "id"), 1)


def test_every_payload_type_bolt_routes_is_in_the_table_and_has_a_fixture() -> None:
    assert PAYLOAD_FIELDS.keys() >= BOLT_ROUTES
    covered = set().union(*(table_keys(entry["body"]) for entry in FIXTURES.values()))
    assert covered == set(PAYLOAD_FIELDS)
    # ...and the requests Bolt answers itself, or does not route: commands and ssl_check.
    assert {"slash_command", "ssl_check", "app_rate_limited"} <= FIXTURES.keys()


@pytest.mark.parametrize("name", sorted(FIXTURES))
async def test_slacks_own_shapes_are_answered(bot: Bot, name: str) -> None:
    status, answer, logged = await send(bot, name, fixture(name))

    # 404: Bolt's answer to a payload no listener of the bot's takes.
    assert status in (200, 404), answer
    assert "Something went wrong" not in answer
    assert "not a Slack request" not in logged
    assert "Traceback" not in logged


async def test_ssl_check_and_url_verification_keep_working(bot: Bot) -> None:
    assert (await send(bot, "ssl_check", fixture("ssl_check")))[:2] == (200, "")
    status, answer, _ = await send(bot, "url_verification", fixture("url_verification"))
    assert status == 200
    assert json.loads(answer) == {"challenge": fixture("url_verification")["challenge"]}


@pytest.mark.parametrize(
    ("name", "body", "named"),
    [
        ("block_actions", changed(fixture("block_actions"), ("actions",), []), "actions"),
        (
            "view_submission",
            changed(fixture("view_submission"), ("view", "type"), DELETE),
            "view.type",
        ),
    ],
    ids=["block_actions with no action", "view_submission whose view has no type"],
)
async def test_the_bodies_that_failed_inside_bolt_get_400(
    bot: Bot, name: str, body: dict[str, Any], named: str
) -> None:
    status, answer, logged = await send(bot, name, body)

    assert status == 400
    assert named in json.loads(answer)["error"]
    assert "Traceback" not in logged
    refusals = [line for line in logged.splitlines() if "refused" in line]
    assert len(refusals) == 1
    assert len(refusals[0]) < 200


@pytest.mark.parametrize("name", sorted(FIXTURES))
async def test_each_field_bolt_reads_missing_or_mistyped_gets_400(bot: Bot, name: str) -> None:
    variants = [*table_variants(name), *walked_variants(name)]
    assert variants
    failures = []
    for label, body in variants:
        status, answer, logged = await send(bot, name, body)
        lines = logged.splitlines()
        if status != 400 or "Traceback" in logged or len(lines) > 1 or len(logged) > 200:
            failures.append(f"{label}: {status} {answer[:80]} {lines[-1:]}")
    assert not failures, "\n".join(failures)
    assert not bot.cams.emulator.recorded
    assert not bot.slack.deliveries
