"""Installs in several workspaces: Slack's OAuth v2 end to end, a token per workspace, token
rotation and uninstalls, over loopback with the fake Slack, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from bot.access.ids import Kind
from bot.access.settings import AccessSettings
from bot.config import Secret
from bot.logs import LogFormat, make_handler
from bot.preview.limiter import LimiterSettings
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.preview.spaces import SpaceChoice
from bot.serving import serving
from bot.slack.admission.gate import Gate
from bot.slack.app import AUTHORIZE_FAILED
from bot.slack.blocks import messages
from bot.slack.constants import EVENTS_PATH, PICKER_FLOW_BLOCK_ID, PICKER_SPACE_BLOCK_ID
from bot.slack.installs.oauth import authorize_url, oauth_routes
from bot.slack.installs.states import PURGE_GRACE_S, SignedStateStore, state_key
from bot.slack.server import DELIVERY, create_server
from bot.slack.settings import OAuthInstall, SlackSettings
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import RunningEmulator
from bot.standin.harness.postgres_server import PostgresServer
from bot.standin.slack import oauth as slack_oauth
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.garbage import UPSTREAM_ERROR, Garbage
from bot.standin.slack.oauth import CLIENT_ID, CLIENT_SECRET, FakeOAuth, Workspace
from bot.standin.slack.payloads import Who
from bot.standin.slack.signing import signed_headers
from bot.store.schema import oauth_states
from bot.store.settings import StoreSettings
from bot.store.store import Store
from tests.fake_clock import HANG_GUARD_S, FakeClock

log = logging.getLogger(__name__)
# slack_sdk sends the client credentials of oauth.v2.access with aiohttp's BasicAuth.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FLOW = "1234567890123456"
SPACE = "cams-demo"
OTHER_SPACE = "cams-acme"
COOKIE = "slack-app-oauth-state"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
ALPHA = Workspace("T0000ALPHA", team_name="Alpha", team_domain="alpha")
BETA = Workspace("T00000BETA", team_name="Beta", team_domain="beta")
# A token lasting an hour is due at once: Bolt rotates within two hours of expiry.
DUE_S = 3_600
# The key the bot signs its states with, to make states of one's own.
KEY = state_key(CLIENT_SECRET)


def _who(workspace: Workspace) -> Who:
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
        return self.oauth.approve(authorize, workspace, redirect_uri=self.url + REDIRECT_PATH)

    async def install(self, workspace: Workspace) -> None:
        authorize, cookie = await self.begin_install()
        status, page = await self.finish_install(self.approve(authorize, workspace), cookie)
        assert status == 200, page

    async def post(self, body: bytes) -> tuple[int, str]:
        headers = signed_headers(SIGNING_SECRET, body)
        async with self.session.post(self.url + EVENTS_PATH, data=body, headers=headers) as r:
            return r.status, await r.text()

    async def command(self, workspace: Workspace, text: str = FLOW) -> tuple[int, str, str]:
        """`/flowpreview text` from the workspace: status, ack body and response_url."""
        response_url = self.slack.new_response_url()
        body = payloads.slash_command(text, response_url=response_url, who=_who(workspace))
        status, ack = await self.post(body)
        return status, ack, response_url

    async def installation(self, workspace: Workspace) -> Installation | None:
        return await _installations(self.store.engine).async_find_installation(
            enterprise_id=None, team_id=workspace.team_id
        )


def _installations(engine: AsyncEngine) -> AsyncSQLAlchemyInstallationStore:
    return AsyncSQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=engine)


def _auth_tests(slack: FakeSlack, since: int = 0) -> list[str | None]:
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
        gate = server[DELIVERY].gate
        assert gate is not None
        # Both workspaces may use the default space: what each may use is bound per workspace.
        for workspace in (ALPHA, BETA):
            await gate.book.bind(workspace.team_id, SPACE)
        yield OAuthBot(url, slack, store, session, gate, service)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack(oauth=FakeOAuth()) as fake:
        yield fake


@pytest.fixture
async def rotating_slack() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack(oauth=FakeOAuth(rotation=True, token_lifetime_s=DUE_S)) as fake:
        yield fake


@pytest.fixture
async def bot(
    database_url: str, slack: FakeSlack, cams: RunningEmulator
) -> AsyncIterator[OAuthBot]:
    async with running_oauth_bot(database_url, slack, cams) as running:
        yield running


@pytest.fixture
async def rotating_bot(
    database_url: str, rotating_slack: FakeSlack, cams: RunningEmulator
) -> AsyncIterator[OAuthBot]:
    async with running_oauth_bot(database_url, rotating_slack, cams) as running:
        yield running


async def _recorded_states(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(oauth_states))
    return int(count or 0)


async def test_an_install_begins_at_slacks_consent_screen(bot: OAuthBot) -> None:
    authorize, cookie = await bot.begin_install()

    url = URL(authorize)
    assert str(url.with_query(None)) == f"{bot.slack.url}/oauth/v2/authorize"
    assert url.query["client_id"] == CLIENT_ID
    assert url.query["scope"] == "commands,users:read,usergroups:read"
    # The state in the URL is the browser's cookie; it is signed, and nothing is written.
    assert len(url.query["state"]) >= 40
    assert url.query["state"] == cookie
    assert await _recorded_states(bot.store.engine) == 0


def test_the_consent_screen_is_on_the_web_api_host() -> None:
    assert authorize_url(None) == "https://slack.com/oauth/v2/authorize"
    assert authorize_url("https://slack-gov.com/api/") == "https://slack-gov.com/oauth/v2/authorize"


async def test_two_workspaces_install_and_each_keeps_its_token(bot: OAuthBot) -> None:
    await bot.install(ALPHA)
    await bot.install(BETA)

    for workspace in (ALPHA, BETA):
        installation = await bot.installation(workspace)
        assert installation is not None
        assert installation.bot_token == bot.oauth.tokens_of(workspace.team_id)[0]
        assert installation.team_name == workspace.team_name
        assert installation.bot_user_id == workspace.bot_user_id
        assert installation.bot_id == workspace.bot_id
        assert installation.bot_scopes == ["commands", "users:read", "usergroups:read"]
        assert installation.bot_refresh_token is None
    # Each state used, recorded once.
    assert await _recorded_states(bot.store.engine) == 2


async def test_a_forged_reused_or_cookieless_state_is_refused(bot: OAuthBot) -> None:
    authorize, cookie = await bot.begin_install()
    redirect = bot.approve(authorize, ALPHA)
    forged = str(URL(redirect).update_query(state="forged-state"))

    without_cookie = await bot.finish_install(redirect, None)
    with_forged_state = await bot.finish_install(forged, "forged-state")
    assert await bot.installation(ALPHA) is None
    genuine = await bot.finish_install(redirect, cookie)
    replayed = await bot.finish_install(redirect, cookie)

    assert without_cookie[0] == 400
    assert with_forged_state[0] == 401
    assert genuine[0] == 200
    assert replayed[0] == 401
    assert await bot.installation(ALPHA) is not None


def _exchanges(slack: FakeSlack) -> int:
    return sum(call.method == "oauth.v2.access" for call in slack.api_calls)


async def test_no_number_of_install_page_visits_stops_a_real_install(bot: OAuthBot) -> None:
    async def visit() -> None:
        async with bot.session.get(bot.url + INSTALL_PATH, allow_redirects=False) as answer:
            assert answer.status == 302

    for _ in range(100):
        await asyncio.gather(*(visit() for _ in range(100)))

    assert await _recorded_states(bot.store.engine) == 0
    await bot.install(ALPHA)
    assert await bot.installation(ALPHA) is not None
    status, ack, _ = await bot.command(ALPHA)
    assert (status, f"`{FLOW}`" in ack) == (200, True)


async def test_a_redirect_without_a_good_state_makes_no_call_to_slack(bot: OAuthBot) -> None:
    authorize, cookie = await bot.begin_install()
    # A code Slack would exchange: any call made with it would install the workspace.
    redirect = URL(bot.approve(authorize, ALPHA))
    expired = await SignedStateStore(
        bot.store.engine, KEY, clock=lambda: datetime.now(UTC) - timedelta(hours=1)
    ).async_issue()
    foreign = await SignedStateStore(bot.store.engine, state_key("not ours")).async_issue()
    attempts: list[tuple[str, str | None]] = [
        (cookie, None),
        (cookie, "another-state"),
        ("forged-state", "forged-state"),
        (expired, expired),
        (foreign, foreign),
        *((tampered, tampered) for tampered in _tampered(cookie)),
    ]
    for state, cookie_sent in attempts:
        status, _ = await bot.finish_install(str(redirect.update_query(state=state)), cookie_sent)
        assert status in (400, 401), state
    # A flood of them, each with a code that would forge a log line.
    hostile = redirect.update_query(state="x", code="abc\n2026-12-07 09:00:00,000 CRITICAL x")
    floods = await asyncio.gather(*(bot.finish_install(str(hostile), "x") for _ in range(200)))

    assert {status for status, _ in floods} == {401}
    assert _exchanges(bot.slack) == 0
    assert await bot.installation(ALPHA) is None
    # The code was never spent: the genuine redirect still installs.
    assert (await bot.finish_install(str(redirect), cookie))[0] == 200
    assert _exchanges(bot.slack) == 1


async def test_two_replicas_given_one_state_at_once_install_once(
    database_url: str, slack: FakeSlack, cams: RunningEmulator
) -> None:
    async with (
        running_oauth_bot(database_url, slack, cams) as first,
        running_oauth_bot(database_url, slack, cams) as second,
    ):
        authorize, cookie = await first.begin_install()
        redirect = first.approve(authorize, ALPHA)
        on_second = redirect.replace(first.url, second.url)

        answers = await asyncio.gather(
            first.finish_install(redirect, cookie), second.finish_install(on_second, cookie)
        )

        assert sorted(status for status, _ in answers) == [200, 401]
        assert _exchanges(slack) == 1
        assert await first.installation(ALPHA) is not None


async def test_bolts_warning_on_a_bad_code_withholds_it_and_forges_no_line(bot: OAuthBot) -> None:
    authorize, cookie = await bot.begin_install()
    forged = "2026-12-07 09:00:00,000 CRITICAL bot: the admin password is hunter2"
    redirect = URL(bot.approve(authorize, ALPHA)).update_query(code=f"abc\n{forged}\r\u2028\x1b[2J")
    out = io.StringIO()
    handler = make_handler(LogFormat.TEXT, stream=out)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        status, _ = await bot.finish_install(str(redirect), cookie)
    finally:
        root.removeHandler(handler)

    assert status == 401
    lines = out.getvalue().splitlines()
    [warning] = [line for line in lines if "Failed to fetch oauth.v2.access" in line]
    assert "(the code withheld) - error: oauth.v2.access: Slack says " in warning
    assert "abc" not in warning
    assert not [line for line in lines if line.startswith(forged)]
    assert "\u2028" not in out.getvalue()
    assert "\x1b" not in out.getvalue()


async def test_each_workspace_is_answered_with_its_own_token(bot: OAuthBot) -> None:
    await bot.install(ALPHA)
    await bot.install(BETA)

    for workspace in (ALPHA, BETA):
        before = len(bot.slack.api_calls)
        status, ack, _ = await bot.command(workspace)

        assert status == 200
        assert f"`{FLOW}`" in ack
        assert _auth_tests(bot.slack, before) == bot.oauth.tokens_of(workspace.team_id)


async def test_a_workspace_not_installed_is_told_to_install(bot: OAuthBot) -> None:
    await bot.install(ALPHA)

    status, ack, response_url = await bot.command(BETA)
    told = await bot.slack.next_response(response_url)

    assert (status, ack) == (200, "")
    assert told.message is not None
    assert "reinstall" in str(told.message.get("text"))


async def test_the_not_installed_sentence_goes_only_to_slacks_hosts(bot: OAuthBot) -> None:
    # Bolt posts its authorise sentence to the payload's response_url itself; a signed payload
    # naming another host must not make it post there.
    posted: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        posted.append(await request.read())
        return web.Response()

    elsewhere = web.Application()
    elsewhere.router.add_post("/hook", hook)
    await bot.install(ALPHA)
    async with serving(elsewhere) as url:
        body = payloads.slash_command(FLOW, response_url=f"{url}/hook", who=_who(BETA))
        status, ack = await bot.post(body)

    assert (status, ack) == (200, "")
    assert posted == []


async def test_a_token_not_yet_due_is_not_rotated(database_url: str, cams: RunningEmulator) -> None:
    async with (
        running_fake_slack(oauth=FakeOAuth(rotation=True)) as slack,
        running_oauth_bot(database_url, slack, cams) as bot,
    ):
        await bot.install(ALPHA)
        status, _, _ = await bot.command(ALPHA)

        assert status == 200
        assert bot.oauth.refreshes == 0
        installation = await bot.installation(ALPHA)
        assert installation is not None
        assert installation.bot_refresh_token is not None


async def test_a_wrong_token_rotation_setting_is_logged(
    database_url: str,
    rotating_slack: FakeSlack,
    cams: RunningEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_oauth_bot(database_url, rotating_slack, cams, token_rotation=False) as bot:
        await bot.install(ALPHA)

    assert "given rotating tokens, but SLACK_TOKEN_ROTATION says false" in caplog.text
    assert CLIENT_SECRET not in caplog.text
    assert rotating_slack.oauth is not None
    for token in rotating_slack.oauth.tokens_of(ALPHA.team_id):
        assert token not in caplog.text


async def test_a_token_due_is_rotated_once_and_the_new_one_used(rotating_bot: OAuthBot) -> None:
    bot = rotating_bot
    await bot.install(ALPHA)
    # From now on Slack issues tokens lasting twelve hours: one rotation makes the token current.
    bot.oauth.token_lifetime_s = slack_oauth.TOKEN_LIFETIME_S
    first_token = bot.oauth.tokens_of(ALPHA.team_id)[0]
    before = len(bot.slack.api_calls)

    first = await bot.command(ALPHA)
    second = await bot.command(ALPHA)

    assert first[0] == second[0] == 200
    assert f"`{FLOW}`" in first[1]
    assert bot.oauth.refreshes == 1
    new_token = bot.oauth.tokens_of(ALPHA.team_id)[-1]
    assert new_token != first_token
    assert _auth_tests(bot.slack, before) == [new_token, new_token]
    saved = await bot.installation(ALPHA)
    assert saved is not None
    assert saved.bot_token == new_token
    # Saved in place: one installation, one bot, whatever the rotations.
    assert await _rows(bot.store.engine, "slack_installations") == 1
    assert await _rows(bot.store.engine, "slack_bots") == 1


async def _rows(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
    return int(count or 0)


async def _refresh_arrived(slack: FakeSlack) -> None:
    async with asyncio.timeout(10):
        # Polled: the fake tells no one when a call arrives.
        while not any(  # noqa: ASYNC110
            call.params.get("grant_type") == "refresh_token" for call in slack.api_calls
        ):
            await asyncio.sleep(0.01)


async def test_concurrent_requests_in_one_process_rotate_once(rotating_bot: OAuthBot) -> None:
    bot = rotating_bot
    await bot.install(ALPHA)
    bot.oauth.token_lifetime_s = slack_oauth.TOKEN_LIFETIME_S
    held = bot.oauth.hold_refreshes()

    commands = [asyncio.create_task(bot.command(ALPHA)) for _ in range(5)]
    await _refresh_arrived(bot.slack)
    held.set()
    answers = await asyncio.gather(*commands)

    assert [status for status, _, _ in answers] == [200] * 5
    assert all(f"`{FLOW}`" in ack for _, ack, _ in answers)
    assert bot.oauth.refreshes == 1
    assert set(_auth_tests(bot.slack)[-5:]) == {bot.oauth.tokens_of(ALPHA.team_id)[-1]}


async def test_two_replicas_on_postgresql_rotate_once(
    postgres_server: PostgresServer, rotating_slack: FakeSlack, cams: RunningEmulator
) -> None:
    url = await postgres_server.create_database()
    slack = rotating_slack
    assert slack.oauth is not None
    try:
        async with (
            running_oauth_bot(url, slack, cams) as first,
            running_oauth_bot(url, slack, cams) as second,
        ):
            await first.install(ALPHA)
            slack.oauth.token_lifetime_s = slack_oauth.TOKEN_LIFETIME_S
            held = slack.oauth.hold_refreshes()

            rotating = asyncio.create_task(first.command(ALPHA))
            await _refresh_arrived(slack)
            waiting = asyncio.create_task(second.command(ALPHA))
            # The second replica found the token due too, and waits for the first's turn.
            await _waiting_for_an_advisory_lock(first.store.engine)
            held.set()
            answers = [await rotating, await waiting]

            assert [status for status, _, _ in answers] == [200, 200]
            assert slack.oauth.refreshes == 1
            new_token = slack.oauth.tokens_of(ALPHA.team_id)[-1]
            assert _auth_tests(slack)[-2:] == [new_token, new_token]
            saved = await second.installation(ALPHA)
            assert saved is not None
            assert saved.bot_token == new_token
    finally:
        await postgres_server.drop_database(url)


async def _waiting_for_an_advisory_lock(engine: AsyncEngine) -> None:
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    async with asyncio.timeout(10):
        # Polled: the server tells no one when a session starts waiting.
        while True:
            async with engine.connect() as connection:
                if await connection.scalar(query):
                    return
            await asyncio.sleep(0.02)


async def test_uninstalling_deletes_the_installation(bot: OAuthBot) -> None:
    await bot.install(ALPHA)
    await bot.install(BETA)
    bot.oauth.revoke(ALPHA.team_id)

    status, _ = await bot.post(slack_oauth.app_uninstalled(ALPHA.team_id))

    assert status == 200
    assert await bot.installation(ALPHA) is None
    store = _installations(bot.store.engine)
    assert await store.async_find_bot(enterprise_id=None, team_id=ALPHA.team_id) is None
    assert await bot.installation(BETA) is not None
    _, ack, response_url = await bot.command(ALPHA)
    told = await bot.slack.next_response(response_url)
    assert ack == ""
    assert told.message is not None
    assert "reinstall" in str(told.message.get("text"))


async def test_revoking_the_bot_token_deletes_it(bot: OAuthBot) -> None:
    await bot.install(ALPHA)
    bot.oauth.revoke(ALPHA.team_id)

    status, _ = await bot.post(slack_oauth.tokens_revoked(ALPHA.team_id))

    assert status == 200
    store = _installations(bot.store.engine)
    assert await store.async_find_bot(enterprise_id=None, team_id=ALPHA.team_id) is None


def _dates(clock: FakeClock) -> Callable[[], datetime]:
    """`clock` as the aware datetimes the state store reads."""
    return lambda: datetime.fromtimestamp(clock.now, UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    store = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    await store.start()
    try:
        yield store.engine
    finally:
        await store.close()


async def test_a_state_is_good_once_and_until_it_expires(engine: AsyncEngine) -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    states = SignedStateStore(engine, KEY, expiration_s=600, clock=_dates(clock))

    used, unused, late = [await states.async_issue() for _ in range(3)]
    assert await states.async_consume(used)
    assert not await states.async_consume(used)
    clock.advance(599)
    assert await states.async_consume(unused)
    clock.advance(1)
    assert not await states.async_consume(late)
    assert not await states.async_consume("")
    assert not await states.async_consume("x" * 1000)


def _tampered(state: str) -> list[str]:
    expiry, nonce, mac = state.split(".")
    flipped = "A" if mac[0] != "A" else "B"
    return [
        f"{int(expiry) + 3600}.{nonce}.{mac}",
        f"{expiry}.{nonce[:-1]}{'A' if nonce[-1] != 'A' else 'B'}.{mac}",
        f"{expiry}.{nonce}.{flipped}{mac[1:]}",
        f"{expiry}.{nonce}.{mac}=",
        f"{state}.",
        f"{expiry}.{nonce}",
    ]


async def test_a_tampered_state_or_another_keys_is_refused(engine: AsyncEngine) -> None:
    states = SignedStateStore(engine, KEY)
    state = await states.async_issue()
    other_key = await SignedStateStore(engine, state_key("another secret")).async_issue()

    for forged in [*_tampered(state), f"{state}\n", f" {state}", other_key]:
        assert not await states.async_consume(forged), forged
    assert await _recorded_states(engine) == 0, "only a good state is ever recorded"
    assert await states.async_consume(state)


async def test_issuing_writes_nothing_and_used_states_are_purged_once_expired(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    states = SignedStateStore(engine, KEY, expiration_s=600, clock=_dates(clock))
    issued = [await states.async_issue() for _ in range(1000)]
    assert len(set(issued)) == 1000
    assert await _recorded_states(engine) == 0

    for state in issued[:3]:
        assert await states.async_consume(state)
    assert await _recorded_states(engine) == 3
    # Kept past the expiry for a replica whose clock runs behind, then purged.
    clock.advance(600 + PURGE_GRACE_S)
    assert await states.async_consume(await states.async_issue())
    assert await _recorded_states(engine) == 1


async def test_two_redirects_with_one_state_succeed_once(
    engine: AsyncEngine, database_url: str
) -> None:
    # Two replicas, each with its own engine, on one database.
    other = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    await other.start()
    try:
        replicas = [SignedStateStore(engine, KEY), SignedStateStore(other.engine, KEY)]
        state = await replicas[0].async_issue()

        results = await asyncio.gather(*(replicas[n % 2].async_consume(state) for n in range(6)))
    finally:
        await other.close()

    assert sorted(results) == [False] * 5 + [True]


def test_a_single_workspace_app_has_no_install_routes() -> None:
    bolt = AsyncApp(token="xoxb-1", request_verification_enabled=False)
    with pytest.raises(ValueError, match="single-workspace"):
        oauth_routes(bolt)


async def test_a_workspace_cannot_reach_another_workspaces_space(
    bot: OAuthBot, cams: RunningEmulator
) -> None:
    """Alpha may use the default space only; Beta also has its own. By ID, by name and in the
    picker, Alpha's people get nothing of Beta's space, and CAMS is never asked for it."""
    await bot.gate.book.bind(BETA.team_id, OTHER_SPACE)
    bot.service.spaces = (SpaceChoice(SPACE, "Shared"), SpaceChoice(OTHER_SPACE, "Beta's"))
    await bot.install(ALPHA)
    await bot.install(BETA)

    _, by_id, _ = await bot.command(ALPHA, f"{FLOW} space:{OTHER_SPACE}")
    _, by_name, _ = await bot.command(ALPHA, f"sign up space:{OTHER_SPACE}")
    await bot.post(payloads.global_shortcut(trigger_id=bot.slack.new_trigger_id(), who=_who(ALPHA)))
    picker = await bot.slack.next_view(within=HANG_GUARD_S)
    offered = [o["value"] for o in picker.view["blocks"][0]["element"]["options"]]
    forged = payloads.view_submission(
        picker.view,
        chosen={
            PICKER_SPACE_BLOCK_ID: {"text": messages.plain(OTHER_SPACE), "value": OTHER_SPACE},
            PICKER_FLOW_BLOCK_ID: {"text": messages.plain(FLOW), "value": FLOW},
        },
        who=_who(ALPHA),
    )
    _, submitted = await bot.post(forged)
    asked_by_alpha = [r for r in cams.emulator.recorded if OTHER_SPACE in r.raw_path]
    _, beta, _ = await bot.command(BETA, f"{FLOW} space:{OTHER_SPACE}")

    assert "don't have access" in by_id
    assert "don't have access" in by_name
    assert offered == [SPACE]
    assert "have access to this space" in submitted
    assert f"flows/{FLOW}/preview" in beta
    assert asked_by_alpha == [], "CAMS was never asked about Beta's space for Alpha"


async def test_an_admin_sees_and_changes_only_their_own_workspaces_rules(bot: OAuthBot) -> None:
    await bot.gate.book.bind(BETA.team_id, OTHER_SPACE)
    await bot.gate.book.allow(OTHER_SPACE, Kind.USER, ["U0BETAUSER"], by="operator")
    await bot.install(ALPHA)
    admin = Who(
        team_id=ALPHA.team_id, team_domain=ALPHA.team_domain, user_id=payloads.ADMIN_WHO.user_id
    )

    async def config(text: str) -> str:
        body = payloads.slash_command(text, response_url=bot.slack.new_response_url(), who=admin)
        return (await bot.post(body))[1]

    listed = await config("config rules")
    named = await config(f"config rules {OTHER_SPACE}")
    allowed = await config(f"config allow {OTHER_SPACE} user U0ALPHAUSER")
    removed = await config(f"config remove {OTHER_SPACE} user U0BETAUSER")
    moved = await config(f"config space {OTHER_SPACE}")

    assert "U0BETAUSER" not in listed
    for answer in (named, allowed, removed, moved):
        assert "not one this workspace uses" in answer
    assert [rule.subject for rule in await bot.gate.book.rules(OTHER_SPACE)] == ["U0BETAUSER"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("garbage", [Garbage.UPSTREAM_ERROR, Garbage.JSON_ARRAY], ids=str)
async def test_an_install_whose_code_exchange_gets_garbage_is_refused_in_one_line(
    bot: OAuthBot, caplog: pytest.LogCaptureFixture, garbage: Garbage
) -> None:
    authorize, cookie = await bot.begin_install()
    bot.slack.garble("oauth.v2.access", garbage)
    with caplog.at_level(logging.WARNING):
        status, page = await bot.finish_install(bot.approve(authorize, ALPHA), cookie)

    assert status < 500, page
    assert await bot.installation(ALPHA) is None
    assert all(record.exc_info is None for record in caplog.records)
    [bolts] = [r.getMessage() for r in caplog.records if "oauth.v2.access" in r.getMessage()]
    assert "- error: oauth.v2.access: HTTP " in bolts
    assert UPSTREAM_ERROR[:20] not in caplog.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_rotation_that_gets_garbage_is_a_sentence_not_a_failure(
    rotating_bot: OAuthBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = rotating_bot
    await bot.install(ALPHA)
    bot.slack.garble("oauth.v2.access", Garbage.JSON_ARRAY)
    with caplog.at_level(logging.WARNING):
        status, ack, response_url = await bot.command(ALPHA)
        told = await bot.slack.next_response(response_url)

    assert (status, ack) == (200, "")
    assert told.message is not None
    assert told.message.get("text") == AUTHORIZE_FAILED
    assert all(record.exc_info is None for record in caplog.records)
    assert "Failed to rotate tokens due to oauth.v2.access: HTTP 200, a JSON array" in caplog.text
