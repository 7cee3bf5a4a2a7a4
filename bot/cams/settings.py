"""Where and how the CAMS client calls: endpoint, default space, timeouts and retry bounds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import ConfigError, Endpoint, env_float, env_int, env_str

DEFAULT_ENDPOINT = "https://cams.ap-southeast-1.aliyuncs.com"
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_ATTEMPT_TIMEOUT_S = 10.0
DEFAULT_MAX_ATTEMPTS = 4
# Under 30 s in all, so that an unreachable endpoint gives a clean error in reasonable time.
DEFAULT_DEADLINE_S = 25.0


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
