"""What CAMS calls yield: category lists and status words kept once however many flows name them."""

from __future__ import annotations

import json

import pytest

from bot.cams import models
from bot.cams.models import FlowDetails, FlowStatus, FlowSummary, shared_categories


def _read(text: str) -> tuple[str, ...]:
    """A category list as an answer's JSON gives it: strings of its own each time."""
    return tuple(json.loads(text))


@pytest.fixture(autouse=True)
def _room(monkeypatch: pytest.MonkeyPatch) -> None:
    # The table outlives each test: room for the lists these make, whatever ran before.
    monkeypatch.setattr(models, "MAX_SHARED_CATEGORIES", 1 << 30)


def test_flows_of_equal_categories_share_one_list() -> None:
    first = FlowSummary("1", "Sign-up", _read('["SIGN_UP", "LEAD_GENERATION"]'))
    second = FlowSummary("2", "Lead capture", _read('["SIGN_UP", "LEAD_GENERATION"]'))

    assert first.categories == ("SIGN_UP", "LEAD_GENERATION")
    assert first.categories is second.categories
    assert first == FlowSummary("1", "Sign-up", ("SIGN_UP", "LEAD_GENERATION"))
    assert FlowSummary("3", "No categories").categories == ()


def test_details_share_their_categories_and_a_known_status_word() -> None:
    listed = FlowSummary("1", "Survey", _read('["SURVEY"]'))
    details = FlowDetails(
        "1", "Survey", FlowStatus.PUBLISHED, _read('["SURVEY"]'), "R", json.loads('"PUBLISHED"')
    )
    unknown = FlowDetails("1", "Survey", None, (), "R", json.loads('"PAUSED"'))

    assert details.categories is listed.categories
    assert details.status_text is FlowStatus.PUBLISHED.value
    assert unknown.status_text == "PAUSED"
    assert FlowDetails("1", "Survey", FlowStatus.DRAFT, (), "R").status_text is None


def test_past_the_bound_a_list_is_kept_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "MAX_SHARED_CATEGORIES", 0)
    given = _read('["NEVER_LISTED_BEFORE"]')

    assert shared_categories(given) is given
    assert shared_categories(_read('["NEVER_LISTED_BEFORE"]')) is not given
