"""Every preview given, shared or failed through Slack is on the audit trail, on both databases."""

from __future__ import annotations

from typing import Any

from bot.cams.models import FlowPreview
from bot.metrics import REGISTRY
from bot.standin.harness.slack_bot import running_bot
from bot.standin.slack import payloads
from bot.store.audit import AuditOutcome, AuditRecord
from bot.store.settings import StoreSettings
from bot.store.store import Store
from tests.fake_clock import eventually

FLOW = "1234567890123456"
MISSING = "4040000000000000"
WHO = payloads.DEFAULT_WHO
FLUSH_S = 10.0


def _written() -> float:
    return (
        REGISTRY.get_sample_value("flowpreview_audit_records_total", {"result": "written"}) or 0.0
    )


async def _records(store: Store) -> list[AuditRecord]:
    assert await store.audit.flush(FLUSH_S)
    return list(reversed(await store.audit.query()))


def _share_button(message: dict[str, Any]) -> dict[str, Any]:
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    share: dict[str, Any] = buttons[1]
    return share


async def test_given_shared_and_failed_previews_are_recorded(database_url: str) -> None:
    written = _written()
    store = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    async with running_bot(store=store) as bot:
        bot.cams.fault(f"error:Flow.NotFound@flow:{MISSING}")
        first, _ = await bot.command(f"{FLOW} space:cams-x")
        # The second ask is answered from the cache, on the hot path: it is recorded too.
        await bot.command(f"{FLOW} space:cams-x")
        await bot.command(MISSING)
        response_url = bot.slack.new_response_url()
        click = payloads.block_actions(
            _share_button(first.json()),
            block_id="actions-0",
            response_url=response_url,
            message_ts=payloads.new_ts(),
        )
        await bot.post(click)
        await bot.slack.next_response(response_url)
        # The share is recorded once Slack has taken the post, which the fake sees first.
        await eventually(lambda: store.audit.backlog + store.audit.written == 4)
        records = await _records(store)

    preview = bot.service.peek(FLOW, "cams-x")
    assert isinstance(preview, FlowPreview)
    assert [(r.outcome, r.flow_id, r.space_id) for r in records] == [
        (AuditOutcome.GIVEN, FLOW, "cams-x"),
        (AuditOutcome.GIVEN, FLOW, "cams-x"),
        (AuditOutcome.FAILED, MISSING, None),
        (AuditOutcome.SHARED, FLOW, "cams-x"),
    ]
    for record in records:
        assert (record.team_id, record.channel_id, record.user_id) == (
            WHO.team_id,
            WHO.channel_id,
            WHO.user_id,
        )
    assert records[0].request_id == preview.request_id
    assert records[2].reason == "not_found"
    assert records[2].request_id
    assert store.audit.dropped == 0
    assert _written() == written + 4, "counted for the metrics too"


async def test_the_trail_is_migrated_at_start_and_written_before_shutdown(
    database_url: str,
) -> None:
    store = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    async with running_bot(store=store) as bot:
        await bot.command(FLOW)
    # Shutting down wrote what was queued; a new store on the same database reads it.
    reader = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    try:
        records = await reader.audit.query()
    finally:
        await reader.close()

    assert [(r.outcome, r.flow_id) for r in records] == [(AuditOutcome.GIVEN, FLOW)]
