"""A fake Slack on one loopback aiohttp app: the Web API under `/api/`, Socket Mode, and
response_urls.

Point the bot's client at `fake.api_url` (`AsyncWebClient(base_url=fake.api_url)`) and put
`fake.new_response_url()` and `fake.new_trigger_id()` into the payloads sent to it. Every Web
API call, every message posted to a response_url and every modal opened or updated is
recorded; tests await deliveries and view changes instead of sleeping.

The Web API methods it answers: auth.test, apps.connections.open, oauth.v2.access (with
`oauth`), views.open, views.update, users.info, usergroups.users.list, and (in `surfaces`)
chat.unfurl, views.publish, chat.postEphemeral, conversations.info, functions.completeSuccess
and functions.completeError. `rate_limit(method)` makes any method answer 429 for a while.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.standin.slack import limits
from bot.standin.slack.garbage import Garbage
from bot.standin.slack.oauth import FakeOAuth
from bot.standin.slack.payloads import BOT_ID, BOT_USER_ID, DEFAULT_WHO, Who, new_trigger_id
from bot.standin.slack.people import PEOPLE_METHODS, People
from bot.standin.slack.surfaces import (
    BOT_METHODS,
    DEFAULT_WAIT_S,
    FUNCTION_METHODS,
    Surfaces,
    stored_view,
)

API_PATH = "/api/"
RESPONSE_PATH = "/response/"
SOCKET_PATH = "/socket-mode"
# Slack accepts at most five messages per response_url.
MAX_USES = 5
# A trigger_id opens one modal, within 3 s of the click that made it.
TRIGGER_LIFE_S = 3.0
VIEW_METHODS = ("views.open", "views.update")

_Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class BotUser:
    """Who the bot token belongs to, as auth.test reports it."""

    user_id: str = BOT_USER_ID
    bot_id: str = BOT_ID
    user: str = "flowpreview"
    team: str = "Example"


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One Web API call: the method, the token it carried and its parameters."""

    method: str
    token: str | None
    params: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ResponseUrlPost:
    """One POST to a response_url and what the fake answered.

    `message` is the posted JSON object (None when the body was not one); `answer` is the
    response body, `ok` or an error code such as `expired_url` or `invalid_blocks`.
    """

    url: str
    message: _Json | None
    status: int
    answer: str
    problems: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        """Whether Slack would have shown (or applied) the message."""
        return self.status == 200


@dataclass(frozen=True, slots=True)
class ViewChange:
    """A modal opened or replaced: by `views.open`, `views.update`, or a view_submission's
    answer (`response_action: update`, recorded as `response_action`). `view` is the view as
    Slack stores it, with its `id`, `hash` and an empty `state`."""

    method: str
    view: _Json

    @property
    def view_id(self) -> str:
        """The view's ID, which views.update and view payloads name it by."""
        return str(self.view["id"])


@dataclass(slots=True)
class _Target:
    queue: asyncio.Queue[ResponseUrlPost] = field(default_factory=asyncio.Queue)
    uses: int = 0
    failure: tuple[int, str] | None = None


