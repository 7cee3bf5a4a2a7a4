"""The App Home tab over loopback: signed events and clicks to the real server, the fake Slack
recording every views.publish, views.open and views.update, and a store on SQLite or
PostgreSQL for pins, recent previews and access rules."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.cams.actions import Action
from bot.preview.limiter import LimiterSettings
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.preview.spaces import SpaceChoice
from bot.slack.admission.asker import Asker
from bot.slack.answers.home_tab import DEBOUNCE_S, SEARCH_RESULTS, HomeTab
from bot.slack.blocks import messages
from bot.slack.blocks.home import MAX_VIEW_BLOCKS, MAX_VIEW_BYTES
from bot.slack.constants import (
    HOME_PIN_ACTION_ID,
    HOME_PREVIEW_ACTION_ID,
    HOME_SEARCH_ACTION_ID,
    HOME_UNPIN_ACTION_ID,
)
from bot.slack.edge.inflight import InFlight
from bot.slack.listeners.commands.config import PENDING
from bot.standin.cams.catalog import FEATURED, default_catalog
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import RunningEmulator, running_emulator
from bot.standin.harness.slack_bot import BOT_TOKEN, Bot
from bot.standin.slack import limits, payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.surfaces import Published
from bot.store.store import Store
from tests.fake_clock import HANG_GUARD_S, FakeClock
from tests.shared.access import ADMIN, MEMBER, OTHER, SPACE, guarded_bot
from tests.shared.store import make_record

Json = dict[str, Any]
SIGN_UP_V3, APPOINTMENT = FEATURED[0], FEATURED[3]
GUEST = payloads.GUEST_WHO
# What a preview link holds and a Home view never may.
BEARER_MARKS = ("token=", "/preview/")


@asynccontextmanager
async def home_bot(database_url: str, **kwargs: Any) -> AsyncIterator[tuple[Bot, Store]]:
    """The bot with a store, access rules and two spaces; on the way out, every Home view it
    published is checked for a preview link."""
    async with guarded_bot(database_url, **kwargs) as (bot, store):
        yield bot, store
        await bot.inflight.drain(HANG_GUARD_S)
    assert_no_link(bot.slack.published)


def assert_no_link(published: Sequence[Published]) -> None:
    """Check that none of the `published` Home views holds a preview link."""
    leaked = [
        item.view
        for item in published
        if any(mark in json.dumps(item.view) for mark in BEARER_MARKS)
    ]
    assert leaked == [], "a preview link in a Home view"


def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database under `tmp_path`."""
    return f"sqlite+aiosqlite:///{tmp_path / 'home.sqlite3'}"


async def open_home(bot: Bot, who: payloads.Who = MEMBER) -> Published:
    """`who` opens the Home tab; the view the bot published for them."""
    answer = await bot.post(payloads.event_callback(payloads.app_home_opened(who=who), who=who))
    assert answer.status == 200
    published = await bot.slack.next_publish(within=HANG_GUARD_S)
    assert published.user_id == who.user_id
    return published


async def act(bot: Bot, view: Json, element: Json, who: payloads.Who = MEMBER) -> None:
    """`who` acts on `element` of their Home `view` (a click, or Enter in the search box)."""
    body = payloads.home_block_actions(
        element, view=view, who=who, trigger_id=bot.slack.new_trigger_id()
    )
    answer = await bot.post(body)
    assert answer.status == 200


async def search(bot: Bot, view: Json, words: str, who: payloads.Who = MEMBER) -> Json:
    """`who` types `words` in the search box and presses Enter; the view published then."""
    box = next(b["element"] for b in view["blocks"] if b.get("type") == "input")
    assert box["action_id"] == HOME_SEARCH_ACTION_ID
    await act(bot, view, {**box, "value": words}, who)
    return (await bot.slack.next_publish(within=HANG_GUARD_S)).view


def text_of(view: Json) -> str:
    """A view's blocks as one string, after checking Slack would take it as a Home tab."""
    assert limits.view_problems(view, kind="home") == []
    return json.dumps(view["blocks"], ensure_ascii=False)


