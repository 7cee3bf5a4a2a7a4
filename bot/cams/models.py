"""What successful CAMS calls yield: a preview link, a page of flows, a flow's details."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class FlowPreview:
    """A WhatsApp Flow preview link and when it stops working (an aware UTC datetime)."""

    flow_id: str
    preview_url: str
    expires_at: datetime
    request_id: str


class FlowStatus(StrEnum):
    """A flow's lifecycle state as GetFlow reports it.

    CAMS documents the first three. THROTTLED and BLOCKED are Meta's, set by Meta when a flow's
    endpoint misbehaves; CAMS may pass them through, and they need someone most.
    """

    PUBLISHED = "PUBLISHED"
    DRAFT = "DRAFT"
    DEPRECATED = "DEPRECATED"
    THROTTLED = "THROTTLED"
    BLOCKED = "BLOCKED"


@dataclass(frozen=True, slots=True)
class FlowSummary:
    """One flow as ListFlow lists it: no status, which only GetFlow tells."""

    flow_id: str
    name: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FlowPage:
    """One page of ListFlow. A page shorter than the size asked for is the last one."""

    flows: tuple[FlowSummary, ...]
    request_id: str


@dataclass(frozen=True, slots=True)
class FlowDetails:
    """A flow as GetFlow describes it; `status` is None when CAMS sent one the bot does not know.

    `status_text` is the Status as CAMS sent it (short words of capitals, digits and `_`), known
    or not, so that a status nobody foresaw is still reported as given; None when there was none.
    """

    flow_id: str
    name: str
    status: FlowStatus | None
    categories: tuple[str, ...]
    request_id: str
    status_text: str | None = None
