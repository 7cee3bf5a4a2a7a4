"""Settings from environment variables, read once, with one-line errors naming the variable."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.errors import FlowpreviewError
from bot.redaction import remember


class ConfigError(FlowpreviewError):
    """A setting is missing or invalid; the message names the variable and is safe to print."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def env_str(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value with surrounding blanks removed, or None when unset or blank."""
    value = env.get(name, "").strip()
    return value or None


def env_float(
    env: Mapping[str, str], name: str, default: float, *, allow_zero: bool = False
) -> float:
    """A finite positive number (or zero, when allowed), or the default when unset."""
    raw = env_str(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"expected a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "greater than zero"
        raise ConfigError(name, f"must be a number {bound}, got {raw!r}")
    return value


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    """A whole number of at least `minimum`, or the default when unset."""
    raw = env_str(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {raw!r}")
    return value


def env_flag(env: Mapping[str, str], name: str) -> bool:
    """`true` or `false` in any case, unset meaning false, as Alibaba's SDKs read their flags
    (ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED, …) and as ours are read (SLACK_TOKEN_ROTATION, …).

    The SDKs take anything but `true` for false; here a typo is a ConfigError instead of a
    silently ignored setting.
    """
    raw = env_str(env, name)
    if raw is None or raw.lower() == "false":
        return False
    if raw.lower() == "true":
        return True
    raise ConfigError(name, f"expected true or false, got {raw!r}")


class Secret:
    """A string that prints as asterisks; `reveal()` is the only way to read it."""

    # A weak reference lets the log redaction forget a value once its Secret is dropped.
    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        remember(self, value)

    def reveal(self) -> str:
        """The secret itself, for signing only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def is_loopback_host(host: str) -> bool:
    """Whether `host` names this machine: localhost or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Address:
    """`[scheme://]host[:port]`, checked: the scheme and the port as written, if at all."""

    scheme: str | None
    host: str
    port: int | None


# Split by hand rather than with a URL library: those quietly drop tabs, accept `+443` or
# non-ASCII digits as a port and pass spaces through into the host, all of which would only
# fail later, as DNS or TLS errors. A host stops at `@`, so credentials end up in `rest`.
_ADDRESS = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?"
    r"(?P<host>\[[^\]]*\]|[^:/?#@\[\]]*)"
    r"(?::(?P<port>[0-9]*))?"
    r"(?P<rest>.*)",
    re.DOTALL,
)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_HOST_NAME = 253


def split_address(value: str) -> Address:
    """Read `[scheme://]host[:port][/]`; raise ValueError with a one-line reason otherwise.

    The host must be a DNS name of valid labels, an IPv4 address or a bracketed IPv6 address.
    It comes back lower case, an IPv6 address without brackets, as a Host header needs it.
    """
    text = value.strip()
    if any(char.isspace() or not char.isprintable() for char in text):
        raise ValueError("spaces and control characters are not allowed in a host or URL")
    parts = _ADDRESS.fullmatch(text)
    if parts is None or parts["rest"] not in ("", "/"):
        raise ValueError("give only scheme, host and port, with no path, query or credentials")
    scheme = parts["scheme"].lower() if parts["scheme"] else None
    return Address(scheme, _host(parts["host"]), _port(parts["port"]))


def _host(text: str) -> str:
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


def _port(text: str | None) -> int | None:
    if not text:
        return None
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535, got {text}")
    return port


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
        address = split_address(value)
        scheme = address.scheme or "https"
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme must be https, got {scheme!r}")
        if scheme == "http" and not is_loopback_host(address.host):
            raise ValueError("plain http is allowed only for loopback hosts; use https")
        port = address.port or (443 if scheme == "https" else 80)
        return cls(scheme, address.host, port)
