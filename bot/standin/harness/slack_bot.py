"""The bot served on loopback, with the CAMS emulator and a fake Slack beside it."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.access.settings import AccessSettings
from bot.config import Secret
from bot.preview.limiter import LimiterSettings
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.serving import serving
from bot.slack.admission.gate import Gate
from bot.slack.constants import EVENTS_PATH
from bot.slack.edge.inflight import InFlight
from bot.slack.server import DEPS, WATCHING, create_server, runner_options
from bot.slack.settings import SlackSettings
from bot.slack.watching.runner import Watching
from bot.slack.watching.settings import WatchSettings
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import RunningEmulator, running_emulator
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.signing import signed_headers
from bot.store.store import Store

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"


@dataclass
class Answer:
    """The bot's HTTP answer to one Slack request."""

    status: int
    body: str
    seconds: float

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class Bot:
    """A running bot and everything it talks to."""

    url: str
    cams: RunningEmulator
    slack: FakeSlack
    session: aiohttp.ClientSession
    service: PreviewService
    # The access check, when the bot has a store to keep rules in.
    gate: Gate | None = None
    # The work that runs after an ack (a modal opened or updated, a reply), to wait for.
    inflight: InFlight = field(default_factory=InFlight)
    # The poller and poster of watches, when the bot has a store.
    watching: Watching | None = None

    async def post(
        self, body: bytes, *, secret: str = SIGNING_SECRET, headers: dict[str, str] | None = None
    ) -> Answer:
        """POST `body` to /slack/events, signed with `secret` unless `headers` replace it."""
        sent_headers = headers if headers is not None else signed_headers(secret, body)
        started = time.monotonic()
        async with self.session.post(self.url + EVENTS_PATH, data=body, headers=sent_headers) as r:
            text = await r.text()
        return Answer(r.status, text, time.monotonic() - started)

    async def command(
        self, text: str, who: payloads.Who = payloads.DEFAULT_WHO
    ) -> tuple[Answer, str]:
        """Send `/flowpreview text` as `who`; returns the ack and the command's response_url."""
        response_url = self.slack.new_response_url()
        answer = await self.post(payloads.slash_command(text, response_url=response_url, who=who))
        return answer, response_url


@asynccontextmanager
async def running_bot(
    *,
    ack_budget: float = 2.0,
    limiter: LimiterSettings | None = None,
    qps: int = 0,
    slack_settings: dict[str, Any] | None = None,
    request_timeout: float = 5.0,
    store: Store | None = None,
    access: AccessSettings | None = None,
    watch: WatchSettings | None = None,
    **cams_settings: Any,
) -> AsyncIterator[Bot]:
    """Emulator, fake Slack and the bot's real web application, each on a loopback port."""
    async with running_emulator(qps=qps) as cams, running_fake_slack(bot_token=BOT_TOKEN) as slack:
        settings = SlackSettings(
            bot_token=Secret(BOT_TOKEN),
            signing_secret=Secret(SIGNING_SECRET),
            api_url=slack.api_url,
            **({"response_url_hosts": (slack.reply_host,)} | (slack_settings or {})),
        )
        service = PreviewService.create(
            DEMO_CREDENTIALS,
            cams.settings(**cams_settings),
            PreviewSettings(limiter=limiter or LimiterSettings()),
        )
        server = create_server(
            settings,
            service,
            ack_budget=ack_budget,
            body_timeout=request_timeout,
            store=store,
            access=access,
            watch=watch,
        )
        async with (
            serving(server, **runner_options(headers_timeout=request_timeout)) as url,
            aiohttp.ClientSession() as session,
        ):
            deps = server[DEPS]
            watching = server.get(WATCHING)
            yield Bot(url, cams, slack, session, service, deps.gate, deps.inflight, watching)