def buttons(view: Json, action_id: str) -> list[Json]:
    """Every button of `view` with `action_id`, in order."""
    found: list[Json] = []
    for block in view["blocks"]:
        for element in [*block.get("elements", []), block.get("accessory")]:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                found.append(element)
    return found


def flows_of(view: Json, action_id: str) -> list[str]:
    """The flow IDs of `view`'s `action_id` buttons, in order."""
    return [json.loads(b["value"])["flow"] for b in buttons(view, action_id)]


def section_after(view: Json, heading: str) -> list[Json]:
    """The blocks of `view` from the section starting with `heading` to the next heading."""
    blocks: list[Json] = view["blocks"]
    start = next(
        n
        for n, block in enumerate(blocks)
        if block.get("type") == "section" and block["text"]["text"].startswith(heading)
    )
    rest: list[Json] = []
    for block in blocks[start + 1 :]:
        text = block.get("text", {}).get("text", "") if block.get("type") == "section" else ""
        if block.get("type") == "divider" or (text.startswith("*") and "accessory" not in block):
            break
        rest.append(block)
    return rest


def pinned(view: Json) -> list[str]:
    """The flow IDs the view lists under Pinned."""
    return flows_of({"blocks": section_after(view, "*Pinned*")}, HOME_PREVIEW_ACTION_ID)


def recent(view: Json) -> list[str]:
    """The flow IDs the view lists under the recent previews."""
    part = section_after(view, "*Your recent previews*")
    return flows_of({"blocks": part}, HOME_PREVIEW_ACTION_ID)


async def warm(bot: Bot, *spaces: str) -> None:
    """Wait for the flow lists of `spaces`, which a search reads without waiting."""
    for space in spaces:
        assert await bot.service.catalog.wait(space, HANG_GUARD_S) is not None


# Opening the tab


async def test_opening_the_home_tab_publishes_the_persons_view(tmp_path: Path) -> None:
    async with home_bot(sqlite_url(tmp_path)) as (bot, _):
        published = await open_home(bot)

    shown = text_of(published.view)
    assert published.view["type"] == "home"
    assert published.team_id == MEMBER.team_id
    assert "Find a flow by name" in shown
    assert "Nothing pinned yet" in shown
    assert "No previews yet." in shown
    assert "How to get a preview" in shown
    assert "For admins" not in shown, "a member sees no rules"


async def test_the_messages_tab_publishes_nothing(tmp_path: Path) -> None:
    async with home_bot(sqlite_url(tmp_path)) as (bot, _):
        event = payloads.app_home_opened(tab="messages")
        answer = await bot.post(payloads.event_callback(event))
        # The listener runs before the answer: anything it started would be in flight now.
        owed = len(bot.inflight)

    assert answer.status == 200
    assert owed == 0
    assert bot.slack.published == []


@dataclass
class LoneHome:
    """A HomeTab of its own, outside any server, on the emulator and a fake Slack."""

    home: HomeTab
    client: AsyncWebClient
    cams: RunningEmulator
    fake: FakeSlack
    inflight: InFlight


@asynccontextmanager
async def lone_home(**kwargs: Any) -> AsyncIterator[LoneHome]:
    """A HomeTab (keyword arguments as its own) with the default space offered, no gate and
    no store."""
    async with (
        running_emulator() as cams,
        running_fake_slack(bot_token=BOT_TOKEN) as fake,
    ):
        service = PreviewService.create(
            DEMO_CREDENTIALS,
            cams.settings(default_space=SPACE),
            PreviewSettings(limiter=LimiterSettings()),
        )
        service.spaces = (SpaceChoice(SPACE, "Demo"),)
        inflight = InFlight()
        home = HomeTab(service, None, None, None, inflight, **kwargs)
        client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
        try:
            yield LoneHome(home, client, cams, fake, inflight)
        finally:
            await inflight.drain(HANG_GUARD_S)
            await service.close()


