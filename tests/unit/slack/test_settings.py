"""Slack settings: required variables, Socket Mode, OAuth installs, Bolt's silent switch refused."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Secret
from bot.slack.settings import DEFAULT_SCOPES, OAuthInstall, SlackSettings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret"}
OAUTH = {
    "SLACK_CLIENT_ID": "1234567890.9876543210",
    "SLACK_CLIENT_SECRET": "0123456789abcdef0123456789abcdef",
    "SLACK_SIGNING_SECRET": "s3cret",
}


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
        (BASE | {"SLACK_VERIFICATION_TOKEN": "t"}, "SLACK_VERIFICATION_TOKEN"),
    ],
)
def test_bad_settings_name_their_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SlackSettings.from_env(env)
    assert caught.value.variable == variable
    assert "\n" not in str(caught.value)


def test_single_workspace_by_default() -> None:
    settings = SlackSettings.from_env(BASE)
    assert not settings.multi_workspace
    assert settings.oauth is None


def test_client_id_and_secret_install_in_several_workspaces() -> None:
    settings = SlackSettings.from_env(OAUTH)

    assert settings.multi_workspace
    assert settings.bot_token is None
    oauth = settings.oauth
    assert oauth is not None
    assert oauth.client_id == "1234567890.9876543210"
    assert oauth.client_secret.reveal() == "0123456789abcdef0123456789abcdef"
    assert oauth.scopes == DEFAULT_SCOPES
    assert DEFAULT_SCOPES[:3] == ("commands", "users:read", "usergroups:read")
    assert (oauth.install_path, oauth.redirect_path) == ("/slack/install", "/slack/oauth_redirect")
    assert oauth.redirect_uri is None
    assert not oauth.token_rotation
    assert "0123456789abcdef" not in repr(settings)


def test_oauth_settings_are_read() -> None:
    settings = SlackSettings.from_env(
        OAUTH
        | {
            "SLACK_SCOPES": " commands, users:read ,chat:write.public,commands",
            "SLACK_REDIRECT_URI": "https://bot.example.com/slack/back",
            "SLACK_INSTALL_PATH": "/install",
            "SLACK_TOKEN_ROTATION": "TRUE",
        }
    )

    oauth = settings.oauth
    assert oauth is not None
    assert oauth.scopes == ("commands", "users:read", "chat:write.public")
    assert oauth.redirect_uri == "https://bot.example.com/slack/back"
    # The redirect URI's path, unless SLACK_REDIRECT_PATH says otherwise (a rewriting proxy).
    assert (oauth.install_path, oauth.redirect_path) == ("/install", "/slack/back")
    assert oauth.token_rotation
    rewritten = OAUTH | {
        "SLACK_REDIRECT_URI": "https://bot.example.com/slack/back",
        "SLACK_REDIRECT_PATH": "/back",
    }
    assert SlackSettings.from_env(rewritten).oauth == OAuthInstall(
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
        redirect_uri="https://bot.example.com/slack/back",
        redirect_path="/back",
    )


def test_oauth_in_socket_mode_needs_no_signing_secret() -> None:
    env = {k: v for k, v in OAUTH.items() if k != "SLACK_SIGNING_SECRET"}
    settings = SlackSettings.from_env(env | {"SLACK_APP_TOKEN": "xapp-1"})
    assert settings.multi_workspace
    assert settings.socket_mode


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        (BASE | {"SLACK_CLIENT_ID": "1234567890.9876543210"}, "SLACK_CLIENT_SECRET"),
        (BASE | {"SLACK_CLIENT_SECRET": "0123456789abcdef"}, "SLACK_CLIENT_ID"),
        (OAUTH | {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_BOT_TOKEN"),
        (OAUTH | {"SLACK_CLIENT_ID": "my-app"}, "SLACK_CLIENT_ID"),
        (OAUTH | {"SLACK_CLIENT_ID": "1" * 20 + "." + "2" * 20}, "SLACK_CLIENT_ID"),
        ({k: v for k, v in OAUTH.items() if k != "SLACK_SIGNING_SECRET"}, "SLACK_SIGNING_SECRET"),
        (OAUTH | {"SLACK_SCOPES": "users:read"}, "SLACK_SCOPES"),
        (OAUTH | {"SLACK_SCOPES": "commands,Users:Read"}, "SLACK_SCOPES"),
        (OAUTH | {"SLACK_SCOPES": "commands,users read"}, "SLACK_SCOPES"),
        (OAUTH | {"SLACK_SCOPES": ",".join(f"scope{n}:read" for n in range(100))}, "SLACK_SCOPES"),
        (OAUTH | {"SLACK_REDIRECT_URI": "http://bot.example.com/slack/back"}, "SLACK_REDIRECT_URI"),
        (OAUTH | {"SLACK_REDIRECT_URI": "https://bot.example.com/x?y=1"}, "SLACK_REDIRECT_URI"),
        (OAUTH | {"SLACK_REDIRECT_URI": "https://bot.example.com/"}, "SLACK_REDIRECT_URI"),
        (OAUTH | {"SLACK_REDIRECT_URI": "bot.example.com/slack/back"}, "SLACK_REDIRECT_URI"),
        (OAUTH | {"SLACK_INSTALL_PATH": "install"}, "SLACK_INSTALL_PATH"),
        (OAUTH | {"SLACK_INSTALL_PATH": "/slack/events"}, "SLACK_INSTALL_PATH"),
        (OAUTH | {"SLACK_INSTALL_PATH": "/a?b"}, "SLACK_INSTALL_PATH"),
        (OAUTH | {"SLACK_REDIRECT_PATH": "/healthz"}, "SLACK_REDIRECT_PATH"),
        (OAUTH | {"SLACK_REDIRECT_PATH": "/slack/install"}, "SLACK_REDIRECT_PATH"),
        (OAUTH | {"SLACK_TOKEN_ROTATION": "yes"}, "SLACK_TOKEN_ROTATION"),
        # Read only for installs in several workspaces; alone they would do nothing.
        (BASE | {"SLACK_TOKEN_ROTATION": "true"}, "SLACK_TOKEN_ROTATION"),
        (BASE | {"SLACK_SCOPES": "commands"}, "SLACK_SCOPES"),
        (BASE | {"SLACK_REDIRECT_URI": "https://bot.example.com/b"}, "SLACK_REDIRECT_URI"),
        (BASE | {"SLACK_INSTALL_PATH": "/install"}, "SLACK_INSTALL_PATH"),
        (BASE | {"SLACK_REDIRECT_PATH": "/back"}, "SLACK_REDIRECT_PATH"),
    ],
)
def test_bad_oauth_settings_name_their_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SlackSettings.from_env(env)
    assert caught.value.variable == variable
    assert "\n" not in str(caught.value)
    assert "0123456789abcdef" not in str(caught.value)


def test_settings_hold_a_bot_token_or_oauth_settings() -> None:
    with pytest.raises(ValueError, match="bot token"):
        SlackSettings(signing_secret=Secret("s3cret"))


def test_response_url_hosts_replace_the_default() -> None:
    env = BASE | {"SLACK_RESPONSE_URL_HOSTS": "hooks.slack.com, 127.0.0.1:8080"}
    assert SlackSettings.from_env(env).response_url_hosts == ("hooks.slack.com", "127.0.0.1:8080")
