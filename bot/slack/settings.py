"""Slack settings, read once at start-up, including the ones Bolt would otherwise read silently."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from yarl import URL

from bot.config import (
    ConfigError,
    Secret,
    env_flag,
    env_float,
    env_int,
    env_str,
    is_loopback_host,
)
from bot.slack.constants import EVENTS_PATH, HEALTH_PATH
from bot.slack.edge.reply_hosts import parse_host

DEFAULT_PORT = 3000
# Where Slack's response_urls live, commercial and GovSlack.
DEFAULT_RESPONSE_URL_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
DEFAULT_SHUTDOWN_DRAIN_S = 10.0
# The manifest's bot scopes (tests/unit/project/test_manifest.py checks they are the same): the
# command; who a person is and their user groups (access); chat:write for the warning about a
# pasted preview link and for watches; link unfurls; whether a conversation is shared outside.
DEFAULT_SCOPES = (
    "commands",
    "users:read",
    "usergroups:read",
    "chat:write",
    "links:read",
    "links:write",
    "channels:read",
    "groups:read",
    "im:read",
    "mpim:read",
)
DEFAULT_INSTALL_PATH = "/slack/install"
DEFAULT_REDIRECT_PATH = "/slack/oauth_redirect"
# slack_sdk's installation tables hold a client ID in 32 characters and the scopes in 1,000.
_CLIENT_ID = re.compile(r"[0-9]{1,15}\.[0-9]{1,16}")
MAX_SCOPES_LENGTH = 1000
_SCOPE = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
_PATH = re.compile(r"/[A-Za-z0-9._~/-]{1,200}")
# Read only with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET; set without them they would do nothing.
_OAUTH_ONLY = (
    "SLACK_SCOPES",
    "SLACK_REDIRECT_URI",
    "SLACK_INSTALL_PATH",
    "SLACK_REDIRECT_PATH",
    "SLACK_TOKEN_ROTATION",
)


@dataclass(frozen=True, slots=True)
class OAuthInstall:
    """How workspaces install the app through Slack's OAuth v2, when it serves several.

    `token_rotation` says the Slack app hands out expiring tokens (Bolt refreshes whatever
    installation carries a refresh token; this is checked against each install).
    """

    client_id: str
    client_secret: Secret
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    redirect_uri: str | None = None
    install_path: str = DEFAULT_INSTALL_PATH
    redirect_path: str = DEFAULT_REDIRECT_PATH
    token_rotation: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OAuthInstall | None:
        """SLACK_CLIENT_ID with SLACK_CLIENT_SECRET and what goes with them; None without both."""
        client_id = env_str(env, "SLACK_CLIENT_ID")
        client_secret = env_str(env, "SLACK_CLIENT_SECRET")
        if client_id is None and client_secret is None:
            for name in _OAUTH_ONLY:
                if env_str(env, name) is not None:
                    raise ConfigError(
                        name,
                        "is for installs in several workspaces: set SLACK_CLIENT_ID and "
                        "SLACK_CLIENT_SECRET too, or unset it",
                    )
            return None
        if client_id is None:
            raise ConfigError("SLACK_CLIENT_ID", "not set; SLACK_CLIENT_SECRET needs it")
        if client_secret is None:
            raise ConfigError("SLACK_CLIENT_SECRET", "not set; SLACK_CLIENT_ID needs it")
        if not _CLIENT_ID.fullmatch(client_id):
            raise ConfigError(
                "SLACK_CLIENT_ID", "must be the app's Client ID, digits.digits (Basic Information)"
            )
        redirect_uri = _redirect_uri(env_str(env, "SLACK_REDIRECT_URI"))
        # The path Slack sends people back to is the redirect URI's own, unless a proxy in front
        # rewrites it.
        default_redirect = URL(redirect_uri).path if redirect_uri else DEFAULT_REDIRECT_PATH
        install_path = _path(env, "SLACK_INSTALL_PATH", DEFAULT_INSTALL_PATH)
        redirect_path = _path(env, "SLACK_REDIRECT_PATH", default_redirect)
        if install_path == redirect_path:
            raise ConfigError("SLACK_REDIRECT_PATH", "must differ from SLACK_INSTALL_PATH")
        return cls(
            client_id=client_id,
            client_secret=Secret(client_secret),
            scopes=_scopes(env_str(env, "SLACK_SCOPES")),
            redirect_uri=redirect_uri,
            install_path=install_path,
            redirect_path=redirect_path,
            token_rotation=env_flag(env, "SLACK_TOKEN_ROTATION"),
        )


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """Tokens, the Web API base URL and the port; Socket Mode when an app token is given.

    One workspace with `bot_token`, or several installed through `oauth`: exactly one is set.
    """

    bot_token: Secret | None = None
    signing_secret: Secret | None = None
    app_token: Secret | None = None
    api_url: str | None = None
    port: int = DEFAULT_PORT
    response_url_hosts: tuple[str, ...] = DEFAULT_RESPONSE_URL_HOSTS
    shutdown_drain: float = DEFAULT_SHUTDOWN_DRAIN_S
    oauth: OAuthInstall | None = None

    def __post_init__(self) -> None:
        if (self.bot_token is None) == (self.oauth is None):
            raise ValueError("give a bot token (one workspace) or OAuth settings (several)")

    @property
    def socket_mode(self) -> bool:
        """Whether to connect out over Socket Mode instead of serving HTTP requests."""
        return self.app_token is not None

    @property
    def multi_workspace(self) -> bool:
        """Whether workspaces install the app through OAuth, each with its own token."""
        return self.oauth is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackSettings:
        """Read SLACK_* and PORT; raise ConfigError naming the first missing or bad one."""
        _refuse_verification_token(env)
        oauth = OAuthInstall.from_env(env)
        bot_token = _bot_token(env_str(env, "SLACK_BOT_TOKEN"), multi_workspace=oauth is not None)
        app_token = env_str(env, "SLACK_APP_TOKEN")
        if app_token is not None and not app_token.startswith("xapp-"):
            raise ConfigError("SLACK_APP_TOKEN", "must be an app-level token starting with xapp-")
        signing_secret = env_str(env, "SLACK_SIGNING_SECRET")
        if signing_secret is None and app_token is None:
            raise ConfigError(
                "SLACK_SIGNING_SECRET",
                "not set; HTTP mode needs the app's Signing Secret (or set SLACK_APP_TOKEN "
                "for Socket Mode)",
            )
        port = env_int(env, "PORT", DEFAULT_PORT)
        if port > 65535:
            raise ConfigError("PORT", "must be at most 65535")
        return cls(
            bot_token=Secret(bot_token) if bot_token else None,
            signing_secret=Secret(signing_secret) if signing_secret else None,
            app_token=Secret(app_token) if app_token else None,
            api_url=_api_url(env_str(env, "SLACK_API_URL")),
            port=port,
            response_url_hosts=_response_url_hosts(env_str(env, "SLACK_RESPONSE_URL_HOSTS")),
            shutdown_drain=env_float(
                env, "SHUTDOWN_DRAIN_S", DEFAULT_SHUTDOWN_DRAIN_S, allow_zero=True
            ),
            oauth=oauth,
        )


def _bot_token(value: str | None, *, multi_workspace: bool) -> str | None:
    if multi_workspace:
        if value is not None:
            raise ConfigError(
                "SLACK_BOT_TOKEN",
                "is not used with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (each workspace's "
                "token comes from its install), so unset it",
            )
        return None
    if value is None:
        raise ConfigError("SLACK_BOT_TOKEN", "not set; copy the Bot User OAuth Token (xoxb-…)")
    if not value.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN", "must be a Bot User OAuth Token starting with xoxb-")
    return value


def _refuse_verification_token(env: Mapping[str, str]) -> None:
    # Bolt reads it itself, and a verification token makes it mishandle Slack's ssl_check
    # requests.
    if env_str(env, "SLACK_VERIFICATION_TOKEN"):
        raise ConfigError(
            "SLACK_VERIFICATION_TOKEN",
            "is deprecated and breaks Slack's ssl_check; requests are verified with "
            "SLACK_SIGNING_SECRET, so unset it",
        )


def _scopes(value: str | None) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_SCOPES
    scopes = tuple(dict.fromkeys(scope.strip() for scope in value.split(",") if scope.strip()))
    for scope in scopes:
        if not _SCOPE.fullmatch(scope):
            raise ConfigError("SLACK_SCOPES", f"{scope!r} is not a Slack scope name")
    if "commands" not in scopes:
        raise ConfigError("SLACK_SCOPES", "must include commands, which /flowpreview needs")
    if len(",".join(scopes)) > MAX_SCOPES_LENGTH:
        raise ConfigError("SLACK_SCOPES", f"must be at most {MAX_SCOPES_LENGTH} characters in all")
    return scopes


def _path(env: Mapping[str, str], name: str, default: str) -> str:
    path = env_str(env, name) or default
    if not _PATH.fullmatch(path) or "//" in path:
        raise ConfigError(name, "must be a path such as /slack/install: letters, digits, . _ ~ - /")
    if path in (EVENTS_PATH, HEALTH_PATH):
        raise ConfigError(name, f"{path} is already served for something else")
    return path


def _redirect_uri(value: str | None) -> str | None:
    if value is None:
        return None
    url = _web_url("SLACK_REDIRECT_URI", value)
    if url.query_string or url.fragment or url.user or url.password:
        raise ConfigError("SLACK_REDIRECT_URI", "must have no query, fragment or credentials")
    if not _PATH.fullmatch(url.path) or "//" in url.path:
        raise ConfigError(
            "SLACK_REDIRECT_URI", "must end with a path, such as /slack/oauth_redirect"
        )
    return str(url)


def _web_url(name: str, value: str) -> URL:
    try:
        url = URL(value)
        host = url.host or ""
    except ValueError:
        raise ConfigError(name, "is not a URL") from None
    loopback = is_loopback_host(host)
    if not host or url.scheme not in ("https", "http") or (url.scheme == "http" and not loopback):
        raise ConfigError(name, "must be an https URL (plain http only on loopback)")
    return url


def _api_url(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(_web_url("SLACK_API_URL", value))
    return text if text.endswith("/") else text + "/"


def _response_url_hosts(value: str | None) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_RESPONSE_URL_HOSTS
    hosts = tuple(host.strip() for host in value.split(",") if host.strip())
    if not hosts:
        raise ConfigError("SLACK_RESPONSE_URL_HOSTS", "names no host")
    for host in hosts:
        try:
            parse_host(host)
        except ValueError as exc:
            raise ConfigError("SLACK_RESPONSE_URL_HOSTS", f"{host!r}: {exc}") from None
    return hosts