async def test_opening_again_within_the_debounce_publishes_nothing_more() -> None:
    clock = FakeClock(1000.0)
    asker = Asker(MEMBER.team_id, MEMBER.user_id, "")
    async with lone_home(clock=clock.time) as lone:
        lone.home.opened(lone.client, asker, None)
        await lone.inflight.drain(HANG_GUARD_S)
        clock.advance(DEBOUNCE_S - 0.5)
        lone.home.opened(lone.client, asker, None)
        within = len(lone.inflight)
        clock.advance(1.0)
        lone.home.opened(lone.client, asker, None)

    assert within == 0, "nothing more to publish within the debounce"
    assert len(lone.fake.published) == 2
    assert_no_link(lone.fake.published)


async def test_a_persons_publishes_land_in_the_order_they_were_asked_for() -> None:
    asker = Asker(MEMBER.team_id, MEMBER.user_id, "")
    async with lone_home() as lone:
        # The search waits for the flow list, which comes late; the later publish has nothing
        # to wait for, and would land first, leaving the older view on top.
        lone.cams.fault("latency:0.5@action:ListFlow")
        searching = asyncio.create_task(lone.home.publish(lone.client, asker, query="appointment"))
        await asyncio.sleep(0)
        await lone.home.publish(lone.client, asker, notice="Pinned.")
        await searching

    published = lone.fake.published
    assert [p.view["private_metadata"] for p in published] == ['{"q":"appointment"}', "{}"]
    assert "Pinned." in json.dumps(published[-1].view)


async def test_a_guest_sees_no_search_and_no_flows(tmp_path: Path) -> None:
    async with home_bot(sqlite_url(tmp_path)) as (bot, _):
        published = await open_home(bot, GUEST)

    shown = text_of(published.view)
    assert "You don't have access to any CAMS space here" in shown
    assert "Find a flow by name" not in shown
    assert buttons(published.view, HOME_PREVIEW_ACTION_ID) == []


# Search


async def test_a_search_lists_the_matches_each_with_preview_and_pin(tmp_path: Path) -> None:
    async with home_bot(sqlite_url(tmp_path)) as (bot, _):
        await warm(bot, SPACE)
        home = await open_home(bot)
        found = await search(bot, home.view, "appointment booking")

    shown = text_of(found)
    matches = flows_of(found, HOME_PREVIEW_ACTION_ID)
    assert "Flows named like" in shown
    assert APPOINTMENT.flow_id in matches
    assert APPOINTMENT.name in shown
    assert flows_of(found, HOME_PIN_ACTION_ID) == matches, "each match has Pin"
    assert json.loads(found["private_metadata"]) == {"q": "appointment booking"}


async def test_a_search_that_matches_nothing_says_so(tmp_path: Path) -> None:
    async with home_bot(sqlite_url(tmp_path)) as (bot, _):
        await warm(bot, SPACE)
        home = await open_home(bot)
        found = await search(bot, home.view, "zzzqqq nothing like it")

    assert "No flow is named like" in text_of(found)
    assert flows_of(found, HOME_PREVIEW_ACTION_ID) == []


async def test_a_link_typed_in_the_search_box_is_never_shown_back(tmp_path: Path) -> None:
    link = "https://business.facebook.com/wa/manage/flows/1234567890123456/preview/?token=abc"
    async with home_bot(sqlite_url(tmp_path)) as (bot, _):
        home = await open_home(bot)
        found = await search(bot, home.view, link)

    assert "abc" not in json.dumps(found)
    assert "finds flows by name" in text_of(found)
    assert json.loads(found["private_metadata"]) == {}


# Preview


