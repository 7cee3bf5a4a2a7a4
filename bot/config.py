"""Settings from environment variables, read once, with one-line errors naming the variable."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping


class ConfigError(Exception):
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


class Secret:
    """A string that prints as asterisks; `reveal()` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

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
