"""The CAMS spaces a person may pick from: the default space, then those of CAMS_SPACES.

`CAMS_SPACES` is a comma-separated list of `id` or `id=label`, read once at start-up. Each
space becomes one option of a Slack select, so the list is bounded by Slack's 100 options, an
ID must be one the command's `space:` accepts (it travels back in the option's value), and a
label must fit an option's 75 characters. Two IDs that differ only in case or '_' versus '-'
are refused: see `bot.ids.space_key`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config import ConfigError, env_str
from bot.ids import SPACE_ID, space_key

VARIABLE = "CAMS_SPACES"
DEFAULT_VARIABLE = "CAMS_CUST_SPACE_ID"
# Slack shows at most 100 options in a select.
MAX_SPACES = 100
# A select option's text holds at most 75 characters.
MAX_LABEL = 75
_TWINS = "space IDs differing only in case or '_' versus '-' are refused as look-alikes"


@dataclass(frozen=True, slots=True)
class SpaceChoice:
    """One space to offer: its CustSpaceId and the words shown for it; `listed` when
    CAMS_SPACES names it (not only CAMS_CUST_SPACE_ID)."""

    id: str
    label: str
    listed: bool = field(default=False, compare=False)


def listed_only(spaces: tuple[SpaceChoice, ...]) -> frozenset[str] | None:
    """The only spaces settings may name when CAMS_SPACES is set (with the default space);
    None when it is not, and a space must be checked with CAMS instead."""
    if not any(space.listed for space in spaces):
        return None
    return frozenset(space.id for space in spaces)


def spaces_from_env(env: Mapping[str, str]) -> tuple[SpaceChoice, ...]:
    """The spaces to offer, from CAMS_CUST_SPACE_ID and CAMS_SPACES; ConfigError when bad."""
    return parse_spaces(env_str(env, VARIABLE), env_str(env, DEFAULT_VARIABLE))


def parse_spaces(raw: str | None, default: str | None) -> tuple[SpaceChoice, ...]:
    """The default space first (labelled by CAMS_SPACES if it lists it), then the others.

    Raises ConfigError naming the variable for an empty entry, an ID the command would not
    accept, an empty or over-long label, an ID listed twice or with a look-alike, or more than
    MAX_SPACES spaces.
    """
    listed: dict[str, SpaceChoice] = {}
    keys: dict[str, str] = {}
    for entry in raw.split(",") if raw is not None else ():
        choice = _choice(entry.strip())
        if choice.id in listed:
            raise ConfigError(VARIABLE, f"lists space {choice.id!r} twice")
        twin = keys.setdefault(space_key(choice.id), choice.id)
        if twin != choice.id:
            raise ConfigError(VARIABLE, f"lists {twin!r} and {choice.id!r}: {_TWINS}")
        listed[choice.id] = choice
    if default is not None:
        if not SPACE_ID.fullmatch(default):
            raise ConfigError(DEFAULT_VARIABLE, "a space ID is 1-64 letters, digits, '_' or '-'")
        twin = keys.get(space_key(default), default)
        if twin != default:
            raise ConfigError(DEFAULT_VARIABLE, f"is {default!r}, CAMS_SPACES {twin!r}: {_TWINS}")
        first = listed.pop(default, SpaceChoice(default, default))
        listed = {default: first, **listed}
    if len(listed) > MAX_SPACES:
        raise ConfigError(
            VARIABLE, f"names {len(listed)} spaces with the default; Slack shows {MAX_SPACES}"
        )
    return tuple(listed.values())


def _choice(entry: str) -> SpaceChoice:
    if not entry:
        raise ConfigError(VARIABLE, "has an empty entry (two commas, or one at an end)")
    space_id, equals, label = (part.strip() for part in entry.partition("="))
    if not SPACE_ID.fullmatch(space_id):
        raise ConfigError(
            VARIABLE, f"{space_id[:70]!r} is not a space ID (1-64 letters, digits, '_' or '-')"
        )
    if not equals:
        return SpaceChoice(space_id, space_id, listed=True)
    if not label:
        raise ConfigError(VARIABLE, f"space {space_id!r} has '=' but no label after it")
    if len(label) > MAX_LABEL:
        raise ConfigError(
            VARIABLE, f"the label of space {space_id!r} is longer than {MAX_LABEL} characters"
        )
    if not label.isprintable():
        raise ConfigError(VARIABLE, f"the label of space {space_id!r} has control characters")
    return SpaceChoice(space_id, label, listed=True)
