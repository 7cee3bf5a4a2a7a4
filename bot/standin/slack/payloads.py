"""Request bodies in the shapes Slack documents: slash command, message and global shortcuts,
block_actions, and a modal's block_suggestion and view_submission; clicks in an app unfurl
(`unfurl_block_actions`) and in the Home tab (`home_block_actions`); Events API callbacks
(`event_callback`, or `event_envelope` for Socket Mode) around the events `link_shared`,
`app_home_opened` and `function_executed`.

Every body builder returns the raw body bytes that Slack would POST (and sign), so the bot
parses exactly what it would parse in production; the event builders return the event object
that `event_callback` wraps.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from bot.slack.constants import COMMAND, PICKER_CALLBACK_ID, SHORTCUT_CALLBACK_ID

_Json = dict[str, Any]

# What Slack turns into a link when a person types it; it trims trailing punctuation too.
_URL = re.compile(r"https?://[^\s<>]+")
_URL_TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True, slots=True)
class Who:
    """The workspace, person and channel a request comes from (values as in Slack's docs)."""

    team_id: str = "T0001"
    team_domain: str = "example"
    user_id: str = "U2147483697"
    user_name: str = "Steve"
    channel_id: str = "C2147483705"
    channel_name: str = "test"
    api_app_id: str = "A123456"
    # The deprecated verification token: Slack still sends it, apps should not check it.
    verification_token: str = "gIkuvaNzQIHg97ATvDxqgjtO"  # noqa: S105 - Slack's doc example
    enterprise_id: str | None = None
    enterprise_name: str | None = None


DEFAULT_WHO = Who()
# A Slack Connect channel, shared with another organisation (conversations.info says so).
SHARED_CHANNEL_ID = "C0SHARED01"
# The channels the person's client knows by name: theirs, and others to share a preview in.
CHANNELS = {
    DEFAULT_WHO.channel_id: DEFAULT_WHO.channel_name,
    "C0GENERAL1": "general",
    "C0ACMESUP1": "acme-support",
    SHARED_CHANNEL_ID: "partner-shared",
}
# The app's bot user, as the fake Slack's auth.test names it and event authorizations carry it.
BOT_USER_ID = "U0FLOWBOT"
BOT_ID = "B0FLOWBOT"
# Where Slack says a link was typed when it is still in the message composer, not yet sent.
COMPOSER = "COMPOSER"
UNFURL_SOURCES = ("conversations_history", "composer")
# Slack's names for the types of a workflow function's parameters, by Python type.
_PARAMETER_TYPES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
}
# People the fake Slack's directory (`FakeSlack.people`) knows from the start. A request carries
# the installing workspace's team_id for all of them: users.info is what tells them apart.
GUEST_WHO = Who(user_id="U0GUEST001", user_name="guest")
EXTERNAL_WHO = Who(user_id="U0PARTNER1", user_name="partner")
ADMIN_WHO = Who(user_id="U0ADMIN001", user_name="admin")


def new_trigger_id() -> str:
    """A trigger_id in Slack's `<digits>.<digits>.<hex>` form."""
    return f"{secrets.randbelow(10**11)}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"


def new_ts() -> str:
    """A message or action timestamp in Slack's `<seconds>.<microseconds>` form."""
    return f"{time.time():.6f}"


