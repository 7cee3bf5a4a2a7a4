"""The fake Slack's surfaces beyond modals and response_urls: link unfurls (`chat.unfurl`), the
Home tab (`views.publish`), workflow steps (`functions.completeSuccess`/`completeError`),
ephemeral messages (`chat.postEphemeral`), channel facts (`conversations.info`), and rate
limits on any method.

`Surfaces` keeps what each method was handed, as Slack would have taken it, and lets tests
await it; `FakeSlack` is one, and routes these methods here.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiohttp import web

from bot.standin.slack import limits
from bot.standin.slack.payloads import CHANNELS, SHARED_CHANNEL_ID, UNFURL_SOURCES, new_ts

_Json = dict[str, Any]
_Item = TypeVar("_Item")

DEFAULT_WAIT_S = 5.0
FUNCTION_METHODS = ("functions.completeSuccess", "functions.completeError")
# Methods answered for the bot token (or a token the fake's OAuth issued).
BOT_METHODS = (
    "chat.unfurl",
    "views.publish",
    "chat.postEphemeral",
    "chat.postMessage",
    "conversations.info",
)
# Slack documents this for a function execution that can no longer be completed (the
# execution_not_in_running_state of functions.completeSuccess and completeError); there is no
# error named for a second completion as such.
ALREADY_COMPLETED = "execution_not_in_running_state"


@dataclass(frozen=True, slots=True)
class Unfurl:
    """One accepted chat.unfurl: by `channel` and `ts`, or by `unfurl_id` and `source`;
    `unfurls` maps each URL to its attachment (`{"blocks": [...]}`)."""

    channel: str | None
    ts: str | None
    unfurl_id: str | None
    source: str | None
    unfurls: dict[str, Any]
    team_id: str


@dataclass(frozen=True, slots=True)
class Published:
    """One accepted views.publish: the Home tab of `user_id`, as Slack stored it."""

    team_id: str
    user_id: str
    view: _Json


@dataclass(frozen=True, slots=True)
class FunctionResult:
    """A workflow step completed: with `outputs` (completeSuccess) or `error` (completeError)."""

    execution_id: str
    outputs: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Ephemeral:
    """One accepted chat.postEphemeral: `message` (its text and blocks) shown to `user` only."""

    channel: str
    user: str
    message: _Json
    team_id: str


@dataclass(frozen=True, slots=True)
class Posted:
    """One accepted chat.postMessage: `message` (its text and blocks) in `channel`, which is a
    person's ID for a direct message from the app."""

    channel: str
    message: _Json
    team_id: str


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """What conversations.info tells of a channel."""

    is_ext_shared: bool = False
    is_private: bool = False
    is_archived: bool = False
    is_im: bool = False
    name: str = ""
    # Whether the bot is in it: posting there needs that.
    is_member: bool = True

    def as_slack(self, channel_id: str) -> _Json:
        """The `channel` object of conversations.info."""
        return {
            "id": channel_id,
            "name": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_group": self.is_private and not self.is_im,
            "is_private": self.is_private,
            "is_im": self.is_im,
            "is_ext_shared": self.is_ext_shared,
            "is_shared": self.is_ext_shared,
            "is_org_shared": False,
            "is_archived": self.is_archived,
            "is_member": self.is_member,
        }


@dataclass(slots=True)
class _Execution:
    token: str
    completed: bool = False


@dataclass(slots=True)
class _RateLimit:
    times: int
    retry_after: int


