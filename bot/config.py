"""Settings from environment variables, read once, with one-line errors naming the variable."""

from __future__ import annotations

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
