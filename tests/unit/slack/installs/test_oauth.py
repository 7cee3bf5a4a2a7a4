"""Installs in several workspaces: Slack's OAuth v2 end to end, a token per workspace, token
rotation and uninstalls, over loopback with the fake Slack, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from bot.access.ids import Kind
from bot.logs import LogFormat, make_handler
from bot.preview.spaces import SpaceChoice
from bot.serving import serving
from bot.slack.app import AUTHORIZE_FAILED
from bot.slack.blocks import messages
from bot.slack.constants import PICKER_FLOW_BLOCK_ID, PICKER_SPACE_BLOCK_ID
from bot.slack.installs.oauth import authorize_url, oauth_routes
from bot.slack.installs.states import PURGE_GRACE_S, SignedStateStore, state_key
from bot.slack.settings import DEFAULT_SCOPES
from bot.standin.harness.emulator import RunningEmulator
from bot.standin.slack import oauth as slack_oauth
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.garbage import UPSTREAM_ERROR, Garbage
from bot.standin.slack.oauth import CLIENT_ID, CLIENT_SECRET, FakeOAuth
from bot.standin.slack.payloads import Who
from bot.store.settings import StoreSettings
from bot.store.store import Store
from tests.fake_clock import HANG_GUARD_S, FakeClock
from tests.shared import oauth
from tests.shared.oauth import (
    ALPHA,
    BASIC_AUTH_DEPRECATED,
    BETA,
    FLOW,
    SPACE,
    OAuthBot,
    auth_test_tokens,
    installation_store,
    recorded_states,
    refresh_arrived,
    running_oauth_bot,
    who_in,
)

log = logging.getLogger(__name__)
pytestmark = BASIC_AUTH_DEPRECATED

# Fixtures defined once in tests/shared/oauth.py, bound here under the names tests take.
bot = oauth.bot
rotating_slack = oauth.rotating_slack
slack = oauth.slack

OTHER_SPACE = "cams-acme"
# The key the bot signs its states with, to make states of one's own.
KEY = state_key(CLIENT_SECRET)


@pytest.fixture
async def rotating_bot(
    database_url: str, rotating_slack: FakeSlack, cams: RunningEmulator
) -> AsyncIterator[OAuthBot]:
    async with running_oauth_bot(database_url, rotating_slack, cams) as running:
        yield running


async def test_an_install_begins_at_slacks_consent_screen(bot: OAuthBot) -> None:
    authorize, cookie = await bot.begin_install()

    url = URL(authorize)
    assert str(url.with_query(None)) == f"{bot.slack.url}/oauth/v2/authorize"
    assert url.query["client_id"] == CLIENT_ID
    assert url.query["scope"] == ",".join(DEFAULT_SCOPES)
    # The state in the URL is the browser's cookie; it is signed, and nothing is written.
    assert len(url.query["state"]) >= 40
    assert url.query["state"] == cookie
    assert await recorded_states(bot.store.sqlalchemy_engine()) == 0


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
        assert installation.bot_scopes == list(DEFAULT_SCOPES)
        assert installation.bot_refresh_token is None
    # Each state used, recorded once.
    assert await recorded_states(bot.store.sqlalchemy_engine()) == 2


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


async def test_a_redirect_without_a_good_state_makes_no_call_to_slack(bot: OAuthBot) -> None:
    authorize, cookie = await bot.begin_install()
    # A code Slack would exchange: any call made with it would install the workspace.
    redirect = URL(bot.approve(authorize, ALPHA))
    expired = await SignedStateStore(
        bot.store.sqlalchemy_engine(), KEY, clock=lambda: datetime.now(UTC) - timedelta(hours=1)
    ).async_issue()
    foreign = await SignedStateStore(
        bot.store.sqlalchemy_engine(), state_key("not ours")
    ).async_issue()
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
        assert auth_test_tokens(bot.slack, before) == bot.oauth.tokens_of(workspace.team_id)


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
        body = payloads.slash_command(FLOW, response_url=f"{url}/hook", who=who_in(BETA))
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
    assert auth_test_tokens(bot.slack, before) == [new_token, new_token]
    saved = await bot.installation(ALPHA)
    assert saved is not None
    assert saved.bot_token == new_token
    # Saved in place: one installation, one bot, whatever the rotations.
    assert await _rows(bot.store.sqlalchemy_engine(), "slack_installations") == 1
    assert await _rows(bot.store.sqlalchemy_engine(), "slack_bots") == 1


async def _rows(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
    return int(count or 0)


async def test_concurrent_requests_in_one_process_rotate_once(rotating_bot: OAuthBot) -> None:
    bot = rotating_bot
    await bot.install(ALPHA)
    bot.oauth.token_lifetime_s = slack_oauth.TOKEN_LIFETIME_S
    held = bot.oauth.hold_refreshes()

    commands = [asyncio.create_task(bot.command(ALPHA)) for _ in range(5)]
    await refresh_arrived(bot.slack)
    held.set()
    answers = await asyncio.gather(*commands)

    assert [status for status, _, _ in answers] == [200] * 5
    assert all(f"`{FLOW}`" in ack for _, ack, _ in answers)
    assert bot.oauth.refreshes == 1
    assert set(auth_test_tokens(bot.slack)[-5:]) == {bot.oauth.tokens_of(ALPHA.team_id)[-1]}


async def test_uninstalling_deletes_the_installation(bot: OAuthBot) -> None:
    await bot.install(ALPHA)
    await bot.install(BETA)
    bot.oauth.revoke(ALPHA.team_id)

    status, _ = await bot.post(slack_oauth.app_uninstalled(ALPHA.team_id))

    assert status == 200
    assert await bot.installation(ALPHA) is None
    store = installation_store(bot.store.sqlalchemy_engine())
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
    store = installation_store(bot.store.sqlalchemy_engine())
    assert await store.async_find_bot(enterprise_id=None, team_id=ALPHA.team_id) is None


def _dates(clock: FakeClock) -> Callable[[], datetime]:
    """`clock` as the aware datetimes the state store reads."""
    return lambda: datetime.fromtimestamp(clock.now, UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    store = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    await store.start()
    try:
        yield store.sqlalchemy_engine()
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
    assert await recorded_states(engine) == 0, "only a good state is ever recorded"
    assert await states.async_consume(state)


async def test_issuing_writes_nothing_and_used_states_are_purged_once_expired(
    engine: AsyncEngine,
) -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    states = SignedStateStore(engine, KEY, expiration_s=600, clock=_dates(clock))
    issued = [await states.async_issue() for _ in range(1000)]
    assert len(set(issued)) == 1000
    assert await recorded_states(engine) == 0

    for state in issued[:3]:
        assert await states.async_consume(state)
    assert await recorded_states(engine) == 3
    # Kept past the expiry for a replica whose clock runs behind, then purged.
    clock.advance(600 + PURGE_GRACE_S)
    assert await states.async_consume(await states.async_issue())
    assert await recorded_states(engine) == 1


async def test_two_redirects_with_one_state_succeed_once(
    engine: AsyncEngine, database_url: str
) -> None:
    # Two replicas, each with its own engine, on one database.
    other = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    await other.start()
    try:
        replicas = [SignedStateStore(engine, KEY), SignedStateStore(other.sqlalchemy_engine(), KEY)]
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
    await bot.post(
        payloads.global_shortcut(trigger_id=bot.slack.new_trigger_id(), who=who_in(ALPHA))
    )
    picker = await bot.slack.next_view(within=HANG_GUARD_S)
    offered = [o["value"] for o in picker.view["blocks"][0]["element"]["options"]]
    forged = payloads.view_submission(
        picker.view,
        chosen={
            PICKER_SPACE_BLOCK_ID: {"text": messages.plain(OTHER_SPACE), "value": OTHER_SPACE},
            PICKER_FLOW_BLOCK_ID: {"text": messages.plain(FLOW), "value": FLOW},
        },
        who=who_in(ALPHA),
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