def slash_command(
    text: str,
    *,
    response_url: str,
    who: Who = DEFAULT_WHO,
    command: str = COMMAND,
    trigger_id: str | None = None,
) -> bytes:
    """The `application/x-www-form-urlencoded` body of `<command> <text>`."""
    fields: list[tuple[str, str]] = [
        ("token", who.verification_token),
        ("team_id", who.team_id),
        ("team_domain", who.team_domain),
    ]
    if who.enterprise_id is not None:
        fields += [("enterprise_id", who.enterprise_id)]
        fields += [("enterprise_name", who.enterprise_name or "")]
    fields += [
        ("channel_id", who.channel_id),
        ("channel_name", who.channel_name),
        ("user_id", who.user_id),
        ("user_name", who.user_name),
        ("command", command),
        ("text", text),
        ("api_app_id", who.api_app_id),
        ("is_enterprise_install", "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id or new_trigger_id()),
    ]
    # Slack percent-encodes spaces as %20 and slashes as %2F; quote with safe="" does both.
    return urlencode(fields, quote_via=quote).encode()


def message_from_text(text: str, *, who: Who = DEFAULT_WHO, ts: str | None = None) -> _Json:
    """The message Slack stores when `who` types `text`: links wrapped, &, <, > entity-encoded.

    `text` carries Slack's encoded form and `blocks` the rich_text form with the raw characters,
    as in the messages a shortcut hands to an app.
    """
    encoded: list[str] = []
    elements: list[_Json] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(_URL_TRAILING)
        end = match.start() + len(url)
        _add_text(text[position : match.start()], encoded, elements)
        encoded.append(f"<{_escape(url)}>")
        elements.append({"type": "link", "url": url})
        position = end
    _add_text(text[position:], encoded, elements)
    message_ts = ts or new_ts()
    return {
        "type": "message",
        "user": who.user_id,
        "ts": message_ts,
        "team": who.team_id,
        "text": "".join(encoded),
        "blocks": [
            {
                "type": "rich_text",
                "block_id": secrets.token_hex(2),
                "elements": [{"type": "rich_text_section", "elements": elements}],
            }
        ],
    }


def message_shortcut(
    message: Mapping[str, Any],
    *,
    response_url: str,
    who: Who = DEFAULT_WHO,
    callback_id: str = SHORTCUT_CALLBACK_ID,
    trigger_id: str | None = None,
) -> bytes:
    """The form body `payload=<JSON>` of a message shortcut (`type: message_action`) on `message`.

    `message` is used as given, with `type`, `user`, `ts` and `team` filled in when missing.
    """
    stored: _Json = {"type": "message", "user": who.user_id, "ts": new_ts(), "team": who.team_id}
    stored.update(message)
    payload: _Json = {
        "type": "message_action",
        "token": who.verification_token,
        "action_ts": new_ts(),
        "team": {"id": who.team_id, "domain": who.team_domain},
        "user": _user(who),
        "channel": {"id": who.channel_id, "name": who.channel_name},
        "is_enterprise_install": False,
        "enterprise": _enterprise(who),
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "response_url": response_url,
        "message_ts": stored["ts"],
        "message": stored,
    }
    return form_payload(payload)


def block_actions(
    button: Mapping[str, Any],
    *,
    block_id: str,
    response_url: str,
    message_ts: str,
    message: Mapping[str, Any] | None = None,
    who: Who = DEFAULT_WHO,
    trigger_id: str | None = None,
) -> bytes:
    """The form body `payload=<JSON>` of a click on `button` (a Block Kit button element).

    Pass the clicked message as `message` when it is visible to the channel; for an ephemeral
    message Slack sends no `message`, only the container with `is_ephemeral: true`.
    """
    action = _button_action(button, block_id)
    payload: _Json = {
        "type": "block_actions",
        "user": _user(who),
        "api_app_id": who.api_app_id,
        "token": who.verification_token,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": who.channel_id,
            "is_ephemeral": message is None,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": who.team_id, "domain": who.team_domain},
        "enterprise": _enterprise(who),
        "is_enterprise_install": False,
        "channel": {"id": who.channel_id, "name": who.channel_name},
    }
    if message is not None:
        payload["message"] = dict(message)
    payload.update({"state": {"values": {}}, "response_url": response_url, "actions": [action]})
    return form_payload(payload)


def global_shortcut(
    *, trigger_id: str, who: Who = DEFAULT_WHO, callback_id: str = PICKER_CALLBACK_ID
) -> bytes:
    """The form body of a global shortcut (`type: shortcut`): no channel, no response_url."""
    payload: _Json = {
        "type": "shortcut",
        "token": who.verification_token,
        "action_ts": new_ts(),
        "team": {"id": who.team_id, "domain": who.team_domain},
        "user": {"id": who.user_id, "username": who.user_name, "team_id": who.team_id},
        "is_enterprise_install": False,
        "enterprise": _enterprise(who),
        "callback_id": callback_id,
        "trigger_id": trigger_id,
    }
    return form_payload(payload)


def view_state(view: Mapping[str, Any], chosen: Mapping[str, Any]) -> _Json:
    """`view` (as Slack stores it) with `state.values` as Slack fills it in.

    Every input block's element appears, keyed by block_id and action_id: what `chosen` holds
    for its block_id (an option object for a select, a conversation ID for a
    conversations_select), else its initial option or conversation, else nothing selected.
    """
    values: _Json = {}
    for block in view.get("blocks") or []:
        if not isinstance(block, Mapping) or block.get("type") != "input":
            continue
        element = block.get("element") or {}
        block_id, kind = str(block.get("block_id", "")), element.get("type")
        if kind == "conversations_select":
            picked = chosen.get(block_id, element.get("initial_conversation"))
            state: _Json = {"type": kind, "selected_conversation": picked}
        else:
            picked = chosen.get(block_id, element.get("initial_option"))
            state = {"type": kind, "selected_option": picked}
        values[block_id] = {str(element.get("action_id", "")): state}
    return {**view, "state": {"values": values}}


def block_suggestion(
    view: Mapping[str, Any],
    *,
    block_id: str,
    action_id: str,
    value: str,
    chosen: Mapping[str, Any] | None = None,
    who: Who = DEFAULT_WHO,
) -> bytes:
    """The form body of an external_select's options request (`type: block_suggestion`)
    in the modal `view`, after typing `value`; `chosen` as for `view_state`."""
    payload: _Json = {
        "type": "block_suggestion",
        "user": _user(who),
        "container": {"type": "view", "view_id": view.get("id")},
        "api_app_id": who.api_app_id,
        "token": who.verification_token,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": {"id": who.team_id, "domain": who.team_domain},
        "enterprise": _enterprise(who),
        "is_enterprise_install": False,
        "view": view_state(view, chosen or {}),
    }
    return form_payload(payload)


def view_submission(
    view: Mapping[str, Any],
    *,
    chosen: Mapping[str, Any] | None = None,
    response_url: str | None = None,
    trigger_id: str | None = None,
    who: Who = DEFAULT_WHO,
) -> bytes:
    """The form body of a modal's submit (`type: view_submission`); `chosen` as for
    `view_state`. A conversations_select with `response_url_enabled` and a conversation
    picked yields an entry of `response_urls` with `response_url`."""
    submitted = view_state(view, chosen or {})
    response_urls: list[_Json] = []
    for block in view.get("blocks") or []:
        element = block.get("element") if isinstance(block, Mapping) else None
        if not isinstance(element, Mapping) or not element.get("response_url_enabled"):
            continue
        block_id, action_id = str(block.get("block_id", "")), str(element.get("action_id", ""))
        channel_id = submitted["state"]["values"][block_id][action_id]["selected_conversation"]
        if channel_id and response_url:
            response_urls.append(
                {
                    "block_id": block_id,
                    "action_id": action_id,
                    "channel_id": channel_id,
                    "response_url": response_url,
                }
            )
    payload: _Json = {
        "type": "view_submission",
        "team": {"id": who.team_id, "domain": who.team_domain},
        "user": _user(who),
        "api_app_id": who.api_app_id,
        "token": who.verification_token,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": submitted,
        "response_urls": response_urls,
        "is_enterprise_install": False,
        "enterprise": _enterprise(who),
    }
    return form_payload(payload)


def unfurl_block_actions(
    button: Mapping[str, Any],
    *,
    block_id: str,
    response_url: str,
    message_ts: str,
    url: str,
    who: Who = DEFAULT_WHO,
    channel: str | None = None,
    trigger_id: str | None = None,
    blocks: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """The form body of a click on `button` in the app's unfurl of `url` (`blocks`, as the
    app gave them to chat.unfurl), in the message `message_ts` of `channel` (who's by default).

    Slack sends the unfurl as `app_unfurl` and names it in a `message_attachment` container; it
    sends no `message`: the message is a person's, not the app's.
    """
    channel_id = channel or who.channel_id
    payload: _Json = {
        "type": "block_actions",
        "user": _user(who),
        "api_app_id": who.api_app_id,
        "token": who.verification_token,
        "container": {
            "type": "message_attachment",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
            "attachment_id": 1,
            "is_app_unfurl": True,
            "app_unfurl_url": url,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": who.team_id, "domain": who.team_domain},
        "enterprise": _enterprise(who),
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": CHANNELS.get(channel_id, who.channel_name)},
        "app_unfurl": {
            "id": 1,
            "bot_id": BOT_ID,
            "bot_team_id": who.team_id,
            "app_unfurl_url": url,
            "is_app_unfurl": True,
            "blocks": [dict(block) for block in blocks],
        },
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [_button_action(button, block_id)],
    }
    return form_payload(payload)


def home_block_actions(
    action: Mapping[str, Any],
    *,
    view: Mapping[str, Any],
    who: Who = DEFAULT_WHO,
    trigger_id: str | None = None,
    state: Mapping[str, Any] | None = None,
) -> bytes:
    """The form body of an action in the Home tab `view` (as views.publish stored it).

    `action` is the element acted on, as the view holds it: a button (a click), or a
    plain_text_input with `dispatch_action` and the typed `value` added (the person pressed
    Enter). Its block is found in the view by action_id unless `action` names a `block_id`.
    `state` holds `state.values` as Slack fills them in (block_id -> action_id -> value
    object); a dispatched input's value is added to them. Slack sends no response_url and no
    channel from the Home tab.
    """
    action_id = str(action.get("action_id", ""))
    block_id = str(action.get("block_id") or _block_of(view, action_id))
    values: _Json = {name: dict(by_action) for name, by_action in (state or {}).items()}
    if action.get("type") == "plain_text_input":
        value = action.get("value")
        acted: _Json = {
            "type": "plain_text_input",
            "block_id": block_id,
            "action_id": action_id,
            "value": value,
            "action_ts": new_ts(),
        }
        values.setdefault(block_id, {})[action_id] = {"type": "plain_text_input", "value": value}
    else:
        acted = _button_action(action, block_id)
    payload: _Json = {
        "type": "block_actions",
        "user": _user(who),
        "api_app_id": who.api_app_id,
        "token": who.verification_token,
        "container": {"type": "view", "view_id": view.get("id")},
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": who.team_id, "domain": who.team_domain},
        "enterprise": _enterprise(who),
        "is_enterprise_install": False,
        "view": {**view, "state": {"values": values}},
        "actions": [acted],
    }
    return form_payload(payload)


def event_envelope(event: Mapping[str, Any], *, who: Who = DEFAULT_WHO) -> _Json:
    """The Events API callback (`type: event_callback`) around `event`, as a dict: the payload
    of a Socket Mode `events_api` envelope. The event gets an `event_ts` if it has none."""
    envelope: _Json = {
        "token": who.verification_token,
        "team_id": who.team_id,
    }
    if who.enterprise_id is not None:
        envelope["enterprise_id"] = who.enterprise_id
    envelope.update(
        {
            "api_app_id": who.api_app_id,
            "event": {**event, "event_ts": event.get("event_ts") or new_ts()},
            "type": "event_callback",
            "event_id": f"Ev{_upper_id(10)}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": who.enterprise_id,
                    "team_id": who.team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
    )
    return envelope


def event_callback(event: Mapping[str, Any], *, who: Who = DEFAULT_WHO) -> bytes:
    """The JSON body Slack POSTs to the Events API endpoint for `event` (`event_envelope`)."""
    return json.dumps(event_envelope(event, who=who), ensure_ascii=False).encode()


def link_shared(
    urls: Sequence[str],
    *,
    who: Who = DEFAULT_WHO,
    channel: str | None = None,
    message_ts: str | None = None,
    source: str = "conversations_history",
    thread_ts: str | None = None,
    is_bot_user_member: bool = True,
) -> _Json:
    """The `link_shared` event for `urls`, posted by `who` in `channel` (who's by default).

    With `source="composer"` the links are still being typed: Slack names the channel
    COMPOSER and gives the message_ts the unfurl_id, whatever `channel` and `message_ts` say.
    """
    if source == "composer":
        # Slack's shape: the user, a UUID and 32 lower-case letters and digits.
        tail = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
        unfurl_id = f"{who.user_id}-{uuid.uuid4()}-{tail}"
        channel_id, ts = COMPOSER, unfurl_id
    else:
        channel_id, ts = channel or who.channel_id, message_ts or new_ts()
        # Slack's shape: the channel, the message's ts and 64 hex digits.
        unfurl_id = f"{channel_id}.{ts}.{secrets.token_hex(32)}"
    event: _Json = {
        "type": "link_shared",
        "channel": channel_id,
        "is_bot_user_member": is_bot_user_member,
        "user": who.user_id,
        "message_ts": ts,
        "unfurl_id": unfurl_id,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    event.update(
        {
            "source": source,
            "links": [{"domain": urlsplit(url).hostname or "", "url": url} for url in urls],
            "event_ts": new_ts(),
        }
    )
    return event


def app_home_opened(
    *, who: Who = DEFAULT_WHO, tab: str = "home", view: Mapping[str, Any] | None = None
) -> _Json:
    """The `app_home_opened` event: `who` opened the app's `tab` (`home` or `messages`).
    `view` is the Home tab published to them before, which Slack sends when there is one."""
    event: _Json = {
        "type": "app_home_opened",
        "user": who.user_id,
        # The app's direct-message channel with the person.
        "channel": f"D{who.user_id[1:]}",
        "tab": tab,
        "event_ts": new_ts(),
    }
    if view is not None:
        event["view"] = dict(view)
    return event


def function_executed(
    callback_id: str,
    inputs: Mapping[str, Any],
    *,
    execution_id: str,
    token: str,
    who: Who = DEFAULT_WHO,
    outputs: Sequence[Mapping[str, Any]] = (),
) -> _Json:
    """The `function_executed` event: a workflow ran the app's step `callback_id` with
    `inputs`. `execution_id` and `token` come from `FakeSlack.new_function_execution()`: the
    step completes with that token. `outputs` are the function's output_parameters."""
    created = int(time.time())
    return {
        "type": "function_executed",
        "function": {
            "id": f"Fn{_upper_id(10)}",
            "callback_id": callback_id,
            "title": callback_id.replace("_", " ").capitalize(),
            "description": "",
            "type": "app",
            "input_parameters": [
                {
                    "type": _PARAMETER_TYPES.get(type(value), "object"),
                    "name": name,
                    "description": "",
                    "title": name,
                    "is_required": True,
                }
                for name, value in inputs.items()
            ],
            "output_parameters": [dict(output) for output in outputs],
            "app_id": who.api_app_id,
            "date_created": created,
            "date_updated": created,
            "date_deleted": 0,
        },
        "inputs": dict(inputs),
        "function_execution_id": execution_id,
        "workflow_execution_id": f"Wx{_upper_id(10)}",
        "event_ts": new_ts(),
        "bot_access_token": token,
    }


def form_payload(payload: Mapping[str, Any]) -> bytes:
    """`payload=<url-encoded JSON>`, the form Slack wraps every interaction payload in."""
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _add_text(text: str, encoded: list[str], elements: list[_Json]) -> None:
    if text:
        encoded.append(_escape(text))
        elements.append({"type": "text", "text": text})


def _user(who: Who) -> _Json:
    return {
        "id": who.user_id,
        "username": who.user_name,
        "team_id": who.team_id,
        "name": who.user_name,
    }


def _enterprise(who: Who) -> _Json | None:
    if who.enterprise_id is None:
        return None
    return {"id": who.enterprise_id, "name": who.enterprise_name}


def _button_action(button: Mapping[str, Any], block_id: str) -> _Json:
    """The `actions` entry of a click on `button`."""
    action: _Json = {
        "action_id": button.get("action_id", ""),
        "block_id": block_id,
        "text": button.get("text", {"type": "plain_text", "text": ""}),
    }
    for optional in ("value", "url", "style"):
        if optional in button:
            action[optional] = button[optional]
    action.update({"type": "button", "action_ts": new_ts()})
    return action


def _block_of(view: Mapping[str, Any], action_id: str) -> str:
    """The block_id of the block in `view` holding the element `action_id`, or ""."""
    for block in view.get("blocks") or []:
        if not isinstance(block, Mapping):
            continue
        elements = [*(block.get("elements") or []), block.get("accessory"), block.get("element")]
        if any(isinstance(e, Mapping) and e.get("action_id") == action_id for e in elements):
            return str(block.get("block_id", ""))
    return ""


def _upper_id(length: int) -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(length))
