"""ACCESS_DEFAULT, ADMIN_USERS and ACCESS_CACHE_S."""

from __future__ import annotations

import pytest

from bot.access.ids import Kind
from bot.access.policy import AccessDefault
from bot.access.settings import AccessSettings
from bot.access.snapshot import Rule, RuleSnapshot
from bot.config import ConfigError


def test_the_defaults() -> None:
    settings = AccessSettings.from_env({})

    assert settings == AccessSettings(AccessDefault.OPEN, frozenset(), 10.0)
    assert settings.admin_groups == frozenset()


def test_every_setting() -> None:
    settings = AccessSettings.from_env(
        {
            "ACCESS_DEFAULT": " Closed ",
            "ADMIN_USERS": "U012AB3CD, W0ENTERPRISE,S0ADMINS ,U012AB3CD",
            "ACCESS_CACHE_S": "2.5",
        }
    )

    assert settings.default is AccessDefault.CLOSED
    assert settings.admin_users == {"U012AB3CD", "W0ENTERPRISE", "S0ADMINS"}
    assert settings.admin_groups == {"S0ADMINS"}
    assert settings.cache_s == 2.5


def test_the_groups_that_matter_are_those_rules_or_admin_users_name() -> None:
    settings = AccessSettings.from_env({"ADMIN_USERS": "U1,S0ADMINS"})
    snapshot = RuleSnapshot(
        [
            Rule("space-a", Kind.USERGROUP, "S1"),
            Rule("space-b", Kind.USERGROUP, "S2"),
            Rule("space-b", Kind.USER, "U2"),
        ]
    )

    assert settings.groups_that_matter(snapshot) == {"S0ADMINS", "S1", "S2"}


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"ACCESS_DEFAULT": "shut"}, "ACCESS_DEFAULT: must be open or closed, got 'shut'"),
        (
            {"ADMIN_USERS": "U1,,U2"},
            "ADMIN_USERS: has an empty entry (two commas, or one at an end)",
        ),
        ({"ADMIN_USERS": "U1,"}, "ADMIN_USERS: has an empty entry (two commas, or one at an end)"),
        (
            {"ADMIN_USERS": "U1,@alice"},
            "ADMIN_USERS: '@alice' is not a Slack user ID (U..., W...) or user group ID (S...)",
        ),
        (
            {"ADMIN_USERS": "u012ab3cd"},
            "ADMIN_USERS: 'u012ab3cd' is not a Slack user ID (U..., W...) or user group ID (S...)",
        ),
        (
            {"ADMIN_USERS": "C012AB3CD"},
            "ADMIN_USERS: 'C012AB3CD' is not a Slack user ID (U..., W...) or user group ID (S...)",
        ),
        (
            {"ADMIN_USERS": ",".join(f"U{n}" for n in range(1001))},
            "ADMIN_USERS: names 1001 IDs; at most 1000",
        ),
        ({"ACCESS_CACHE_S": "0"}, "ACCESS_CACHE_S: must be a number greater than zero, got '0'"),
        ({"ACCESS_CACHE_S": "soon"}, "ACCESS_CACHE_S: expected a number, got 'soon'"),
        ({"ACCESS_CACHE_S": "3601"}, "ACCESS_CACHE_S: must be at most 3600 seconds"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(env: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        AccessSettings.from_env(env)

    assert str(caught.value) == error
    assert caught.value.variable == error.split(":", 1)[0]
