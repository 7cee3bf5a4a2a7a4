"""Finding flows by name over loopback: `/flowpreview <words>`, the match list, the shortcut,
and the name and status on every preview."""

from __future__ import annotations

from bot.cams.actions import Action
from bot.standin.harness.slack_bot import running_bot
from bot.standin.slack import payloads
from tests.shared.finding import DENTAL, NEWSLETTER, SIGN_UP_V3, SPACE, calls_of, message_text


async def test_one_clear_match_answers_with_its_preview_name_and_status() -> None:
    async with running_bot(default_space=SPACE) as bot:
        answer, _ = await bot.command("sign-up V3")
        text = message_text(answer.json())
        assert f"/flows/{SIGN_UP_V3}/preview/" in text
        assert "Sign-up v3" in text
        assert "Published" in text


async def test_no_match_names_the_space_and_says_what_to_try() -> None:
    async with running_bot(default_space=SPACE) as bot:
        answer, _ = await bot.command("zebra crossing")
        text = message_text(answer.json())
        assert "No flow among the 40 flows in space" in text
        assert f"`{SPACE}`" in text
        assert "Try fewer or shorter words" in text


async def test_space_prefix_searches_another_space() -> None:
    async with running_bot(default_space=SPACE) as bot:
        answer, _ = await bot.command("sign up v3 space:cams-acme")
        text = message_text(answer.json())
        assert "`cams-acme`" in text
        assert f"/flows/{SIGN_UP_V3}/" not in text


async def test_search_without_any_space_says_how_to_give_one() -> None:
    async with running_bot() as bot:
        answer, _ = await bot.command("sign up")
        assert "needs a CAMS space" in message_text(answer.json())
        assert calls_of(bot, Action.LIST_FLOW) == 0


async def test_denied_listflow_turns_search_off_but_ids_still_work() -> None:
    async with running_bot(default_space=SPACE) as bot:
        bot.cams.fault("error:Ram.PermissionDeny@action:ListFlow")
        answer, _ = await bot.command("sign up")
        text = message_text(answer.json())
        assert "cams:ListFlow" in text
        assert "Search by name is not available" in text
        answer, _ = await bot.command(SIGN_UP_V3)
        assert f"/flows/{SIGN_UP_V3}/preview/" in message_text(answer.json())
        answer, _ = await bot.command("help")
        assert "Search by name is off" in message_text(answer.json())


async def test_a_draft_preview_says_so_in_plain_words() -> None:
    async with running_bot(default_space=SPACE) as bot:
        answer, _ = await bot.command(NEWSLETTER)
        text = message_text(answer.json())
        assert "Sign up \u2013 newsletter" in text
        assert "not published yet" in text


async def test_denied_getflow_still_previews_with_the_catalog_name() -> None:
    async with running_bot(default_space=SPACE) as bot:
        bot.cams.fault("error:Ram.PermissionDeny@action:GetFlow")
        await bot.service.catalog.wait(SPACE, 10)
        answer, _ = await bot.command(SIGN_UP_V3)
        text = message_text(answer.json())
        assert f"/flows/{SIGN_UP_V3}/preview/" in text
        assert "Sign-up v3" in text
        assert "Published" not in text


async def test_the_shortcut_finds_flows_by_name_in_a_message() -> None:
    async with running_bot(default_space=SPACE) as bot:
        await bot.service.catalog.wait(SPACE, 10)
        response_url = bot.slack.new_response_url()
        message = payloads.message_from_text(
            "Can someone check *Appointment booking \u2013 Dental* before Friday? Please sign up "
            "for the review."
        )
        body = payloads.message_shortcut(message, response_url=response_url)
        assert (await bot.post(body)).status == 200
        delivery = await bot.slack.next_response(response_url)
        assert delivery.message is not None
        text = message_text(delivery.message)
        assert f"/flows/{DENTAL}/preview/" in text
        # "sign up" in passing is no flow's whole name: it names nothing.
        assert SIGN_UP_V3 not in text
        assert NEWSLETTER not in text
