"""A CAMS emulator served over real loopback HTTP, knowing the demo, STS and other accounts."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.cams.client import CamsClient
from bot.cams.credentials import Credentials, CredentialSource
from bot.cams.settings import CamsSettings
from bot.config import Endpoint, Secret
from bot.serving import serving
from bot.standin.cams.faults import FaultRule
from bot.standin.cams.flows import FlowState
from bot.standin.cams.server import DEMO_CREDENTIALS, Emulator

STS_CREDENTIALS = Credentials(
    "sts-key", Secret("sts-secret"), Secret("CAIS+testSTS/token==with+special/chars")
)
OTHER_CREDENTIALS = Credentials("other-key", Secret("other-secret"))


@dataclass
class RunningEmulator:
    """An emulator served over real loopback HTTP."""

    emulator: Emulator
    url: str

    def settings(self, **overrides: Any) -> CamsSettings:
        return CamsSettings(Endpoint.parse(self.url), **overrides)

    def client(
        self, credentials: Credentials | CredentialSource = DEMO_CREDENTIALS, **kwargs: Any
    ) -> CamsClient:
        settings = kwargs.pop("settings", None) or self.settings()
        return CamsClient(credentials, settings, **kwargs)

    def fault(self, *rules: str) -> None:
        self.emulator.rules = [FaultRule.parse(rule) for rule in rules]

    def outcomes(self) -> list[str]:
        return [r.outcome for r in self.emulator.recorded]

    def set_status(self, flow_id: str, status: str, space: str | None = None) -> FlowState:
        """GetFlow reports `status` for the flow from now on (see Emulator.set_status)."""
        return self.emulator.set_status(flow_id, status, space)

    def remove_flow(self, flow_id: str, space: str | None = None) -> FlowState:
        """The flow disappears until its status is set again (see Emulator.remove_flow)."""
        return self.emulator.remove_flow(flow_id, space)

    def get_flow_calls(self, flow_id: str) -> int:
        """How many GetFlow calls for `flow_id` arrived since the last reset."""
        return self.emulator.get_flow_by_flow.get(flow_id, 0)


@asynccontextmanager
async def running_emulator(
    ssl_context: ssl.SSLContext | None = None, **kwargs: Any
) -> AsyncIterator[RunningEmulator]:
    """Serve an Emulator that knows the demo, STS and other accounts on a free loopback port."""
    kwargs.setdefault("qps", 0)
    emulator = Emulator([DEMO_CREDENTIALS, STS_CREDENTIALS, OTHER_CREDENTIALS], **kwargs)
    # A test ends with answers still held back by latency rules: drop them rather than wait.
    async with serving(emulator.app(), ssl_context=ssl_context, shutdown_timeout=0.5) as url:
        yield RunningEmulator(emulator, url)
