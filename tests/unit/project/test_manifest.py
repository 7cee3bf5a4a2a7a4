"""manifest.yml: valid for Slack's published schema, and named the way the code expects."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft7Validator
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from bot.slack.constants import (
    COMMAND,
    EVENTS_PATH,
    PICKER_CALLBACK_ID,
    PICKER_NAME,
    SHORTCUT_CALLBACK_ID,
    STEP_CALLBACK_ID,
    UNFURL_DOMAIN,
)
from bot.slack.settings import DEFAULT_SCOPES
from tests.support import DATA, ROOT

MANIFEST_PATH = ROOT / "manifest.yml"
# Slack's schema for manifests of _metadata.major_version 1 (see tests/data/README.md).
SCHEMA_PATH = DATA / "slack-app-manifest.schema.json"

Manifest = dict[str, Any]


def _load_manifest() -> Manifest:
    loaded = yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Validator:
    cls = validator_for(schema)  # the draft the schema's own "$schema" names
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture
def manifest() -> Manifest:
    return _load_manifest()


def _error_report(validator: Validator, instance: Manifest) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def test_schema_is_slacks_draft7_schema(schema: dict[str, Any]) -> None:
    assert validator_for(schema) is Draft7Validator
    assert schema["title"] == "App Manifest"


def test_manifest_is_valid(validator: Validator, manifest: Manifest) -> None:
    assert _error_report(validator, manifest) == []


def test_manifest_targets_the_stored_schema_version(manifest: Manifest) -> None:
    # Slack's top-level schema picks the 1.x schema for major_version 1 (or none given).
    assert manifest.get("_metadata", {}).get("major_version", 1) == 1


def _long_shortcut_name(m: Manifest) -> None:
    m["features"]["shortcuts"][0]["name"] = "Get a preview of this WhatsApp Flow"


def _unknown_top_level_key(m: Manifest) -> None:
    m["slash_command"] = {"command": COMMAND}


def _long_shortcut_description(m: Manifest) -> None:
    m["features"]["shortcuts"][0]["description"] = "x" * 151


def _bad_shortcut_type(m: Manifest) -> None:
    m["features"]["shortcuts"][0]["type"] = "messages"


def _command_without_slash(m: Manifest) -> None:
    m["features"]["slash_commands"][0]["command"] = COMMAND.lstrip("/")


def _relative_request_url(m: Manifest) -> None:
    m["settings"]["interactivity"]["request_url"] = EVENTS_PATH


def _interactivity_without_is_enabled(m: Manifest) -> None:
    del m["settings"]["interactivity"]["is_enabled"]


def _long_picker_name(m: Manifest) -> None:
    m["features"]["shortcuts"][1]["name"] = PICKER_NAME + "s!"


def _relative_options_url(m: Manifest) -> None:
    m["settings"]["interactivity"]["message_menu_options_url"] = EVENTS_PATH


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        (_long_shortcut_name, "features/shortcuts/0/name"),
        (_unknown_top_level_key, "<root>"),
        (_long_shortcut_description, "features/shortcuts/0/description"),
        (_bad_shortcut_type, "features/shortcuts/0/type"),
        (_command_without_slash, "features/slash_commands/0/command"),
        (_relative_request_url, "settings/interactivity/request_url"),
        (_interactivity_without_is_enabled, "settings/interactivity"),
        (_long_picker_name, "features/shortcuts/1/name"),
        (_relative_options_url, "settings/interactivity/message_menu_options_url"),
    ],
)
def test_broken_copies_fail_validation(
    validator: Validator, manifest: Manifest, breakage: Callable[[Manifest], None], where: str
) -> None:
    broken = copy.deepcopy(manifest)
    breakage(broken)
    errors = _error_report(validator, broken)
    assert errors, "the schema accepted a broken manifest"
    assert all(error.startswith(f"{where}: ") for error in errors), errors
    assert _error_report(validator, manifest) == []  # the original was not touched


def test_command_matches_code(manifest: Manifest) -> None:
    commands = manifest["features"]["slash_commands"]
    assert [command["command"] for command in commands] == [COMMAND]
    usage = commands[0]["usage_hint"]
    # Every form the command reads: IDs or a name, a space, its settings and its help.
    assert all(word in usage for word in ("flow-id", "name", "space:", "config", "help"))
    assert "name" in commands[0]["description"]


def test_shortcuts_match_code(manifest: Manifest) -> None:
    shortcuts = manifest["features"]["shortcuts"]
    assert [(s["type"], s["callback_id"], s["name"]) for s in shortcuts] == [
        ("message", SHORTCUT_CALLBACK_ID, "Get flow preview"),
        ("global", PICKER_CALLBACK_ID, PICKER_NAME),
    ]


def test_picker_name_fits_slacks_limit() -> None:
    # Slack cuts nothing: a longer name makes the whole manifest invalid.
    assert len(PICKER_NAME) <= 24


def test_request_urls_point_at_the_events_path(manifest: Manifest) -> None:
    urls = [
        manifest["features"]["slash_commands"][0]["url"],
        manifest["settings"]["interactivity"]["request_url"],
        # The picker's flow list (external_select options) comes from the same endpoint.
        manifest["settings"]["interactivity"]["message_menu_options_url"],
        # Events: link_shared, app_home_opened and function_executed.
        manifest["settings"]["event_subscriptions"]["request_url"],
    ]
    for url in urls:
        assert url.endswith(EVENTS_PATH)
        parts = urlsplit(url)
        assert (parts.scheme, parts.path, parts.query) == ("https", EVENTS_PATH, "")
    assert len(set(urls)) == 1  # Bolt serves commands, interactivity and options on one path


def test_bot_scopes_are_what_the_features_need(manifest: Manifest) -> None:
    scopes = manifest["oauth_config"]["scopes"]
    assert scopes == {
        "bot": [
            # The command, and who people are (access).
            "commands",
            "users:read",
            "usergroups:read",
            # The private warning about a pasted preview link.
            "chat:write",
            # Unfurls, and whether a conversation is shared outside (what a card may name).
            "links:read",
            "links:write",
            "channels:read",
            "groups:read",
            "im:read",
            "mpim:read",
        ]
    }


def test_oauth_installs_ask_for_the_manifests_scopes(manifest: Manifest) -> None:
    # An install through SLACK_CLIENT_ID asks for DEFAULT_SCOPES: missing one, a feature fails.
    assert list(DEFAULT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]


def test_flow_links_unfurl_and_the_home_tab_is_on(manifest: Manifest) -> None:
    assert manifest["features"]["unfurl_domains"] == [UNFURL_DOMAIN]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_the_step_matches_code(manifest: Manifest) -> None:
    step = manifest["functions"][STEP_CALLBACK_ID]
    inputs = step["input_parameters"]
    assert {name: (p["type"], p["is_required"]) for name, p in inputs.items()} == {
        "flow": ("string", True),
        "space": ("string", False),
        "user": ("slack#/types/user_id", True),
    }
    outputs = step["output_parameters"]
    assert {name: p["type"] for name, p in outputs.items()} == {
        "preview_url": "string",
        "expires_at": "slack#/types/timestamp",
        "flow_id": "string",
        "flow_name": "string",
        "status": "string",
    }
    # Custom steps run on the app's own server, deployable to the whole organisation.
    assert manifest["settings"]["function_runtime"] == "remote"
    assert manifest["settings"]["org_deploy_enabled"] is True


def test_interactivity_is_enabled(manifest: Manifest) -> None:
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_the_events_the_bot_listens_to(manifest: Manifest) -> None:
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert sorted(events) == ["app_home_opened", "function_executed", "link_shared"]


def test_socket_mode_flag_is_explicit(manifest: Manifest) -> None:
    # The manifest is written for HTTP mode; Socket Mode users flip this one flag.
    assert manifest["settings"]["socket_mode_enabled"] is False
