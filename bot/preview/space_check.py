"""Whether a space someone wants to save in the settings is one this deployment can use.

With CAMS_SPACES set, the spaces it lists (and CAMS_CUST_SPACE_ID) are the only ones. Otherwise
CAMS is asked once, for one flow of the space, through the client's ListFlow limiter: ListFlow
has no "no such space" answer of its own, so a space in which CAMS lists no flow is taken for
one that does not exist (a space whose first flow is still to come can be listed in
CAMS_SPACES).
"""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum

from bot.cams.errors import CamsError, ErrorKind
from bot.preview.catalog_listing import FlowLister
from bot.preview.errors import BusyError
from bot.preview.spaces import SpaceChoice, listed_only

log = logging.getLogger(__name__)


class SpaceCheck(StrEnum):
    """What is known of a space, and so whether it may be saved."""

    # Configured, or CAMS lists at least one flow in it.
    KNOWN = "known"
    # CAMS_SPACES is set and does not list it.
    NOT_LISTED = "not_listed"
    # CAMS lists no flow in it, or says it is not this account's.
    UNKNOWN = "unknown"
    # CAMS did not answer in time, or could not (throttled, down): nothing is known.
    NO_ANSWER = "no_answer"
    # The deployment's key may not call ListFlow: CAMS cannot tell.
    CANNOT_LIST = "cannot_list"


_UNKNOWN_KINDS = frozenset({ErrorKind.WRONG_OWNER, ErrorKind.NOT_FOUND, ErrorKind.BAD_REQUEST})
_DENIED_KINDS = frozenset({ErrorKind.PERMISSION_DENIED, ErrorKind.NOT_SUBSCRIBED})


async def check_space_known(
    client: FlowLister, configured: tuple[SpaceChoice, ...], space: str, within: float
) -> SpaceCheck:
    """Whether `space` may be saved: from `configured` when CAMS_SPACES is set, else from one
    ListFlow call of one flow, given at most `within` seconds."""
    if any(choice.id == space for choice in configured):
        return SpaceCheck.KNOWN
    listed = listed_only(configured)
    if listed is not None:
        return SpaceCheck.NOT_LISTED
    if within <= 0:
        return SpaceCheck.NO_ANSWER
    try:
        async with asyncio.timeout(within):
            page = await client.list_flows(space, page=1, size=1)
    except TimeoutError:
        log.warning("space %r not checked: CAMS did not answer within %.1fs", space, within)
        return SpaceCheck.NO_ANSWER
    except BusyError as busy:
        # The account's ListFlow budget is booked or paused: nothing was asked of CAMS.
        log.warning("space %r not checked: %s", space, busy)
        return SpaceCheck.NO_ANSWER
    except CamsError as error:
        log.warning("space %r not checked: %s", space, error)
        if error.kind in _UNKNOWN_KINDS:
            return SpaceCheck.UNKNOWN
        if error.kind in _DENIED_KINDS:
            return SpaceCheck.CANNOT_LIST
        return SpaceCheck.NO_ANSWER
    return SpaceCheck.KNOWN if page.flows else SpaceCheck.UNKNOWN
