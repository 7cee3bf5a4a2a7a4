"""What successful CAMS calls yield: a preview link, a page of flows, a flow's details."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# Distinct category lists kept once each. A catalog of 50,000 flows names the same handful of
# lists tens of thousands of times, each read from JSON as strings of its own; the bounds keep
# an answer full of odd or long lists from growing the table.
MAX_SHARED_CATEGORIES = 1024
MAX_SHARED_LENGTH = 16
_CATEGORIES: dict[tuple[str, ...], tuple[str, ...]] = {}


def shared_categories(categories: tuple[str, ...]) -> tuple[str, ...]:
    """The one copy kept of this category list (equal to `categories`), or `categories` itself
    when it is longer than MAX_SHARED_LENGTH or MAX_SHARED_CATEGORIES lists are kept.

    Safe from several threads (a catalog read back from Redis is decoded in one): at worst two
    equal lists are both handed out.
    """
    kept = _CATEGORIES.get(categories)
    if kept is not None:
        return kept
    if len(_CATEGORIES) >= MAX_SHARED_CATEGORIES or len(categories) > MAX_SHARED_LENGTH:
        return categories
    kept = tuple(map(sys.intern, categories))
    _CATEGORIES[kept] = kept
    return kept


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", shared_categories(self.categories))


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", shared_categories(self.categories))
        status = self.status
        if status is not None and self.status_text == status.value:
            # The status's own string rather than a copy read from each answer.
            object.__setattr__(self, "status_text", status.value)
