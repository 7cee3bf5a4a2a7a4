"""The fake Slack's unfurls, Home tab, workflow steps, ephemeral messages, conversations.info
and rate limits, over loopback HTTP through slack_sdk's client, and the payloads that go with
them through Bolt."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.standin.slack import limits, payloads, signing
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.surfaces import (
    ALREADY_COMPLETED,
    ChannelInfo,
    Ephemeral,
    FunctionResult,
    Posted,
    Published,
    Unfurl,
)

TOKEN = "xoxb-surfaces"
SECRET = "surfaces-signing-secret"
URL = "https://flows.example.com/flow/1234567890123456"
TS = "1700000000.000100"

_Json = dict[str, Any]


def _section(text: str) -> _Json:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _home(*blocks: _Json) -> _Json:
    return {"type": "home", "callback_id": "home", "blocks": list(blocks or [_section("Hi")])}


def _bot(fake: FakeSlack, token: str = TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.api_url)


async def _refusal(call: Any) -> _Json:
    """The error answer of an awaited client call that Slack refuses."""
    with pytest.raises(SlackApiError) as refused:
        await call
    answer: _Json = refused.value.response.data
    return answer


def _form_payload(body: bytes) -> _Json:
    parsed: _Json = json.loads(parse_qs(body.decode())["payload"][0])
    return parsed


# chat.unfurl


async def test_unfurls_by_message_and_by_unfurl_id_are_recorded_and_awaitable() -> None:
    async with running_fake_slack(bot_token=TOKEN) as fake:
        client = _bot(fake)
        with fake.subscribe_unfurls() as seen:
            await client.chat_unfurl(
                channel="C0GENERAL1", ts=TS, unfurls={URL: {"blocks": [_section("Flow")]}}
            )
            # A form body carries the unfurls as JSON text, as Slack documents.
            await client.api_call(
                "chat.unfurl",
                data={
                    "unfurl_id": "U1-abc",
                    "source": "composer",
                    "unfurls": json.dumps({URL: {"blocks": [_section("Draft")]}}),
                },
            )
        first, second = await fake.next_unfurl(), await fake.next_unfurl()

    team = payloads.DEFAULT_WHO.team_id
    assert first == Unfurl(
        "C0GENERAL1", TS, None, None, {URL: {"blocks": [_section("Flow")]}}, team
    )
    assert second == Unfurl(
        None, None, "U1-abc", "composer", {URL: {"blocks": [_section("Draft")]}}, team
    )
    assert fake.unfurls == [first, second]
    assert [seen.get_nowait(), seen.get_nowait()] == [first, second]


async def test_unfurl_refuses_what_slack_refuses() -> None:
    good = {URL: {"blocks": [_section("Flow")]}}
    rich_text = {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": []}]}
    async with running_fake_slack(bot_token=TOKEN) as fake:
        client = _bot(fake)
        no_pair = await _refusal(client.chat_unfurl(channel="C0GENERAL1", unfurls=good))
        half_id = await _refusal(client.chat_unfurl(unfurl_id="U1-abc", unfurls=good))
        bad_source = await _refusal(
            client.chat_unfurl(unfurl_id="U1-abc", source="elsewhere", unfurls=good)
        )
        not_objects = await _refusal(
            client.api_call(
                "chat.unfurl", json={"channel": "C0GENERAL1", "ts": TS, "unfurls": {URL: "Flow"}}
            )
        )
        too_many = await _refusal(
            client.chat_unfurl(
                channel="C0GENERAL1", ts=TS, unfurls={URL: {"blocks": [_section("x")] * 51}}
            )
        )
        rich = await _refusal(
            client.chat_unfurl(channel="C0GENERAL1", ts=TS, unfurls={URL: {"blocks": [rich_text]}})
        )
        wrong_token = await _refusal(
            _bot(fake, "xoxb-other").chat_unfurl(channel="C0GENERAL1", ts=TS, unfurls=good)
        )

    assert [a["error"] for a in (no_pair, half_id, bad_source, not_objects)] == [
        "invalid_arguments"
    ] * 4
    assert too_many["error"] == "invalid_blocks"
    assert too_many["response_metadata"]["messages"] == [f"[ERROR] {URL}: 51 blocks, more than 50"]
    assert rich["error"] == "invalid_blocks"
    assert rich["response_metadata"]["messages"] == [
        f"[ERROR] {URL}: block 1: rich_text is not allowed in an unfurl"
    ]
    assert wrong_token["error"] == "invalid_auth"
    assert fake.unfurls == []


# views.publish


async def test_publish_stores_each_persons_home_tab_and_records_it() -> None:
    async with running_fake_slack(bot_token=TOKEN) as fake:
        client = _bot(fake)
        with fake.subscribe_publishes() as seen:
            first = (await client.views_publish(user_id="U1", view=_home()))["view"]
            again = await client.views_publish(
                user_id="U1", view=_home(_section("Again")), hash=first["hash"]
            )
        stale = await _refusal(client.views_publish(user_id="U1", view=_home(), hash=first["hash"]))
        unknown = await _refusal(client.views_publish(user_id="U2", view=_home(), hash="1.2"))
        published = await fake.next_publish()

    team = payloads.DEFAULT_WHO.team_id
    assert first["type"] == "home"
    assert first["id"].startswith("V")
    assert first["state"] == {"values": {}}
    assert first["title"] is None
    assert again["view"]["id"] == first["id"]
    assert again["view"]["hash"] != first["hash"]
    assert again["view"]["blocks"] == [_section("Again")]
    assert (stale["error"], unknown["error"]) == ("hash_conflict", "hash_conflict")
    assert published == Published(team, "U1", first)
    assert fake.published == [published, Published(team, "U1", again["view"])]
    assert seen.qsize() == 2
    assert fake.home_views == {(team, "U1"): again["view"]}


async def test_publish_refuses_a_home_tab_too_large_or_not_a_home_tab() -> None:
    # Each section holds 2,900 characters, under the 3,000 a section may hold.
    big = [_section(f"{n:04d}" + "x" * 2896) for n in range(90)]
    input_block = {
        "type": "input",
        "block_id": "flow",
        "dispatch_action": True,
        "label": {"type": "plain_text", "text": "Flow ID"},
        "element": {"type": "plain_text_input", "action_id": "flow_id"},
    }
    async with running_fake_slack(bot_token=TOKEN) as fake:
        client = _bot(fake)
        heavy = await _refusal(client.views_publish(user_id="U1", view=_home(*big)))
        many = await _refusal(
            client.views_publish(user_id="U1", view=_home(*[_section("x")] * 101))
        )
        modal = await _refusal(
            client.views_publish(user_id="U1", view={**_home(), "type": "modal"})
        )
        fits = await client.views_publish(user_id="U1", view=_home(*big[:80]))
        hundred = await client.views_publish(user_id="U1", view=_home(*[_section("x")] * 100))
        with_input = await client.views_publish(user_id="U1", view=_home(input_block))

    assert len(json.dumps(_home(*big))) > limits.MAX_VIEW_BYTES
    assert heavy["error"] == "view_too_large"
    assert many["error"] == "view_too_large"
    assert many["response_metadata"]["messages"] == ["[ERROR] 101 blocks, more than 100"]
    assert modal["error"] == "invalid_arguments"
    assert modal["response_metadata"]["messages"] == ["[ERROR] type is 'modal', not 'home'"]
    assert [fits["ok"], hundred["ok"], with_input["ok"]] == [True, True, True]
    assert len(fake.published) == 3


# functions.completeSuccess and functions.completeError


async def test_a_function_execution_completes_once_with_its_own_token() -> None:
    async with running_fake_slack(bot_token=TOKEN) as fake:
        execution, token = fake.new_function_execution()
        other, other_token = fake.new_function_execution()
        step = _bot(fake, token)

        with_bot_token = await _refusal(
            _bot(fake).functions_completeSuccess(function_execution_id=execution, outputs={})
        )
        with_other_token = await _refusal(
            _bot(fake, other_token).functions_completeSuccess(
                function_execution_id=execution, outputs={}
            )
        )
        unknown = await _refusal(
            step.functions_completeSuccess(function_execution_id="Fx0000000000", outputs={})
        )
        await step.functions_completeSuccess(
            function_execution_id=execution, outputs={"preview": "sent"}
        )
        twice = await _refusal(
            step.functions_completeError(function_execution_id=execution, error="late")
        )
        await _bot(fake, other_token).functions_completeError(
            function_execution_id=other, error="no such flow"
        )
        succeeded, failed = await fake.next_function_result(), await fake.next_function_result()

    assert execution.startswith("Fx")
    assert token.startswith("xwfp-")
    assert with_bot_token["error"] == "invalid_auth"
    assert with_other_token["error"] == "invalid_auth"
    assert unknown["error"] == "function_execution_not_found"
    assert twice["error"] == ALREADY_COMPLETED
    assert succeeded == FunctionResult(execution, {"preview": "sent"}, None)
    assert failed == FunctionResult(other, None, "no such flow")
    assert fake.function_results == [succeeded, failed]


# chat.postEphemeral


async def test_ephemeral_messages_are_checked_and_recorded() -> None:
    async with running_fake_slack(bot_token=TOKEN) as fake:
        client = _bot(fake)
        sent = await client.chat_postEphemeral(
            channel="C0GENERAL1", user="U1", text="Only you", blocks=[_section("Only you")]
        )
        too_many = await _refusal(
            client.chat_postEphemeral(
                channel="C0GENERAL1", user="U1", text="x", blocks=[_section("x")] * 51
            )
        )
        empty = await _refusal(
            client.api_call("chat.postEphemeral", data={"channel": "C0GENERAL1", "user": "U1"})
        )
        ephemeral = await fake.next_ephemeral()

    assert sent["message_ts"]
    assert ephemeral == Ephemeral(
        "C0GENERAL1",
        "U1",
        {"text": "Only you", "blocks": [_section("Only you")]},
        payloads.DEFAULT_WHO.team_id,
    )
    assert too_many["error"] == "invalid_blocks"
    assert empty["error"] == "no_text"
    assert fake.ephemerals == [ephemeral]


async def test_posting_needs_the_bot_in_the_channel_but_a_direct_message_does_not() -> None:
    async with running_fake_slack(bot_token=TOKEN) as fake:
        fake.channels["C0NOTIN001"] = ChannelInfo(name="elsewhere", is_member=False)
        client = _bot(fake)
        not_in = await _refusal(
            client.chat_postEphemeral(channel="C0NOTIN001", user="U1", text="x")
        )
        unknown = await _refusal(client.chat_postMessage(channel="C0NOWHERE1", text="x"))
        direct = await client.chat_postMessage(channel="U1", text="Only you")
        posted = await fake.next_post()

    assert not_in["error"] == "not_in_channel"
    assert unknown["error"] == "channel_not_found"
    assert direct["channel"] == "U1"
    assert posted == Posted("U1", {"text": "Only you"}, payloads.DEFAULT_WHO.team_id)
    assert fake.ephemerals == []


# conversations.info


async def test_conversations_info_tells_shared_private_and_unknown_channels_apart() -> None:
    async with running_fake_slack(bot_token=TOKEN) as fake:
        fake.channels["G0SECRET01"] = ChannelInfo(is_private=True, name="secret")
        client = _bot(fake)
        general = (await client.conversations_info(channel="C0GENERAL1"))["channel"]
        shared = (await client.conversations_info(channel=payloads.SHARED_CHANNEL_ID))["channel"]
        secret = (await client.conversations_info(channel="G0SECRET01"))["channel"]
        unknown = await _refusal(client.conversations_info(channel="C0NOWHERE1"))

    assert general == {
        "id": "C0GENERAL1",
        "name": "general",
        "is_channel": True,
        "is_group": False,
        "is_private": False,
        "is_im": False,
        "is_ext_shared": False,
        "is_shared": False,
        "is_org_shared": False,
        "is_archived": False,
        "is_member": True,
    }
    assert (shared["name"], shared["is_ext_shared"], shared["is_shared"]) == (
        "partner-shared",
        True,
        True,
    )
    assert (secret["is_private"], secret["is_channel"]) == (True, False)
    assert unknown["error"] == "channel_not_found"
    assert set(fake.channels) == set(payloads.CHANNELS) | {"G0SECRET01"}


# Rate limits


async def test_a_rate_limited_method_answers_429_with_retry_after_then_recovers() -> None:
    async with running_fake_slack(bot_token=TOKEN) as fake:
        client = _bot(fake)
        fake.rate_limit("conversations.info", times=2, retry_after=7)
        limited = []
        for _ in range(2):
            with pytest.raises(SlackApiError) as refused:
                await client.conversations_info(channel="C0GENERAL1")
            limited.append(refused.value.response)
        after = await client.conversations_info(channel="C0GENERAL1")
        other = await client.auth_test()

    assert [r.status_code for r in limited] == [429, 429]
    assert [r.headers["Retry-After"] for r in limited] == ["7", "7"]
    assert [r.data for r in limited] == [{"ok": False, "error": "ratelimited"}] * 2
    assert after["ok"]
    assert other["ok"]
    assert [c.method for c in fake.api_calls] == ["conversations.info"] * 3 + ["auth.test"]


async def test_waiting_for_what_never_comes_times_out() -> None:
    async with running_fake_slack() as fake:
        waits = [
            fake.next_unfurl(within=0),
            fake.next_publish(within=0),
            fake.next_function_result(within=0),
            fake.next_ephemeral(within=0),
        ]
        for wait in waits:
            with pytest.raises(TimeoutError):
                await wait


# Payloads, as intake checks them and Bolt routes them


async def test_unfurl_click_carries_the_unfurl_and_no_message() -> None:
    button: _Json = {
        "type": "button",
        "action_id": "open",
        "text": {"type": "plain_text", "text": "Open"},
    }
    blocks: list[_Json] = [{"type": "actions", "block_id": "flow:1", "elements": [button]}]
    async with running_fake_slack(bot_token=TOKEN) as fake:
        await _bot(fake).chat_unfurl(channel="C0GENERAL1", ts=TS, unfurls={URL: {"blocks": blocks}})
        unfurl = await fake.next_unfurl()
        response_url = fake.new_response_url()
        payload = _form_payload(
            payloads.unfurl_block_actions(
                button,
                block_id="flow:1",
                response_url=response_url,
                message_ts=TS,
                url=URL,
                channel="C0GENERAL1",
                blocks=unfurl.unfurls[URL]["blocks"],
            )
        )

    assert "message" not in payload
    assert payload["container"] == {
        "type": "message_attachment",
        "message_ts": TS,
        "channel_id": "C0GENERAL1",
        "is_ephemeral": False,
        "attachment_id": 1,
        "is_app_unfurl": True,
        "app_unfurl_url": URL,
    }
    assert payload["app_unfurl"]["blocks"] == blocks
    assert payload["channel"] == {"id": "C0GENERAL1", "name": "general"}
    assert payload["response_url"] == response_url
    assert payload["actions"][0]["action_id"] == "open"


async def test_home_tab_actions_carry_the_published_view_and_a_usable_trigger() -> None:
    input_block: _Json = {
        "type": "input",
        "block_id": "flow",
        "dispatch_action": True,
        "label": {"type": "plain_text", "text": "Flow ID"},
        "element": {"type": "plain_text_input", "action_id": "flow_id"},
    }
    button = {"type": "button", "action_id": "pick", "text": {"type": "plain_text", "text": "Pick"}}
    actions = {"type": "actions", "block_id": "buttons", "elements": [button]}
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Flow"}, "blocks": []}
    async with running_fake_slack(bot_token=TOKEN) as fake:
        user = payloads.DEFAULT_WHO.user_id
        await _bot(fake).views_publish(user_id=user, view=_home(input_block, actions))
        view = fake.home_views[(payloads.DEFAULT_WHO.team_id, user)]
        typed = _form_payload(
            payloads.home_block_actions(
                {**input_block["element"], "value": "1234"},
                view=view,
                trigger_id=fake.new_trigger_id(),
            )
        )
        clicked = _form_payload(
            payloads.home_block_actions(
                button,
                view=view,
                trigger_id=fake.new_trigger_id(),
                state={"flow": {"flow_id": {"type": "plain_text_input", "value": "99"}}},
            )
        )
        opened = await _bot(fake).views_open(trigger_id=clicked["trigger_id"], view=modal)

    assert typed["container"] == {"type": "view", "view_id": view["id"]}
    assert typed["actions"][0] == {
        "type": "plain_text_input",
        "block_id": "flow",
        "action_id": "flow_id",
        "value": "1234",
        "action_ts": typed["actions"][0]["action_ts"],
    }
    assert typed["view"]["state"]["values"] == {
        "flow": {"flow_id": {"type": "plain_text_input", "value": "1234"}}
    }
    assert clicked["actions"][0]["block_id"] == "buttons"
    assert clicked["view"]["state"]["values"]["flow"]["flow_id"]["value"] == "99"
    assert {"response_url", "channel", "message"}.isdisjoint(clicked)
    assert opened["ok"]


async def test_bolt_routes_the_events_and_its_answers_reach_the_fake() -> None:
    async with running_fake_slack(bot_token=TOKEN) as fake:
        app = AsyncApp(client=_bot(fake), signing_secret=SECRET)

        @app.event("link_shared")
        async def unfurl(event: _Json, client: AsyncWebClient) -> None:
            unfurls = {link["url"]: {"blocks": [_section("Flow")]} for link in event["links"]}
            await client.chat_unfurl(
                unfurl_id=event["unfurl_id"], source=event["source"], unfurls=unfurls
            )

        @app.event("app_home_opened")
        async def home(event: _Json, client: AsyncWebClient) -> None:
            await client.views_publish(user_id=event["user"], view=_home())

        @app.function("send_preview")
        async def step(inputs: _Json, complete: AsyncComplete) -> None:
            await complete(outputs={"sent": inputs["flow_id"]})

        execution, token = fake.new_function_execution()
        events = [
            payloads.link_shared([URL]),
            payloads.app_home_opened(),
            payloads.function_executed(
                "send_preview", {"flow_id": "12"}, execution_id=execution, token=token
            ),
        ]
        for event in events:
            body = payloads.event_callback(event)
            headers: dict[str, str | Sequence[str]] = {**signing.signed_headers(SECRET, body)}
            request = AsyncBoltRequest(body=body.decode(), headers=headers)
            assert (await app.async_dispatch(request)).status == 200
        unfurled, published, result = await asyncio.gather(
            fake.next_unfurl(), fake.next_publish(), fake.next_function_result()
        )

    assert (unfurled.unfurl_id, unfurled.source) == (
        events[0]["unfurl_id"],
        "conversations_history",
    )
    assert published.user_id == payloads.DEFAULT_WHO.user_id
    assert result == FunctionResult(execution, {"sent": "12"}, None)
