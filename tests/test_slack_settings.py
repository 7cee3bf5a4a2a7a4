"""Slack settings: required variables, Socket Mode, and Bolt's silent switches refused."""

from __future__ import annotations

import pytest

from bot.config import ConfigError
from bot.slack.settings import SlackSettings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret"}


def test_http_mode() -> None:
    settings = SlackSettings.from_env(BASE)
    assert not settings.socket_mode
    assert settings.response_url_hosts == ("hooks.slack.com", "hooks.slack-gov.com")
    assert settings.shutdown_drain == 10
    assert settings.port == 3000
    assert settings.api_url is None
    assert "s3cret" not in repr(settings)


def test_socket_mode_needs_no_signing_secret() -> None:
    settings = SlackSettings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    assert settings.socket_mode
    assert settings.signing_secret is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://slack-gov.com/api", "https://slack-gov.com/api/"),
        ("http://127.0.0.1:9999/api/", "http://127.0.0.1:9999/api/"),
    ],
)
def test_api_url(value: str, expected: str) -> None:
    assert SlackSettings.from_env(BASE | {"SLACK_API_URL": value}).api_url == expected


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        (BASE | {"SLACK_BOT_TOKEN": "xoxp-a-user-token"}, "SLACK_BOT_TOKEN"),
        (BASE | {"SLACK_BOT_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN"),
        (BASE | {"SLACK_RESPONSE_URL_HOSTS": " , "}, "SLACK_RESPONSE_URL_HOSTS"),
        (BASE | {"SLACK_RESPONSE_URL_HOSTS": "hooks.slack.com/path"}, "SLACK_RESPONSE_URL_HOSTS"),
        (BASE | {"SLACK_RESPONSE_URL_HOSTS": "user@hooks.slack.com"}, "SLACK_RESPONSE_URL_HOSTS"),
        (BASE | {"SLACK_RESPONSE_URL_HOSTS": "a:99999"}, "SLACK_RESPONSE_URL_HOSTS"),
        (
            BASE | {"SLACK_RESPONSE_URL_HOSTS": "https://hooks.slack.com"},
            "SLACK_RESPONSE_URL_HOSTS",
        ),
        (BASE | {"SLACK_RESPONSE_URL_HOSTS": "hooks\tslack.com"}, "SLACK_RESPONSE_URL_HOSTS"),
        (BASE | {"SLACK_RESPONSE_URL_HOSTS": "hooks..slack.com"}, "SLACK_RESPONSE_URL_HOSTS"),
        (BASE | {"SHUTDOWN_DRAIN_S": "-1"}, "SHUTDOWN_DRAIN_S"),
        (BASE | {"SLACK_APP_TOKEN": "xoxb-not-an-app-token"}, "SLACK_APP_TOKEN"),
        (BASE | {"SLACK_API_URL": "http://slack.example.com/api/"}, "SLACK_API_URL"),
        (BASE | {"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL"),
        (BASE | {"SLACK_API_URL": "https://[::1"}, "SLACK_API_URL"),
        (BASE | {"PORT": "http"}, "PORT"),
        (BASE | {"PORT": "70000"}, "PORT"),
        (BASE | {"SLACK_CLIENT_ID": "1", "SLACK_CLIENT_SECRET": "2"}, "SLACK_CLIENT_ID"),
        (BASE | {"SLACK_VERIFICATION_TOKEN": "t"}, "SLACK_VERIFICATION_TOKEN"),
    ],
)
def test_bad_settings_name_their_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SlackSettings.from_env(env)
    assert caught.value.variable == variable
    assert "\n" not in str(caught.value)


def test_a_lone_client_id_is_harmless() -> None:
    assert not SlackSettings.from_env(BASE | {"SLACK_CLIENT_ID": "1"}).socket_mode


def test_response_url_hosts_replace_the_default() -> None:
    env = BASE | {"SLACK_RESPONSE_URL_HOSTS": "hooks.slack.com, 127.0.0.1:8080"}
    assert SlackSettings.from_env(env).response_url_hosts == ("hooks.slack.com", "127.0.0.1:8080")