class Recorder(Generic[_Item]):
    """Everything of one kind the fake took, in order, and a way to await the next."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.items: list[_Item] = []
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._subscribers: list[asyncio.Queue[_Item]] = []

    def record(self, item: _Item) -> None:
        """Keep `item` and hand it to whoever waits."""
        self.items.append(item)
        self._queue.put_nowait(item)
        for queue in self._subscribers:
            queue.put_nowait(item)

    async def next(self, within: float) -> _Item:
        """The next item not yet returned by this method, waiting up to `within` s."""
        try:
            async with asyncio.timeout(within):
                return await self._queue.get()
        except TimeoutError:
            raise TimeoutError(f"no {self.what} within {within} s") from None

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[_Item]]:
        """A queue that receives every later item while in use."""
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            yield queue
        finally:
            self._subscribers.remove(queue)


def stored_view(
    view: Mapping[str, Any], *, view_id: str, team_id: str, app_id: str, bot_id: str
) -> _Json:
    """`view` as Slack stores it for workspace `team_id` under `view_id`, with a fresh hash
    and an empty state."""
    return {
        "id": view_id,
        "team_id": team_id,
        "type": view.get("type"),
        "blocks": view.get("blocks", []),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": {}},
        "hash": f"{time.time():.6f}.{secrets.token_hex(4)}",
        "title": view.get("title"),
        "clear_on_close": view.get("clear_on_close", False),
        "notify_on_close": view.get("notify_on_close", False),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": app_id,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": team_id,
        "bot_id": bot_id,
    }


def known_channels() -> dict[str, ChannelInfo]:
    """The channels of payloads.CHANNELS, only SHARED_CHANNEL_ID shared with another org."""
    return {
        channel_id: ChannelInfo(name=name, is_ext_shared=channel_id == SHARED_CHANNEL_ID)
        for channel_id, name in CHANNELS.items()
    }


class Surfaces:
    """The state behind chat.unfurl, views.publish, the functions.* completions,
    chat.postEphemeral, conversations.info and `rate_limit`, and the answers to them.

    `channels` is what conversations.info knows (channel ID to ChannelInfo); `home_views`
    each person's Home tab by (team_id, user_id). `unfurls`, `published`, `function_results`
    and `ephemerals` list the accepted calls in order; `next_*` await the next one.
    """

    def __init__(self, *, app_id: str, bot_id: str) -> None:
        self._app_id = app_id
        self._bot_id = bot_id
        self.channels: dict[str, ChannelInfo] = known_channels()
        self.home_views: dict[tuple[str, str], _Json] = {}
        self._unfurls: Recorder[Unfurl] = Recorder("unfurl")
        self._published: Recorder[Published] = Recorder("Home tab was published")
        self._results: Recorder[FunctionResult] = Recorder("function execution was completed")
        self._ephemerals: Recorder[Ephemeral] = Recorder("ephemeral message")
        self._posts: Recorder[Posted] = Recorder("message posted")
        self._executions: dict[str, _Execution] = {}
        self._rate_limits: dict[str, _RateLimit] = {}

    @property
    def unfurls(self) -> list[Unfurl]:
        """Every accepted chat.unfurl, in order."""
        return self._unfurls.items

    @property
    def published(self) -> list[Published]:
        """Every accepted views.publish, in order."""
        return self._published.items

    @property
    def function_results(self) -> list[FunctionResult]:
        """Every accepted completion of a function execution, in order."""
        return self._results.items

    @property
    def ephemerals(self) -> list[Ephemeral]:
        """Every accepted chat.postEphemeral, in order."""
        return self._ephemerals.items

    @property
    def posts(self) -> list[Posted]:
        """Every accepted chat.postMessage, in order."""
        return self._posts.items

    async def next_post(self, *, within: float = DEFAULT_WAIT_S) -> Posted:
        """The next accepted chat.postMessage not yet returned here, waiting up to `within` s."""
        return await self._posts.next(within)

    @contextmanager
    def subscribe_posts(self) -> Iterator[asyncio.Queue[Posted]]:
        """A queue that receives every later accepted chat.postMessage while in use."""
        with self._posts.subscribe() as queue:
            yield queue

    async def next_unfurl(self, *, within: float = DEFAULT_WAIT_S) -> Unfurl:
        """The next accepted chat.unfurl not yet returned here, waiting up to `within` s."""
        return await self._unfurls.next(within)

    @contextmanager
    def subscribe_unfurls(self) -> Iterator[asyncio.Queue[Unfurl]]:
        """A queue that receives every later accepted chat.unfurl while in use."""
        with self._unfurls.subscribe() as queue:
            yield queue

    async def next_publish(self, *, within: float = DEFAULT_WAIT_S) -> Published:
        """The next accepted views.publish not yet returned here, waiting up to `within` s."""
        return await self._published.next(within)

    @contextmanager
    def subscribe_publishes(self) -> Iterator[asyncio.Queue[Published]]:
        """A queue that receives every later accepted views.publish while in use."""
        with self._published.subscribe() as queue:
            yield queue

    async def next_function_result(self, *, within: float = DEFAULT_WAIT_S) -> FunctionResult:
        """The next completion of a function execution not yet returned here, waiting up to
        `within` s."""
        return await self._results.next(within)

    async def next_ephemeral(self, *, within: float = DEFAULT_WAIT_S) -> Ephemeral:
        """The next accepted chat.postEphemeral not yet returned here, waiting up to
        `within` s."""
        return await self._ephemerals.next(within)

    def new_function_execution(self) -> tuple[str, str]:
        """A fresh function execution: its ID and the token its step completes with, to put
        into a `function_executed` event (payloads.function_executed)."""
        execution_id = f"Fx{secrets.token_hex(5).upper()}"
        token = f"xwfp-{secrets.randbelow(10**13)}-{secrets.randbelow(10**13)}-"
        token += secrets.token_hex(16)
        self._executions[execution_id] = _Execution(token)
        return execution_id, token

    def execution_running(self, token: str) -> bool:
        """Whether `token` belongs to a function execution not completed yet: it then works
        for the app's other methods too, as Slack's workflow tokens do."""
        return any(e.token == token and not e.completed for e in self._executions.values())

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls to `method` with HTTP 429, `ratelimited` and
        `Retry-After: <retry_after>`, as Slack does past a method's tier."""
        self._rate_limits[method] = _RateLimit(times, retry_after)

    def rate_limited(self, method: str) -> web.Response | None:
        """The 429 for this call to `method`, if it is one of those `rate_limit` asked for."""
        limit = self._rate_limits.get(method)
        if limit is None:
            return None
        limit.times -= 1
        if limit.times <= 0:
            del self._rate_limits[method]
        return web.json_response(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": str(limit.retry_after)},
        )

    def complete(self, method: str, params: Mapping[str, str], token: str) -> _Json:
        """Answer functions.completeSuccess or completeError, which take only the token of
        the execution they complete."""
        execution_id = params.get("function_execution_id", "")
        if not any(execution.token == token for execution in self._executions.values()):
            return _error("invalid_auth")
        execution = self._executions.get(execution_id)
        if execution is None:
            return _error("function_execution_not_found")
        if execution.token != token:
            return _error("invalid_auth")
        if execution.completed:
            return _error(ALREADY_COMPLETED)
        if method == "functions.completeSuccess":
            outputs = _json_object(params.get("outputs", ""))
            if outputs is None:
                return _error("invalid_arguments")
            result = FunctionResult(execution_id, outputs, None)
        else:
            error = params.get("error")
            if not error:
                return _error("invalid_arguments")
            result = FunctionResult(execution_id, None, error)
        execution.completed = True
        self._results.record(result)
        return {"ok": True}

    def answer_surface(self, method: str, params: Mapping[str, str], team_id: str) -> _Json:
        """Answer one of BOT_METHODS, called with a token of workspace `team_id`."""
        if method == "chat.unfurl":
            return self._unfurl(params, team_id)
        if method == "views.publish":
            return self._publish(params, team_id)
        if method == "chat.postEphemeral":
            return self._post_ephemeral(params, team_id)
        if method == "chat.postMessage":
            return self._post_message(params, team_id)
        return self._conversation_info(params)

    def _unfurl(self, params: Mapping[str, str], team_id: str) -> _Json:
        channel, ts = params.get("channel") or None, params.get("ts") or None
        unfurl_id, source = params.get("unfurl_id") or None, params.get("source") or None
        by_message = channel is not None and ts is not None
        by_id = unfurl_id is not None and source in UNFURL_SOURCES
        unfurls = _json_object(params.get("unfurls", ""))
        if not (by_message or by_id) or unfurls is None:
            return _error("invalid_arguments")
        if not all(isinstance(unfurl, dict) for unfurl in unfurls.values()):
            return _error("invalid_arguments")
        found = [
            f"{url}: {problem}"
            for url, unfurl in unfurls.items()
            for problem in limits.unfurl_problems(unfurl)
        ]
        if found:
            return _error("invalid_blocks", found)
        self._unfurls.record(Unfurl(channel, ts, unfurl_id, source, unfurls, team_id))
        return {"ok": True}

    def _publish(self, params: Mapping[str, str], team_id: str) -> _Json:
        user_id = params.get("user_id", "")
        view = _json_object(params.get("view", ""))
        if not user_id or view is None:
            return _error("invalid_arguments")
        current = self.home_views.get((team_id, user_id))
        expected = params.get("hash") or None
        if expected is not None and (current is None or expected != current["hash"]):
            return _error("hash_conflict")
        too_large = limits.home_size_problems(view)
        if too_large:
            return _error("view_too_large", too_large)
        found = limits.view_problems(view, kind="home")
        if found:
            return _error("invalid_arguments", found)
        # A person has one Home tab: each publish replaces it under the same ID.
        view_id = current["id"] if current is not None else f"V{secrets.token_hex(5).upper()}"
        stored = stored_view(
            view, view_id=view_id, team_id=team_id, app_id=self._app_id, bot_id=self._bot_id
        )
        self.home_views[(team_id, user_id)] = stored
        self._published.record(Published(team_id, user_id, stored))
        return {"ok": True, "view": stored}

    def _post_ephemeral(self, params: Mapping[str, str], team_id: str) -> _Json:
        channel, user = params.get("channel", ""), params.get("user", "")
        if not channel or not user:
            return _error("invalid_arguments")
        message, refusal = self._message(params, channel)
        if message is None:
            return refusal
        self._ephemerals.record(Ephemeral(channel, user, message, team_id))
        return {"ok": True, "message_ts": new_ts()}

    def _post_message(self, params: Mapping[str, str], team_id: str) -> _Json:
        channel = params.get("channel", "")
        # A person's ID: Slack posts to the app's direct message with them.
        direct = channel.startswith(("U", "W"))
        message, refusal = self._message(params, None if direct else channel)
        if message is None:
            return refusal
        self._posts.record(Posted(channel, message, team_id))
        ts = new_ts()
        return {"ok": True, "channel": channel, "ts": ts, "message": {**message, "ts": ts}}

    def _message(
        self, params: Mapping[str, str], channel: str | None
    ) -> tuple[_Json | None, _Json]:
        """The message `params` describe for `channel` (None: a direct message), or None and
        Slack's refusal: the channel unknown or without the bot, or Block Kit's limits."""
        if channel is not None:
            info = self.channels.get(channel)
            if info is None:
                return None, _error("channel_not_found")
            if info.is_archived:
                return None, _error("is_archived")
            if not info.is_member and not info.is_im:
                return None, _error("not_in_channel")
        message: _Json = {"text": params.get("text", "")}
        if "blocks" in params:
            try:
                message["blocks"] = json.loads(params["blocks"])
            except ValueError:
                return None, _error("invalid_blocks_format")
        if "thread_ts" in params:
            message["thread_ts"] = params["thread_ts"]
        found = limits.problems(message)
        if found:
            return None, _error("invalid_blocks" if message.get("blocks") else "no_text", found)
        return message, {}

    def _conversation_info(self, params: Mapping[str, str]) -> _Json:
        channel_id = params.get("channel", "")
        info = self.channels.get(channel_id)
        if info is None:
            return _error("channel_not_found")
        return {"ok": True, "channel": info.as_slack(channel_id)}


def _error(code: str, problems: list[str] | None = None) -> _Json:
    """Slack's error answer, with what was wrong as `response_metadata.messages`."""
    answer: _Json = {"ok": False, "error": code}
    if problems:
        answer["response_metadata"] = {"messages": [f"[ERROR] {p}" for p in problems]}
    return answer


def _json_object(text: str) -> _Json | None:
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
