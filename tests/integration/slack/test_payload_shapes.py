"""Slack's payloads, randomly mutated by Hypothesis and sent signed over loopback: never a 5xx,
a failure inside Bolt or a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.edge.intake import PAYLOAD_FIELDS, fields_for
from bot.standin.harness.slack_bot import Bot
from tests.shared.payload_shapes import DELETE, FIXTURES, changed, fixture, send

# Strings that steer Bolt: every payload and event type it reads, and a few of the bot's IDs.
STEERING = sorted(
    {key for entry in PAYLOAD_FIELDS for key in entry.split("/")}
    | {"message", "app_mention", "ssl_check", "flow_picker", "open_preview", "/flowpreview"}
)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4) | st.sampled_from(STEERING),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=4,
)


def paths_in(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*path, key)
        if isinstance(value, dict | list):
            yield from paths_in(value, (*path, key))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
async def test_mutated_payloads_never_fail_inside(bot: Bot, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(FIXTURES)), label="fixture")
    body = fixture(name)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        # Half the time a field Bolt reads (a payload's own type included), else any.
        read = [("type",), *(field.path for field in fields_for(body))]
        anywhere = [*paths_in(body)] or read
        path = data.draw(st.sampled_from(read) | st.sampled_from(anywhere), label="path")
        value = data.draw(st.just(DELETE) | json_values, label="value")
        body = changed(body, path, value) or body

    status, answer, logged = await send(bot, name, body)

    assert status < 500
    assert "Something went wrong" not in answer
    assert "Traceback" not in logged