async def test_preview_opens_a_modal_then_puts_the_link_in_it(tmp_path: Path) -> None:
    async with home_bot(sqlite_url(tmp_path)) as (bot, _):
        await warm(bot, SPACE)
        home = await open_home(bot)
        found = await search(bot, home.view, SIGN_UP_V3.name)
        [button] = [
            b
            for b in buttons(found, HOME_PREVIEW_ACTION_ID)
            if json.loads(b["value"])["flow"] == SIGN_UP_V3.flow_id
        ]
        await act(bot, found, button)
        opened = await bot.slack.next_view(within=HANG_GUARD_S)
        updated = await bot.slack.next_view(within=HANG_GUARD_S)

    assert opened.method == "views.open"
    assert "token=" not in json.dumps(opened.view)
    assert updated.method == "views.update"
    assert updated.view_id == opened.view_id
    assert f"/flows/{SIGN_UP_V3.flow_id}/preview/?token=" in json.dumps(updated.view)


async def test_a_refused_person_gets_a_refused_modal_and_no_cams_call(tmp_path: Path) -> None:
    async with home_bot(sqlite_url(tmp_path)) as (bot, _):
        # The member's Home view, as a guest would click it: the button is all a click carries.
        await warm(bot, SPACE)
        home = await open_home(bot)
        found = await search(bot, home.view, SIGN_UP_V3.name)
        button = buttons(found, HOME_PREVIEW_ACTION_ID)[0]
        await act(bot, found, button, who=GUEST)
        refused = await bot.slack.next_view(within=HANG_GUARD_S)
        await bot.inflight.drain(HANG_GUARD_S)
        asked = bot.cams.emulator.by_action.get(Action.GET_FLOW_PREVIEW_URL, 0)
        changes = [change.method for change in bot.slack.view_changes]

    assert refused.method == "views.open"
    assert messages.REFUSED_TEXT in json.dumps(refused.view, ensure_ascii=False)
    assert "token=" not in json.dumps(refused.view)
    assert changes == ["views.open"], "no update follows a refusal"
    assert asked == 0


# Pins


async def test_pin_lists_the_flow_under_pinned_and_unpin_takes_it_off(database_url: str) -> None:
    async with home_bot(database_url) as (bot, _):
        await warm(bot, SPACE)
        home = await open_home(bot)
        found = await search(bot, home.view, SIGN_UP_V3.name)
        [pin] = [
            b
            for b in buttons(found, HOME_PIN_ACTION_ID)
            if json.loads(b["value"])["flow"] == SIGN_UP_V3.flow_id
        ]
        await act(bot, found, pin)
        after_pin = (await bot.slack.next_publish(within=HANG_GUARD_S)).view
        [unpin] = buttons({"blocks": section_after(after_pin, "*Pinned*")}, HOME_UNPIN_ACTION_ID)
        await act(bot, after_pin, unpin)
        after_unpin = (await bot.slack.next_publish(within=HANG_GUARD_S)).view

    assert pinned(after_pin) == [SIGN_UP_V3.flow_id]
    assert SIGN_UP_V3.flow_id in flows_of(after_pin, HOME_UNPIN_ACTION_ID)
    assert SIGN_UP_V3.flow_id not in flows_of(after_pin, HOME_PIN_ACTION_ID), (
        "a pinned match offers Unpin, not Pin again"
    )
    assert json.loads(after_pin["private_metadata"]) == {"q": SIGN_UP_V3.name}, "search kept"
    assert pinned(after_unpin) == []
    assert "Nothing pinned yet" in text_of(after_unpin)
    assert SIGN_UP_V3.flow_id in flows_of(after_unpin, HOME_PIN_ACTION_ID)


async def test_a_refused_person_cannot_pin(tmp_path: Path) -> None:
    async with home_bot(sqlite_url(tmp_path)) as (bot, store):
        await warm(bot, SPACE)
        home = await open_home(bot)
        found = await search(bot, home.view, SIGN_UP_V3.name)
        await act(bot, found, buttons(found, HOME_PIN_ACTION_ID)[0], who=GUEST)
        refused = await bot.slack.next_publish(within=HANG_GUARD_S)
        kept = await store.pins.list(GUEST.team_id, GUEST.user_id)

    assert refused.user_id == GUEST.user_id
    assert "You don't have access" in text_of(refused.view)
    assert kept == []


# Recent previews