class FakeSlack(Surfaces):
    """Slack as the bot sees it: auth.test, Socket Mode, response_url receivers, modals, and
    the surfaces of `Surfaces` (unfurls, the Home tab, workflow steps, ephemeral messages,
    conversations.info, rate limits).

    `bot_token`, when set, is the only token auth.test, the views, chat and conversations
    methods accept; otherwise any token passes. functions.* take only the token of the
    execution they complete. With `oauth` (installs in several workspaces) oauth.v2.access
    works, and only the tokens it issued pass, each for its own workspace.
    `apps.connections.open` accepts any app-level token (xapp-…) and hands out a WebSocket on
    this fake, over which `socket_request` sends envelopes as Slack does. `views.open` takes
    only a trigger_id from `new_trigger_id()`, once, within TRIGGER_LIFE_S by `clock`
    (monotonic seconds), and checks the view against Slack's limits. `garble` makes any
    method, known to the fake or not, answer as a proxy or a troubled Slack would.
    """

    def __init__(
        self,
        *,
        who: Who = DEFAULT_WHO,
        bot: BotUser = BotUser(),
        bot_token: str | None = None,
        max_uses: int = MAX_USES,
        clock: Callable[[], float] = time.monotonic,
        oauth: FakeOAuth | None = None,
    ) -> None:
        super().__init__(app_id=who.api_app_id, bot_id=bot.bot_id)
        self.who = who
        self.bot = bot
        self.bot_token = bot_token
        self.max_uses = max_uses
        self.clock = clock
        # Installs in several workspaces: the tokens it issued are then the only ones taken.
        self.oauth = oauth
        self.api_calls: list[ApiCall] = []
        self._garbled: dict[str, Garbage] = {}
        # Who is who, for users.info and usergroups.users.list.
        self.people = People()
        self.deliveries: list[ResponseUrlPost] = []
        # Every modal open now, by view ID, as Slack stores it; and every change, in order.
        self.views: dict[str, _Json] = {}
        self.view_changes: list[ViewChange] = []
        self._changes: asyncio.Queue[ViewChange] = asyncio.Queue()
        self._view_subscribers: list[asyncio.Queue[ViewChange]] = []
        # trigger_id -> when it was made; None once it has been used.
        self._triggers: dict[str, float | None] = {}
        self._targets: dict[str, _Target] = {}
        self._subscribers: list[asyncio.Queue[ResponseUrlPost]] = []
        self._url: str | None = None
        self._runner: web.AppRunner | None = None
        self._socket: web.WebSocketResponse | None = None
        self._socket_ready = asyncio.Event()
        self._acks: dict[str, asyncio.Future[_Json]] = {}

    @property
    def url(self) -> str:
        """The base URL, `http://127.0.0.1:<port>`, once started."""
        if self._url is None:
            raise RuntimeError("the fake Slack is not running; use running_fake_slack()")
        return self._url

    @property
    def reply_host(self) -> str:
        """`host:port` of its response_urls, for the bot's SLACK_RESPONSE_URL_HOSTS."""
        return self.url.removeprefix("http://")

    @property
    def api_url(self) -> str:
        """The Web API base URL for `AsyncWebClient(base_url=...)` (ends with a slash)."""
        return f"{self.url}{API_PATH}"

    def app(self) -> web.Application:
        """The aiohttp application: `/api/<method>` and `POST /response/<n>`."""
        app = web.Application()
        app.router.add_route("*", API_PATH + "{method}", self._api)
        app.router.add_post(RESPONSE_PATH + "{number}", self._response)
        app.router.add_get(SOCKET_PATH, self._socket_mode)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host:port` (0 picks a free port) and return the base URL."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self._url = f"http://{host}:{runner.addresses[0][1]}"
        return self._url

    async def close(self) -> None:
        """Stop serving."""
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def new_response_url(self) -> str:
        """A fresh response_url, as Slack puts one into every command and interaction payload."""
        url = f"{self.url}{RESPONSE_PATH}{len(self._targets) + 1}"
        self._targets[url] = _Target()
        return url

    def new_trigger_id(self) -> str:
        """A fresh trigger_id, as Slack puts one into a shortcut or interaction payload."""
        trigger_id = new_trigger_id()
        self._triggers[trigger_id] = self.clock()
        return trigger_id

    def replace_view(self, view_id: str, view: Mapping[str, Any]) -> list[str]:
        """Apply a view_submission's `response_action: update`: the problems Slack would
        have with `view`, or [] once it has replaced the open view `view_id`."""
        found = limits.view_problems(view)
        if not found and view_id not in self.views:
            found = [f"no open view {view_id}"]
        if not found:
            self._store("response_action", view, view_id, self.views[view_id]["team_id"])
        return found

    def close_view(self, view_id: str) -> None:
        """The person closed the modal (or the app cleared it): it can no longer be updated."""
        self.views.pop(view_id, None)

    async def next_view(self, *, within: float = DEFAULT_WAIT_S) -> ViewChange:
        """The next view change not yet returned by this method, waiting up to `within` s."""
        try:
            async with asyncio.timeout(within):
                return await self._changes.get()
        except TimeoutError:
            raise TimeoutError(f"no modal was opened or updated within {within} s") from None

    @contextmanager
    def subscribe_views(self) -> Iterator[asyncio.Queue[ViewChange]]:
        """A queue that receives every later view change while in use."""
        queue: asyncio.Queue[ViewChange] = asyncio.Queue()
        self._view_subscribers.append(queue)
        try:
            yield queue
        finally:
            self._view_subscribers.remove(queue)

    def garble(self, method: str, garbage: Garbage | None) -> None:
        """From now on, answer every call to `method` with `garbage` (None: as Slack would)."""
        if garbage is None:
            self._garbled.pop(method, None)
        else:
            self._garbled[method] = garbage

    def fail_response_url(self, url: str, *, status: int = 404, error: str = "expired_url") -> None:
        """From now on, answer every POST to `url` with `status` and the body `error`."""
        self._target(url).failure = (status, error)

    async def next_response(self, url: str, *, within: float = DEFAULT_WAIT_S) -> ResponseUrlPost:
        """The next POST to `url` not yet returned by this method, waiting up to `within` s."""
        target = self._target(url)
        try:
            async with asyncio.timeout(within):
                return await target.queue.get()
        except TimeoutError:
            raise TimeoutError(f"nothing was posted to {url} within {within} s") from None

    async def socket_request(
        self, envelope_type: str, payload: _Json, *, within: float = DEFAULT_WAIT_S
    ) -> _Json:
        """Send a Socket Mode envelope (`slash_commands`, `interactive`) once the bot has
        connected, and return the bot's acknowledgement of it."""
        async with asyncio.timeout(within):
            await self._socket_ready.wait()
            assert self._socket is not None
            envelope_id = secrets.token_hex(16)
            acked: asyncio.Future[_Json] = asyncio.get_running_loop().create_future()
            self._acks[envelope_id] = acked
            await self._socket.send_json(
                {
                    "envelope_id": envelope_id,
                    "type": envelope_type,
                    "payload": payload,
                    "accepts_response_payload": True,
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
            return await acked

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[ResponseUrlPost]]:
        """A queue that receives every later delivery, to any response_url, while in use."""
        queue: asyncio.Queue[ResponseUrlPost] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            yield queue
        finally:
            self._subscribers.remove(queue)

    def _target(self, url: str) -> _Target:
        try:
            return self._targets[url]
        except KeyError:
            raise LookupError(f"{url} is not a response_url this fake handed out") from None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        authorization = request.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ").strip() or params.get("token") or None
        self.api_calls.append(ApiCall(method, token, params))
        limited = self.rate_limited(method)
        if limited is not None:
            return limited
        garbage = self._garbled.get(method)
        if garbage is not None:
            return garbage.response()
        if method == "oauth.v2.access" and self.oauth is not None:
            oauth_answer = await self.oauth.access(params, request.headers.get("Authorization"))
            return web.json_response(oauth_answer)
        if method == "apps.connections.open":
            if token is None or not token.startswith("xapp-"):
                return web.json_response({"ok": False, "error": "not_allowed_token_type"})
            socket_url = self.url.replace("http://", "ws://", 1) + SOCKET_PATH
            return web.json_response({"ok": True, "url": socket_url})
        known = ("auth.test", *VIEW_METHODS, *PEOPLE_METHODS, *BOT_METHODS, *FUNCTION_METHODS)
        if method not in known:
            return web.json_response({"ok": False, "error": "unknown_method"})
        if token is None:
            return web.json_response({"ok": False, "error": "not_authed"})
        return web.json_response(await self._answer(method, params, token))

    async def _answer(self, method: str, params: Mapping[str, str], token: str) -> _Json:
        """Answer a Web API method the fake knows, called with `token`."""
        if method in FUNCTION_METHODS:
            return self.complete(method, params, token)
        if not self._accepts(token):
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test" and self.oauth is not None:
            return self.oauth.auth_test(token)
        # Slack answers for the workspace the token belongs to.
        issued = self.oauth.workspace_of(token) if self.oauth is not None else None
        team_id = issued.team_id if issued is not None else self.who.team_id
        if method == "views.open":
            return self._views_open(params, team_id)
        if method == "views.update":
            return self._views_update(params, team_id)
        if method in PEOPLE_METHODS:
            return await self.people.answer(method, params, team_id)
        if method in BOT_METHODS:
            return self.answer_surface(method, params, team_id)
        return {
            "ok": True,
            "url": f"https://{self.who.team_domain}.slack.com/",
            "team": self.bot.team,
            "user": self.bot.user,
            "team_id": self.who.team_id,
            "user_id": self.bot.user_id,
            "bot_id": self.bot.bot_id,
            "is_enterprise_install": False,
        }

    def _accepts(self, token: str) -> bool:
        """Whether the Web API takes `token`: with `oauth`, one it issued and has not revoked;
        a step's execution token, with the app's scopes, while the step runs."""
        if self.execution_running(token):
            return True
        if self.oauth is not None:
            return self.oauth.workspace_of(token) is not None
        return self.bot_token is None or token == self.bot_token

    def _views_open(self, params: Mapping[str, str], team_id: str) -> _Json:
        trigger_id = params.get("trigger_id", "")
        if trigger_id not in self._triggers:
            return {"ok": False, "error": "invalid_trigger_id"}
        made_at = self._triggers[trigger_id]
        if made_at is None:
            return {"ok": False, "error": "exchanged_trigger_id"}
        if self.clock() - made_at > TRIGGER_LIFE_S:
            return {"ok": False, "error": "expired_trigger_id"}
        self._triggers[trigger_id] = None
        view, error = _view_param(params)
        if view is None:
            return error
        return {"ok": True, "view": self._store("views.open", view, None, team_id)}

    def _views_update(self, params: Mapping[str, str], team_id: str) -> _Json:
        view_id = params.get("view_id") or self._by_external_id(params.get("external_id"))
        if view_id is None or view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        expected = params.get("hash")
        if expected is not None and expected != self.views[view_id]["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        view, error = _view_param(params)
        if view is None:
            return error
        return {"ok": True, "view": self._store("views.update", view, view_id, team_id)}

    def _by_external_id(self, external_id: str | None) -> str | None:
        if not external_id:
            return None
        return next((i for i, v in self.views.items() if v.get("external_id") == external_id), None)

    def _store(
        self, method: str, view: Mapping[str, Any], view_id: str | None, team_id: str
    ) -> _Json:
        """Keep `view` as Slack stores it for workspace `team_id`, under `view_id` or a new ID;
        record the change."""
        new_id = view_id or f"V{secrets.token_hex(5).upper()}"
        stored = stored_view(
            view,
            view_id=new_id,
            team_id=team_id,
            app_id=self.who.api_app_id,
            bot_id=self.bot.bot_id,
        )
        self.views[new_id] = stored
        change = ViewChange(method, stored)
        self.view_changes.append(change)
        self._changes.put_nowait(change)
        for queue in self._view_subscribers:
            queue.put_nowait(change)
        return stored

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "connection_info": {"app_id": self.who.api_app_id},
            }
        )
        self._socket = socket
        self._socket_ready.set()
        async for frame in socket:
            ack = _json_object(frame.data.encode()) if frame.type == WSMsgType.TEXT else None
            waiting = self._acks.pop(str(ack.get("envelope_id")), None) if ack else None
            if ack is not None and waiting is not None and not waiting.done():
                waiting.set_result(ack)
        self._socket_ready.clear()
        self._socket = None
        return socket

    async def _response(self, request: web.Request) -> web.Response:
        url = f"{self.url}{RESPONSE_PATH}{request.match_info['number']}"
        message = _json_object(await request.read())
        delivery = self._judge(url, message)
        self.deliveries.append(delivery)
        if url in self._targets:
            self._targets[url].queue.put_nowait(delivery)
        for queue in self._subscribers:
            queue.put_nowait(delivery)
        return web.Response(status=delivery.status, text=delivery.answer)

    def _judge(self, url: str, message: _Json | None) -> ResponseUrlPost:
        target = self._targets.get(url)
        if target is None:
            return ResponseUrlPost(url, message, 404, "no_such_response_url")
        if target.failure is not None:
            status, error = target.failure
            return ResponseUrlPost(url, message, status, error)
        if target.uses >= self.max_uses:
            # The error text is the stand-in's; Slack documents the limit, not the answer.
            return ResponseUrlPost(url, message, 404, "used_url")
        if message is None:
            return ResponseUrlPost(url, None, 400, "invalid_payload")
        found = limits.problems(message)
        if found:
            error = "invalid_blocks" if message.get("blocks") else "no_text"
            return ResponseUrlPost(url, message, 400, error, tuple(found))
        target.uses += 1
        return ResponseUrlPost(url, message, 200, "ok")


@asynccontextmanager
async def running_fake_slack(
    host: str = "127.0.0.1", port: int = 0, **kwargs: Any
) -> AsyncIterator[FakeSlack]:
    """A started FakeSlack (keyword arguments as FakeSlack's), stopped on exit."""
    fake = FakeSlack(**kwargs)
    await fake.start(host, port)
    try:
        yield fake
    finally:
        await fake.close()


async def _params(request: web.Request) -> dict[str, str]:
    params = dict(request.query)
    if request.content_type == "application/json":
        body = _json_object(await request.read()) or {}
        # An object (a view, blocks) stays JSON text, as it would arrive in a form.
        params.update(
            {
                name: value if isinstance(value, str) else json.dumps(value)
                for name, value in body.items()
            }
        )
    elif request.can_read_body:
        form = await request.post()
        params.update({name: str(value) for name, value in form.items()})
    return params


def _view_param(params: Mapping[str, str]) -> tuple[_Json | None, _Json]:
    """The `view` parameter, or None and the error Slack answers with."""
    view = _json_object(params.get("view", "").encode())
    if view is None:
        return None, {"ok": False, "error": "invalid_arguments"}
    found = limits.view_problems(view)
    if found:
        error = {"ok": False, "error": "invalid_arguments"}
        return None, {**error, "response_metadata": {"messages": [f"[ERROR] {p}" for p in found]}}
    return view, {}


def _json_object(raw: bytes) -> _Json | None:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
