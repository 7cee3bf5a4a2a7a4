"""The ID shapes: one bound for every Slack ID, wherever it is read, within the store's
columns, and CAMS IDs that fit the store."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from bot.access.errors import RuleError
from bot.access.ids import Kind, check_subject, check_team
from bot.access.settings import AccessSettings
from bot.config import ConfigError
from bot.ids import (
    FLOW_ID,
    SLACK_CHANNEL_ID,
    SLACK_ID_LENGTH,
    SLACK_TEAM_ID,
    SLACK_USER_GROUP_ID,
    SLACK_USER_ID,
    SLACK_VIEW_ID,
    SPACE_ID,
    TYPED_FLOW_ID,
    is_flow_id,
    space_key,
)
from bot.slack.blocks import modals
from bot.slack.constants import PICKER_SHARE_BLOCK_ID
from bot.store.limits import ID_LENGTH

SLACK_SHAPES = [
    (SLACK_CHANNEL_ID, "CGD"),
    (SLACK_USER_ID, "UW"),
    (SLACK_USER_GROUP_ID, "S"),
    (SLACK_TEAM_ID, "T"),
    (SLACK_VIEW_ID, "V"),
]


@pytest.mark.parametrize(("shape", "letters"), SLACK_SHAPES)
def test_a_slack_id_is_its_letter_then_up_to_40_capitals_and_digits(
    shape: re.Pattern[str], letters: str
) -> None:
    assert SLACK_ID_LENGTH <= ID_LENGTH, "every Slack ID fits the store's columns"
    for letter in letters:
        assert shape.fullmatch(letter + "0")
        assert shape.fullmatch(letter + "A1" * ((SLACK_ID_LENGTH - 1) // 2))
        assert len(letter + "A1" * ((SLACK_ID_LENGTH - 1) // 2)) == SLACK_ID_LENGTH
        assert not shape.fullmatch(letter + "A" * SLACK_ID_LENGTH), "one past the bound"
        assert not shape.fullmatch(letter)
        assert not shape.fullmatch(letter + "abc")
        assert not shape.fullmatch(letter + "AB-C")
    assert not shape.fullmatch("X" + "ABC")


def _picker_share(channel_id: str) -> bool:
    entry = {
        "block_id": PICKER_SHARE_BLOCK_ID,
        "channel_id": channel_id,
        "response_url": "https://hooks.slack.com/x",
    }
    return modals.share_target([entry]) is not None


def _picker_view(view_id: str) -> bool:
    return modals.view_id_of({"id": view_id}) == view_id


def _rule(kind: Kind) -> Callable[[str], bool]:
    def check(subject: str) -> bool:
        try:
            check_subject(kind, subject)
        except RuleError:
            return False
        return True

    return check


def _team(team_id: str) -> bool:
    try:
        check_team(team_id)
    except RuleError:
        return False
    return True


def _admin(user_id: str) -> bool:
    try:
        AccessSettings.from_env({"ADMIN_USERS": user_id})
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize(
    ("accepts", "letter"),
    [
        (_rule(Kind.CHANNEL), "C"),
        (_picker_share, "C"),
        (_rule(Kind.USER), "U"),
        (_admin, "U"),
        (_rule(Kind.USERGROUP), "S"),
        (_admin, "S"),
        (_team, "T"),
        (_picker_view, "V"),
    ],
)
def test_every_reader_of_a_slack_id_takes_the_same_lengths(
    accepts: Callable[[str], bool], letter: str
) -> None:
    # A rule or an admin a replica could store or be configured with is one the picker takes.
    assert accepts(letter + "9" * (SLACK_ID_LENGTH - 1))
    assert not accepts(letter + "9" * SLACK_ID_LENGTH)


@pytest.mark.parametrize("shape", [FLOW_ID, SPACE_ID])
def test_a_cams_id_fits_the_store(shape: re.Pattern[str]) -> None:
    assert shape.fullmatch("a_B-9" * (ID_LENGTH // 5) + "x" * (ID_LENGTH % 5))
    assert not shape.fullmatch("x" * (ID_LENGTH + 1))
    assert not shape.fullmatch("")
    assert not shape.fullmatch("a b")
    assert not shape.fullmatch("a:b")


@pytest.mark.parametrize(
    ("text", "typed"),
    [
        ("1234567890", True),
        ("12345678901234567890", True),
        ("123456789", False),
        ("123456789012345678901", False),
        ("".join(chr(0xFF10 + int(d)) for d in "123456789012"), False),
        (" 1234567890", False),
    ],
)
def test_a_typed_flow_id_is_10_to_20_ascii_digits(text: str, typed: bool) -> None:
    assert is_flow_id(text) is typed
    assert (TYPED_FLOW_ID.fullmatch(text) is not None) is typed


def test_a_space_key_sets_aside_only_case_and_underscores() -> None:
    assert space_key("CAMS_Acme-1") == space_key("cams-acme_1") == "cams-acme-1"
    assert space_key("cams.acme") != space_key("cams-acme")
