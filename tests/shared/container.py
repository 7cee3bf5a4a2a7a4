"""Reading the container files: the Dockerfile's instructions and compose.yaml's services."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.support import ROOT

FLOW = "1234567890123456"


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined, in build stage `stage` (0 is
    before the first FROM)."""

    keyword: str
    args: str
    stage: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """The Dockerfile `text` as instructions, in order."""
    found: list[Instruction] = []
    stage = 0
    pending = ""
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue  # comments and parser directives, also between continuation lines
        part = line.strip() if pending else line.rstrip()
        if part.endswith("\\"):
            pending += part[:-1].rstrip() + " "
            continue
        whole = (pending + part).strip()
        pending = ""
        if not whole:
            continue
        keyword, _, args = whole.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        found.append(Instruction(keyword.upper(), args.strip(), stage))
    return found


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    """The checkout's Dockerfile, read once per module."""
    return parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"))


def named_stages(instructions: list[Instruction]) -> dict[str, tuple[int, str]]:
    """Each named stage: its number and what it is built FROM."""
    stages = {}
    for i in instructions:
        if i.keyword == "FROM" and " AS " in i.args:
            base, _, name = i.args.partition(" AS ")
            stages[name.strip()] = (i.stage, base.strip())
    return stages


def _in_effect(instructions: list[Instruction], stage: int) -> list[Instruction]:
    """The instructions that make stage `stage`'s image: those of the stages it is built FROM,
    then its own."""
    (base,) = [
        i.args.partition(" AS ")[0]
        for i in instructions
        if i.keyword == "FROM" and i.stage == stage
    ]
    stages = named_stages(instructions)
    inherited = _in_effect(instructions, stages[base][0]) if base in stages else []
    return inherited + [i for i in instructions if i.stage == stage and i.keyword != "FROM"]


def final_stage(instructions: list[Instruction], keyword: str) -> list[Instruction]:
    """The `keyword` instructions in effect in the last stage's image."""
    last = max(i.stage for i in instructions)
    return [i for i in _in_effect(instructions, last) if i.keyword == keyword]


def exec_form(args: str) -> list[str]:
    """The JSON array of an exec-form instruction; fails for the shell form."""
    parsed = json.loads(args)
    assert isinstance(parsed, list), f"not exec form: {args}"
    assert all(isinstance(part, str) for part in parsed)
    return parsed


def healthcheck_command(instructions: list[Instruction]) -> list[str]:
    """The final stage's HEALTHCHECK command, which must be in exec form."""
    (check,) = final_stage(instructions, "HEALTHCHECK")
    match = re.fullmatch(r"(?:--[a-z-]+=\S+ )*CMD (?P<command>\[.*\])", check.args)
    assert match is not None, f"HEALTHCHECK must be exec form: {check.args}"
    return exec_form(match["command"])


def load_compose() -> dict[str, Any]:
    """The checkout's compose.yaml."""
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def service_environments(compose: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    """Each service's environment as a mapping (the list form `NAME=value` too)."""
    found: dict[str, dict[str, str | None]] = {}
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = {k: (v if sep else None) for k, sep, v in (e.partition("=") for e in env)}
        found[name] = {str(k): None if v is None else str(v) for k, v in env.items()}
    return found


def in_profile(compose: Mapping[str, Any], profile: str) -> dict[str, dict[str, Any]]:
    """The services of `profile`, by name."""
    return {
        name: service
        for name, service in compose["services"].items()
        if profile in service.get("profiles", [])
    }


def service_option(command: Sequence[str], name: str) -> list[str]:
    """Every value of `--name=value` in a compose command."""
    return [arg.partition("=")[2] for arg in command if arg.startswith(f"--{name}=")]
