"""Where and how the CAMS client calls: endpoint, default space, timeouts and retry bounds."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import ConfigError, env_float, env_int, env_str, is_loopback_host

DEFAULT_ENDPOINT = "https://cams.ap-southeast-1.aliyuncs.com"
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_ATTEMPT_TIMEOUT_S = 10.0
DEFAULT_MAX_ATTEMPTS = 4
# Under 30 s in all, so that an unreachable endpoint gives a clean error in reasonable time.
DEFAULT_DEADLINE_S = 25.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A CAMS endpoint: https anywhere, plain http only on loopback."""

    scheme: str
    host: str
    port: int

    @property
    def host_header(self) -> str:
        """The Host header exactly as sent and signed: the port only when it is not the default."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """scheme://host[:port] with no path."""
        return f"{self.scheme}://{self.host_header}"

    @classmethod
    def parse(cls, value: str) -> Endpoint:
        """Accept a bare host (https is assumed) or a URL; refuse plain http off loopback.

        The host must be a DNS name of valid labels, an IPv4 address or a bracketed IPv6
        address; anything else raises ValueError with a one-line reason.
        """
        text = value.strip()
        if any(char.isspace() or not char.isprintable() for char in text):
            raise ValueError("spaces and control characters are not allowed in a host or URL")
        parts = _ENDPOINT.fullmatch(text)
        if parts is None or parts["rest"] not in ("", "/"):
            raise ValueError("give only scheme, host and port, with no path, query or credentials")
        scheme = (parts["scheme"] or "https").lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme must be https, got {scheme!r}")
        host = _host(parts["host"])
        if scheme == "http" and not is_loopback_host(host):
            raise ValueError("plain http is allowed only for loopback hosts; use https")
        return cls(scheme, host, _port(parts["port"], scheme))


# Split by hand rather than with a URL library: those quietly drop tabs, accept `+443` or
# non-ASCII digits as a port and pass spaces through into the host, all of which would only
# fail later, as DNS or TLS errors. A host stops at `@`, so credentials end up in `rest`.
_ENDPOINT = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?"
    r"(?P<host>\[[^\]]*\]|[^:/?#@\[\]]*)"
    r"(?::(?P<port>[0-9]*))?"
    r"(?P<rest>.*)",
    re.DOTALL,
)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_HOST_NAME = 253


def _host(text: str) -> str:
    """The host in the form the Host header needs: lower case, IPv6 without brackets."""
    if not text:
        raise ValueError("no host")
    if text.startswith("["):
        try:
            address = ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise ValueError(f"{text!r} is not an IPv6 address") from None
        if address.scope_id:
            raise ValueError("an IPv6 zone (%...) cannot be used in a URL")
        return address.compressed
    if not text.isascii():
        raise ValueError("write an internationalised host name in its xn-- (punycode) form")
    name = text.lower()
    labels = name.split(".")
    # A DNS name never ends in an all-digit label, so this can only be meant as an address.
    if labels[-1].isdigit():
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise ValueError(f"{text!r} is not an IPv4 address") from None
    if len(name) > MAX_HOST_NAME:
        raise ValueError(f"a host name has at most {MAX_HOST_NAME} characters")
    for label in labels:
        if not label:
            raise ValueError(f"{text!r} has an empty label")
        if not _LABEL.fullmatch(label):
            raise ValueError(
                f"{label!r} in {text!r} is not a DNS label (1-63 letters, digits or inner hyphens)"
            )
    return name


def _port(text: str | None, scheme: str) -> int:
    if not text:
        return 443 if scheme == "https" else 80
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535, got {text}")
    return port


@dataclass(frozen=True, slots=True)
class CamsSettings:
    """Everything the client needs besides credentials. Timeouts and the deadline are seconds."""

    endpoint: Endpoint
    default_space: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S
    attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    deadline: float = DEFAULT_DEADLINE_S
    ca_file: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CamsSettings:
        """Read CAMS_* variables; raise ConfigError naming the first bad one."""
        raw_endpoint = env_str(env, "CAMS_ENDPOINT") or DEFAULT_ENDPOINT
        try:
            endpoint = Endpoint.parse(raw_endpoint)
        except ValueError as exc:
            raise ConfigError("CAMS_ENDPOINT", str(exc)) from None
        settings = cls(
            endpoint=endpoint,
            default_space=env_str(env, "CAMS_CUST_SPACE_ID"),
            connect_timeout=env_float(env, "CAMS_CONNECT_TIMEOUT_S", DEFAULT_CONNECT_TIMEOUT_S),
            attempt_timeout=env_float(env, "CAMS_ATTEMPT_TIMEOUT_S", DEFAULT_ATTEMPT_TIMEOUT_S),
            max_attempts=env_int(env, "CAMS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS),
            deadline=env_float(env, "CAMS_DEADLINE_S", DEFAULT_DEADLINE_S),
            ca_file=env_str(env, "CAMS_CA_FILE"),
        )
        if settings.ca_file is not None and not os.path.isfile(settings.ca_file):
            raise ConfigError("CAMS_CA_FILE", "no such file")
        if settings.connect_timeout > settings.attempt_timeout:
            raise ConfigError("CAMS_CONNECT_TIMEOUT_S", "must not exceed CAMS_ATTEMPT_TIMEOUT_S")
        return settings