async def test_a_preview_by_command_is_listed_under_recent_previews(database_url: str) -> None:
    async with home_bot(database_url) as (bot, store):
        # Answered within the ack: the emulator is quick.
        answer, _ = await bot.command(SIGN_UP_V3.flow_id)
        assert await store.audit.flush(HANG_GUARD_S)
        home = await open_home(bot)

    assert "token=" in answer.body, "the person got their link"
    assert recent(home.view) == [SIGN_UP_V3.flow_id]
    assert SIGN_UP_V3.flow_id in flows_of(home.view, HOME_PIN_ACTION_ID)


async def test_a_full_home_tab_stays_within_slacks_limits(tmp_path: Path) -> None:
    flows = default_catalog()[SPACE]
    kept, viewed = flows[:20], flows[20:30]
    async with home_bot(sqlite_url(tmp_path)) as (bot, store):
        await warm(bot, SPACE, OTHER)
        # Recent enough that the trail's purge, which runs on the real date, keeps them.
        start = datetime.now(UTC) - timedelta(hours=1)
        for minute, flow in enumerate(viewed):
            at = start + timedelta(minutes=minute)
            record = make_record(
                at, user=ADMIN.user_id, flow=flow.flow_id, team=ADMIN.team_id, space=SPACE
            )
            store.audit.record(record)
        assert await store.audit.flush(HANG_GUARD_S)
        for flow in kept:
            await store.pins.pin(ADMIN.team_id, ADMIN.user_id, flow.flow_id, SPACE)
        home = await open_home(bot, ADMIN)
        # The largest view there is: ten matches on top (a letter matches in both spaces'
        # catalogs), every pin and recent preview, and the admin's part.
        full = await search(bot, home.view, "c", ADMIN)

    for view in (home.view, full):
        assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
        assert len(json.dumps(view).encode()) <= MAX_VIEW_BYTES
        assert limits.home_size_problems(view) == []
    assert sorted(pinned(home.view)) == sorted(flow.flow_id for flow in kept)
    assert recent(home.view) == [flow.flow_id for flow in reversed(viewed)]
    matches = flows_of({"blocks": section_after(full, "*Flows named like")}, HOME_PREVIEW_ACTION_ID)
    assert len(matches) == SEARCH_RESULTS
    assert len(flows_of(full, HOME_PREVIEW_ACTION_ID)) == len(matches) + len(kept) + len(viewed)
    assert "Who may see each space" in text_of(full)


# Admins


async def test_an_admin_sees_the_rules_and_a_member_does_not(tmp_path: Path) -> None:
    async with home_bot(sqlite_url(tmp_path)) as (bot, _):
        # Saved within the ack: nothing else holds the database.
        saved, _ = await bot.command(f"config allow {OTHER} user <@{ADMIN.user_id}>", who=ADMIN)
        admin = await open_home(bot, ADMIN)
        member = await open_home(bot, MEMBER)

    assert PENDING not in saved.body
    admin_text, member_text = text_of(admin.view), text_of(member.view)
    assert "Who may see each space" in admin_text
    assert f"`{OTHER}`: user <@{ADMIN.user_id}>" in admin_text
    assert "Who may see each space" not in member_text
    assert "For admins" not in member_text


async def test_a_space_the_rules_close_is_left_out_of_a_members_search(tmp_path: Path) -> None:
    async with home_bot(sqlite_url(tmp_path)) as (bot, _):
        await warm(bot, SPACE, OTHER)
        saved, _ = await bot.command(f"config allow {OTHER} user <@{ADMIN.user_id}>", who=ADMIN)
        admin = await search(bot, (await open_home(bot, ADMIN)).view, "support", ADMIN)
        member = await search(bot, (await open_home(bot, MEMBER)).view, "support", MEMBER)

    def spaces(view: Json) -> set[str]:
        return {json.loads(b["value"])["space"] for b in buttons(view, HOME_PREVIEW_ACTION_ID)}

    assert PENDING not in saved.body
    assert spaces(admin) == {SPACE, OTHER}
    assert spaces(member) == {SPACE}
