"""One error hierarchy: every exception the bot defines is a FlowpreviewError named `...Error`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from slack_sdk.errors import SlackApiError

import bot
from bot.errors import FlowpreviewError
from bot.slack.edge.web_api import SlackWebError

# Not production code, or not importable as a library: the stand-ins, the entry points (they
# run a command when imported) and Alembic's environment (it runs migrations when imported).
SKIPPED_PACKAGES = ("bot.standin",)
SKIPPED_MODULES = frozenset({"bot.__main__", "bot.store.migrations.env"})


def _production_modules() -> list[str]:
    names = [module.name for module in pkgutil.walk_packages(bot.__path__, "bot.")]
    return sorted(
        name
        for name in ["bot", *names]
        if name not in SKIPPED_MODULES
        and not name.endswith(".__main__")
        and not name.startswith(SKIPPED_PACKAGES)
    )


def _exceptions_defined() -> list[type[Exception]]:
    found: list[type[Exception]] = []
    for name in _production_modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Exception) and value.__module__ == name:
                found.append(value)
    return found


EXCEPTIONS = _exceptions_defined()


def test_the_walk_finds_the_errors_of_every_layer() -> None:
    names = {error.__name__ for error in EXCEPTIONS}
    assert {
        "FlowpreviewError",
        "ConfigError",
        "CamsError",
        "CredentialsError",
        "BusyError",
        "RedisUnavailableError",
        "RuleError",
        "RefusedRequestError",
        "SlackWebError",
        "DirectoryError",
    } <= names


@pytest.mark.parametrize("error", EXCEPTIONS, ids=lambda error: error.__qualname__)
def test_every_error_derives_from_the_base_and_is_named_so(error: type[Exception]) -> None:
    assert issubclass(error, FlowpreviewError), f"{error.__module__}.{error.__qualname__}"
    assert error.__name__.endswith("Error"), f"{error.__module__}.{error.__qualname__}"


def test_slack_web_errors_stay_slack_sdk_errors() -> None:
    # Bolt and slack_sdk handle SlackApiError where they handle Slack's refusals.
    assert issubclass(SlackWebError, SlackApiError)
    assert issubclass(SlackWebError, FlowpreviewError)
