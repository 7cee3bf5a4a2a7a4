"""The bot installable in several workspaces, served on loopback with the fake Slack's OAuth."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import pytest
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.access.settings import AccessSettings
from bot.config import Secret
from bot.preview.limiter import LimiterSettings
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.serving import serving
from bot.slack.admission.gate import Gate
from bot.slack.constants import EVENTS_PATH
from bot.slack.server import DEPS, create_server
from bot.slack.settings import OAuthInstall, SlackSettings
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import RunningEmulator
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.oauth import CLIENT_ID, CLIENT_SECRET, FakeOAuth, Workspace
from bot.standin.slack.payloads import Who
from bot.standin.slack.signing import signed_headers
from bot.store.schema import oauth_states
from bot.store.settings import StoreSettings
from bot.store.store import Store

# slack_sdk sends the client credentials of oauth.v2.access with aiohttp's BasicAuth.
BASIC_AUTH_DEPRECATED = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning"
)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FLOW = "1234567890123456"
SPACE = "cams-demo"
COOKIE = "slack-app-oauth-state"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
ALPHA = Workspace("T0000ALPHA", team_name="Alpha", team_domain="alpha")
BETA = Workspace("T00000BETA", team_name="Beta", team_domain="beta")
# A token lasting an hour is due at once: Bolt rotates within two hours of expiry.
DUE_S = 3_600


def who_in(workspace: Workspace) -> Who:
    """Someone in `workspace`, as a payload names them."""
    return Who(team_id=workspace.team_id, team_domain=workspace.team_domain)


@dataclass
class OAuthBot:
    """The bot, installable in several workspaces, served on loopback."""

    url: str
    slack: FakeSlack
    store: Store
    session: aiohttp.ClientSession
    gate: Gate
    service: PreviewService

    @property
    def oauth(self) -> FakeOAuth:
        """The fake Slack's OAuth side."""
        assert self.slack.oauth is not None
        return self.slack.oauth

    async def begin_install(self) -> tuple[str, str]:
        """GET the install path: Slack's authorize URL, and the state cookie set with it."""
        async with self.session.get(self.url + INSTALL_PATH, allow_redirects=False) as answer:
            assert answer.status == 302, await answer.text()
            return answer.headers["Location"], answer.cookies[COOKIE].value

    async def finish_install(self, redirect: str, cookie: str | None) -> tuple[int, str]:
        """Follow Slack's redirect back to the bot, with the state cookie if given."""
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie is not None else {}
        async with self.session.get(redirect, headers=headers, allow_redirects=False) as answer:
            return answer.status, await answer.text()

    def approve(self, authorize: str, workspace: Workspace) -> str:
        """Approve the consent screen at `authorize` for `workspace`: Slack's redirect."""
        return self.oauth.approve(authorize, workspace, redirect_uri=self.url + REDIRECT_PATH)

    async def install(self, workspace: Workspace) -> None:
        """Install the bot in `workspace`, from the install page to the redirect's success."""
        authorize, cookie = await self.begin_install()
        status, page = await self.finish_install(self.approve(authorize, workspace), cookie)
        assert status == 200, page

    async def post(self, body: bytes) -> tuple[int, str]:
        """POST `body`, signed, to the events route: status and response body."""
        headers = signed_headers(SIGNING_SECRET, body)
        async with self.session.post(self.url + EVENTS_PATH, data=body, headers=headers) as r:
            return r.status, await r.text()

    async def command(self, workspace: Workspace, text: str = FLOW) -> tuple[int, str, str]:
        """`/flowpreview text` from the workspace: status, ack body and response_url."""
        response_url = self.slack.new_response_url()
        body = payloads.slash_command(text, response_url=response_url, who=who_in(workspace))
        status, ack = await self.post(body)
        return status, ack, response_url

    async def installation(self, workspace: Workspace) -> Installation | None:
        """The installation the store keeps for `workspace`, if any."""
        return await installation_store(self.store.sqlalchemy_engine()).async_find_installation(
            enterprise_id=None, team_id=workspace.team_id
        )


def installation_store(engine: AsyncEngine) -> AsyncSQLAlchemyInstallationStore:
    """Bolt's installation store on `engine`, as the bot configures it."""
    return AsyncSQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=engine)


def auth_test_tokens(slack: FakeSlack, since: int = 0) -> list[str | None]:
    """The token of each auth.test call the fake Slack received, from call `since` on."""
    return [call.token for call in slack.api_calls[since:] if call.method == "auth.test"]


@asynccontextmanager
async def running_oauth_bot(
    database_url: str,
    slack: FakeSlack,
    cams: RunningEmulator,
    *,
    token_rotation: bool | None = None,
) -> AsyncIterator[OAuthBot]:
    """The bot's Bolt app for several workspaces, its events route and its install routes.

    SLACK_TOKEN_ROTATION is what the fake Slack does, unless `token_rotation` says otherwise.
    """
    assert slack.oauth is not None
    store = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    install = OAuthInstall(
        client_id=CLIENT_ID,
        client_secret=Secret(CLIENT_SECRET),
        token_rotation=slack.oauth.rotation if token_rotation is None else token_rotation,
    )
    settings = SlackSettings(
        signing_secret=Secret(SIGNING_SECRET),
        api_url=slack.api_url,
        response_url_hosts=(slack.reply_host,),
        oauth=install,
    )
    service = PreviewService.create(
        DEMO_CREDENTIALS,
        cams.settings(default_space=SPACE),
        PreviewSettings(limiter=LimiterSettings()),
    )
    server = create_server(settings, service, store=store, access=AccessSettings())
    async with serving(server) as url, aiohttp.ClientSession() as session:
        gate = server[DEPS].gate
        assert gate is not None
        # Both workspaces may use the default space: what each may use is bound per workspace.
        for workspace in (ALPHA, BETA):
            await gate.book.bind(workspace.team_id, SPACE)
        yield OAuthBot(url, slack, store, session, gate, service)


@pytest.fixture
async def rotating_slack() -> AsyncIterator[FakeSlack]:
    """A fake Slack that rotates tokens, handing out ones already due for rotation."""
    async with running_fake_slack(oauth=FakeOAuth(rotation=True, token_lifetime_s=DUE_S)) as fake:
        yield fake


async def refresh_arrived(slack: FakeSlack) -> None:
    """Return once the fake Slack has received a token refresh (10 s at most)."""
    async with asyncio.timeout(10):
        # Polled: the fake tells no one when a call arrives.
        while not any(  # noqa: ASYNC110
            call.params.get("grant_type") == "refresh_token" for call in slack.api_calls
        ):
            await asyncio.sleep(0.01)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A fake Slack with OAuth installs, its tokens never rotated."""
    async with running_fake_slack(oauth=FakeOAuth()) as fake:
        yield fake


@pytest.fixture
async def bot(
    database_url: str, slack: FakeSlack, cams: RunningEmulator
) -> AsyncIterator[OAuthBot]:
    """The bot installable in several workspaces, on `database_url`."""
    async with running_oauth_bot(database_url, slack, cams) as running:
        yield running


async def recorded_states(engine: AsyncEngine) -> int:
    """How many install states the store holds."""
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(oauth_states))
    return int(count or 0)
