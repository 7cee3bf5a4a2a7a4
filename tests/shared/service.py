"""What the preview service's unit and integration tests share."""

from __future__ import annotations

from typing import Any

from bot.preview.limiter import LimiterSettings
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import RunningEmulator


def make_service(
    cams: RunningEmulator, limiter: LimiterSettings | None = None, **cams_settings: Any
) -> PreviewService:
    """A preview service on `cams` with the demo's credentials."""
    settings = PreviewSettings(limiter=limiter or LimiterSettings())
    return PreviewService.create(DEMO_CREDENTIALS, cams.settings(**cams_settings), settings)


def arrivals_of(cams: RunningEmulator) -> list[float]:
    """When each call with the demo's credentials reached the emulator."""
    arrivals: list[float] = cams.emulator.stats()["arrivals"].get(
        DEMO_CREDENTIALS.access_key_id, []
    )
    return arrivals
