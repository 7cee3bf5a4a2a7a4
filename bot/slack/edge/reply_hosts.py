"""Which response_urls a reply may go to: https on Slack's own hosts, and nothing else.

A response_url arrives inside a signed payload, but the bot posts the person's preview link to
it, so it is checked like any other input: https, a host on the allow-list (with its port),
and plain http only for a listed loopback host (the demo and the tests).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from yarl import URL

from bot.config import is_loopback_host, split_address

DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True, slots=True)
class AllowedHost:
    """One allow-list entry; `port` None means the scheme's default port."""

    host: str
    port: int | None = None


def parse_host(text: str) -> AllowedHost:
    """Read `host[:port]`; raise ValueError when it is anything more or less than that."""
    address = split_address(text)
    if address.scheme is not None:
        raise ValueError("give a host and an optional port only, with no scheme")
    return AllowedHost(address.host, address.port)


class ReplyHosts:
    """The allow-list of response_url hosts."""

    def __init__(self, hosts: Iterable[str]) -> None:
        self._allowed = frozenset(parse_host(host) for host in hosts)

    def refusal(self, url: str) -> str | None:
        """Why the bot must not post to `url`, or None when it may."""
        try:
            parsed = URL(url)
            host = (parsed.host or "").lower()
            port = parsed.port
        except ValueError:
            return "not a URL"
        if parsed.scheme not in DEFAULT_PORTS or not host or port is None:
            return "not an https URL"
        if parsed.user or parsed.password:
            return "carries credentials"
        if parsed.scheme == "http" and not is_loopback_host(host):
            return "plain http"
        default = port == DEFAULT_PORTS[parsed.scheme]
        if AllowedHost(host, port) in self._allowed or (
            default and AllowedHost(host) in self._allowed
        ):
            return None
        return "host not allowed"


def host_of(url: str) -> str:
    """Only the host of `url`, for a log line: never its path, which holds Slack's token."""
    try:
        host = URL(url).host
    except ValueError:
        host = None
    text = "".join(ch for ch in (host or "?") if ch.isprintable())
    return text[:100]
