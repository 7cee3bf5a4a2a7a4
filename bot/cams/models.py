"""What a successful GetFlowPreviewUrl call yields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FlowPreview:
    """A WhatsApp Flow preview link and when it stops working (an aware UTC datetime)."""

    flow_id: str
    preview_url: str
    expires_at: datetime
    request_id: str
