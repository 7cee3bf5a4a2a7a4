"""**Pin** and **Unpin** beside a flow on the Home tab: kept per person, then the tab again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.asker import Asker
from bot.slack.admission.gate import admitted
from bot.slack.blocks.home import home_metadata
from bot.slack.blocks.messages import escape
from bot.slack.deps import Deps
from bot.slack.listeners.actions.clicks import button_target
from bot.store.database import DatabaseError
from bot.store.pins import PinLimitError

CANNOT_KEEP = ":warning: Pins cannot be kept right now. Try again in a minute."


def listener(deps: Deps, *, pin: bool) -> Callable[..., Awaitable[None]]:
    """The listener of the Pin button (`pin`) or the Unpin button."""

    async def home_pin(
        ack: AsyncAck,
        action: dict[str, Any],
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        target = button_target(action.get("value"))
        pins = deps.home.pins
        if target is None or pins is None:
            return
        flow_id, space, _ = target
        asker = Asker.of(context)
        query = home_metadata(body.get("view"))

        async def change() -> None:
            notice: str | None = None
            if pin:
                # Only what the person may see is pinned: the tab would not list it anyway.
                verdict = await admitted(deps.gate, client, context, space, (flow_id,))
                if not verdict.allowed:
                    notice = ":no_entry: You don't have access to that flow's space."
            if notice is None:
                notice = await _change(asker, flow_id, space, pin=pin, deps=deps)
            await deps.home.publish(client, asker, query=query, notice=notice)

        deps.inflight.spawn(change())

    return home_pin


async def _change(
    asker: Asker, flow_id: str, space: str | None, *, pin: bool, deps: Deps
) -> str | None:
    pins = deps.home.pins
    assert pins is not None
    try:
        if pin:
            await pins.pin(asker.team_id, asker.user_id, flow_id, space)
        else:
            await pins.unpin(asker.team_id, asker.user_id, flow_id, space)
    except PinLimitError as error:
        return f":warning: {escape(str(error))}"
    except (DatabaseError, OSError):
        return CANNOT_KEEP
    return None
