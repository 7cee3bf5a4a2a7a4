"""The rules as deciding reads them: teams and spaces kept once however many rows name them."""

from __future__ import annotations

import sys

from bot.access.ids import Kind
from bot.access.snapshot import Rule, RuleSnapshot


def _row(*parts: str) -> str:
    """A value as a row read from the database brings it: a string of its own."""
    return "".join(parts)


def test_teams_and_spaces_are_shared_and_read_as_written() -> None:
    acme = sys.intern("cams-acme")
    channels = {(_row("T", "1"), f"C{n}"): _row("cams-", "acme") for n in range(3)}
    snapshot = RuleSnapshot(
        [Rule(_row("cams-", "acme"), Kind.CHANNEL, "C0"), Rule("cams-beta", Kind.USER, "U1")],
        channels,
        [(_row("T", "1"), _row("cams-", "acme")), (_row("T", "1"), "cams-beta")],
    )

    assert snapshot.channel_spaces("T1") == [("C0", acme), ("C1", acme), ("C2", acme)]
    assert all(space is acme for _, space in snapshot.channel_spaces("T1"))
    assert snapshot.bound("T1") == frozenset({acme, "cams-beta"})
    assert any(space is acme for space in snapshot.bound("T1"))
    assert snapshot.rules_for("cams-acme").channels == frozenset({"C0"})
    assert snapshot.rules_for("cams-beta").users == frozenset({"U1"})
    assert snapshot.look_alike("CAMS_ACME") == "cams-acme"
