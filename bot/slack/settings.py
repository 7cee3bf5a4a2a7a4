"""Slack settings, read once at start-up, including the ones Bolt would otherwise read silently."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from yarl import URL

from bot.config import ConfigError, Secret, env_float, env_int, env_str, is_loopback_host
from bot.slack.reply_hosts import parse_host

DEFAULT_PORT = 3000
# Where Slack's response_urls live, commercial and GovSlack.
DEFAULT_RESPONSE_URL_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
DEFAULT_SHUTDOWN_DRAIN_S = 10.0


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """Tokens, the Web API base URL and the port; Socket Mode when an app token is given."""

    bot_token: Secret
    signing_secret: Secret | None = None
    app_token: Secret | None = None
    api_url: str | None = None
    port: int = DEFAULT_PORT
    response_url_hosts: tuple[str, ...] = DEFAULT_RESPONSE_URL_HOSTS
    shutdown_drain: float = DEFAULT_SHUTDOWN_DRAIN_S

    @property
    def socket_mode(self) -> bool:
        """Whether to connect out over Socket Mode instead of serving HTTP requests."""
        return self.app_token is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackSettings:
        """Read SLACK_* and PORT; raise ConfigError naming the first missing or bad one."""
        _refuse_silent_mode_switches(env)
        bot_token = env_str(env, "SLACK_BOT_TOKEN")
        if bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN", "not set; copy the Bot User OAuth Token (xoxb-…)")
        if not bot_token.startswith("xoxb-"):
            raise ConfigError(
                "SLACK_BOT_TOKEN", "must be a Bot User OAuth Token starting with xoxb-"
            )
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
            bot_token=Secret(bot_token),
            signing_secret=Secret(signing_secret) if signing_secret else None,
            app_token=Secret(app_token) if app_token else None,
            api_url=_api_url(env_str(env, "SLACK_API_URL")),
            port=port,
            response_url_hosts=_response_url_hosts(env_str(env, "SLACK_RESPONSE_URL_HOSTS")),
            shutdown_drain=env_float(
                env, "SHUTDOWN_DRAIN_S", DEFAULT_SHUTDOWN_DRAIN_S, allow_zero=True
            ),
        )


def _refuse_silent_mode_switches(env: Mapping[str, str]) -> None:
    # Bolt reads these itself: with both OAuth variables it silently becomes a multi-workspace
    # OAuth app, and a verification token makes it mishandle Slack's ssl_check requests.
    if env_str(env, "SLACK_CLIENT_ID") and env_str(env, "SLACK_CLIENT_SECRET"):
        raise ConfigError(
            "SLACK_CLIENT_ID",
            "with SLACK_CLIENT_SECRET would switch Bolt to OAuth mode; this bot is installed "
            "with SLACK_BOT_TOKEN, so unset both",
        )
    if env_str(env, "SLACK_VERIFICATION_TOKEN"):
        raise ConfigError(
            "SLACK_VERIFICATION_TOKEN",
            "is deprecated and breaks Slack's ssl_check; requests are verified with "
            "SLACK_SIGNING_SECRET, so unset it",
        )


def _api_url(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        url = URL(value)
        host = url.host or ""
    except ValueError:
        raise ConfigError("SLACK_API_URL", "is not a URL") from None
    loopback = is_loopback_host(host)
    if not host or url.scheme not in ("https", "http") or (url.scheme == "http" and not loopback):
        raise ConfigError("SLACK_API_URL", "must be an https URL (plain http only on loopback)")
    text = str(url)
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
