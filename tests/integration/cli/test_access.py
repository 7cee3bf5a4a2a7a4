"""`python -m bot access` as an operator runs it, and a running bot's rule book seeing it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.access.rules import RuleBook
from bot.standin.harness.processes import Run, clean_env, free_port, run_bot
from bot.store.migrate import bring_up_to_date
from tests.fake_clock import FakeClock, eventually
from tests.shared.store import database_for, settings_for

PASSWORD = "pw-Sup3r-s3cret"


def _env(**settings: str) -> dict[str, str]:
    # Only the database the test names, whatever the machine's environment says.
    prefixes = ("DATABASE_", "AUDIT_", "ACCESS_")
    return {k: v for k, v in clean_env().items() if not k.startswith(prefixes)} | settings


def _ok(*runs: Run) -> None:
    for run in runs:
        assert (run.code, run.err) == (0, ""), run


async def test_allow_bind_list_remove_and_unbind(database_url: str) -> None:
    env = _env(DATABASE_URL=database_url)
    access = ("access",)
    first = await run_bot(*access, "allow", "space-a", "channel", "C1", "C2", "C1", env=env)
    again, group, user, bound = await asyncio.gather(
        run_bot(*access, "allow", "space-a", "channel", "C2", "C3", env=env),
        run_bot(*access, "allow", "space-a", "group", "S1", env=env),
        run_bot(*access, "allow", "space-b", "user", "U1", "W2", env=env),
        run_bot(*access, "bind", "T1", "space-a", env=env),
    )
    bound_again = await run_bot(*access, "bind", "T1", "space-a", env=env)

    _ok(first, again, group, user, bound, bound_again)
    assert first.out == "allowed: space-a channel C1\nallowed: space-a channel C2\n"
    assert again.out == "already allowed: space-a channel C2\nallowed: space-a channel C3\n"
    assert group.out == "allowed: space-a group S1\n"
    assert bound.out == "bound: T1 may use space-a\n"
    assert bound_again.out == "already bound: T1 may use space-a\n"

    table, only_a, as_json = await asyncio.gather(
        run_bot(*access, "list", env=env),
        run_bot(*access, "list", "--space", "space-a", env=env),
        run_bot(*access, "list", "--json", "--space", "space-b", env=env),
    )

    _ok(table, only_a, as_json)
    header, *rows = table.out.splitlines()
    assert header.split() == ["space", "kind", "id", "added", "by", "added", "at", "(UTC)"]
    assert [row.split()[:4] for row in rows] == [
        ["space-a", "channel", "C1", "cli"],
        ["space-a", "channel", "C2", "cli"],
        ["space-a", "channel", "C3", "cli"],
        ["space-a", "group", "S1", "cli"],
        ["space-a", "workspace", "T1", "-"],
        ["space-b", "user", "U1", "cli"],
        ["space-b", "user", "W2", "cli"],
    ]
    assert only_a.out.splitlines()[1:] == rows[:5]
    first_json, second_json = (json.loads(line) for line in as_json.out.splitlines())
    assert {key: first_json[key] for key in ("space_id", "kind", "id", "created_by")} == {
        "space_id": "space-b",
        "kind": "user",
        "id": "U1",
        "created_by": "cli",
    }
    assert first_json["created_at"].endswith("Z")
    assert second_json["id"] == "W2"

    removed = await run_bot(*access, "remove", "space-a", "channel", "C2", env=env)
    removed_again = await run_bot(*access, "remove", "space-a", "channel", "C2", env=env)
    unbound = await run_bot(*access, "unbind", "T1", "space-a", env=env)
    unbound_again = await run_bot(*access, "unbind", "T1", "space-a", env=env)
    after = await run_bot(*access, "list", "--space", "space-a", env=env)

    _ok(removed, unbound, after)
    assert removed.out == "removed: space-a channel C2\n"
    assert (removed_again.code, removed_again.out) == (1, "")
    assert removed_again.err == "error: space-a has no channel rule for C2\n"
    assert unbound.out == "unbound: T1 may no longer use space-a\n"
    assert (unbound_again.code, unbound_again.out) == (1, "")
    assert unbound_again.err == "error: T1 was not bound to space-a\n"
    assert [row.split()[1:3] for row in after.out.splitlines()[1:]] == [
        ["channel", "C1"],
        ["channel", "C3"],
        ["group", "S1"],
    ]


async def test_a_running_bot_sees_a_change_within_its_cache_period(database_url: str) -> None:
    database = database_for(database_url)
    clock = FakeClock()
    try:
        await bring_up_to_date(database, settings_for(database_url))
        async with RuleBook(database, cache_s=10.0, clock=clock.time) as book:
            await book.load()
            run = await run_bot(
                "access", "allow", "space-a", "user", "U1", env=_env(DATABASE_URL=database_url)
            )
            _ok(run)
            assert not book.snapshot().rules_for("space-a")

            clock.advance(10.0)
            await eventually(lambda: "U1" in book.snapshot().rules_for("space-a").users)
    finally:
        await database.close()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["allow", "space a", "user", "U1"], "error: 'space a' is not a space ID"),
        (["allow", "space-a", "user", "U1", "C1"], "error: 'C1' is not a Slack user ID (U..."),
        (["remove", "space-a", "channel", "#general"], "error: '#general' is not a Slack channel"),
        (["bind", "acme", "space-a"], "error: 'acme' is not a Slack team ID (T...)"),
        (["unbind", "T1", "space/a"], "error: 'space/a' is not a space ID"),
        (["list", "--space", "x" * 65], "error: 'xxxxxxxxxx"),
    ],
)
async def test_a_bad_id_is_one_line_and_touches_no_database(
    tmp_path: Path, args: list[str], error: str
) -> None:
    path = tmp_path / "flowpreview.sqlite3"
    run = await run_bot("access", *args, env=_env(DATABASE_PATH=str(path)))

    assert (run.code, run.out) == (2, "")
    [line] = run.err.splitlines()
    assert line.startswith(error)
    assert not path.exists()


@pytest.mark.parametrize(
    ("args", "usage", "problem"),
    [
        ([], "access", "the following arguments are required: ACTION"),
        (["grant"], "access", "argument ACTION: invalid choice: 'grant'"),
        (["allow", "space-a", "team", "T1"], "access allow", "argument kind: invalid choice"),
        (["list", "--bogus"], "access list", "unrecognized arguments: --bogus"),
    ],
)
async def test_a_usage_error_is_one_line_naming_the_action(
    args: list[str], usage: str, problem: str
) -> None:
    run = await run_bot("access", *args, env=_env(DATABASE_PATH="/nonexistent/x.sqlite3"))

    assert (run.code, run.out) == (2, "")
    [line] = run.err.splitlines()
    assert line.startswith(f"python -m bot {usage}: error: ")
    assert problem in line


async def test_more_than_a_space_takes_is_refused_in_one_line(database_url: str) -> None:
    ids = [f"U{number:05}" for number in range(10_001)]
    env = _env(DATABASE_URL=database_url)
    run = await run_bot("access", "allow", "space-a", "user", *ids, env=env)
    listed = await run_bot("access", "list", env=env)

    assert (run.code, run.out) == (1, "")
    assert run.err == "error: rules for space 'space-a' would number 10,001; at most 10,000\n"
    assert (listed.code, listed.out, listed.err) == (0, "", "")


async def test_list_before_migrate_says_to_migrate(database_url: str) -> None:
    # The database exists (a SQLite file is made on first connection), without tables.
    database = database_for(database_url)
    try:
        async with database.connection() as connection:
            await connection.fetch_value("SELECT 1")
    finally:
        await database.close()
    run = await run_bot("access", "list", env=_env(DATABASE_URL=database_url))

    assert (run.code, run.out) == (1, "")
    assert run.err == "error: the database has no tables yet; run `flowpreview migrate`\n"


async def test_list_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "flowpreview.sqlite3"
    run = await run_bot("access", "list", env=_env(DATABASE_PATH=str(path)))

    assert run.code == 1
    assert run.err == f"error: no database at {path}; run `flowpreview migrate` first\n"
    assert not path.parent.exists()


@pytest.mark.parametrize("args", [["list"], ["bind", "T1", "space-a"]])
async def test_an_unreachable_database_is_one_line_without_the_password(args: list[str]) -> None:
    url = f"postgresql://flowpreview:{PASSWORD}@127.0.0.1:{free_port()}/nowhere"
    run = await run_bot("access", *args, env=_env(DATABASE_URL=url))

    assert (run.code, run.out) == (1, "")
    [line] = run.err.splitlines()
    assert line.startswith("error: ConnectionRefusedError: ")
    assert PASSWORD not in run.err


async def test_a_look_alike_of_a_space_named_or_configured_is_refused_in_one_line(
    database_url: str,
) -> None:
    env = _env(DATABASE_URL=database_url, CAMS_SPACES="C29393993ABCD=Retail,cams-acme=Acme")
    access = ("access",)
    first = await run_bot(*access, "allow", "cams-acme", "user", "U1", env=env)
    upper, underscore, configured, bound = await asyncio.gather(
        run_bot(*access, "allow", "CAMS-ACME", "user", "U2", env=env),
        run_bot(*access, "allow", "cams_acme", "channel", "C2", env=env),
        run_bot(*access, "allow", "c29393993abcd", "user", "U3", env=env),
        run_bot(*access, "bind", "T1", "Cams_Acme", env=env),
    )
    listed = await run_bot(*access, "list", "--json", env=env)

    _ok(first)
    for refused, typed, known in (
        (upper, "CAMS-ACME", "cams-acme"),
        (underscore, "cams_acme", "cams-acme"),
        (configured, "c29393993abcd", "C29393993ABCD"),
        (bound, "Cams_Acme", "cams-acme"),
    ):
        assert (refused.code, refused.out) == (2, ""), refused
        assert refused.err == (
            f"error: {typed!r} is not {known!r}: space IDs are written exactly as CAMS gives "
            "them, letter case, '-' and '_' included\n"
        )
    assert [json.loads(line)["space_id"] for line in listed.out.splitlines()] == ["cams-acme"]


async def test_with_cams_spaces_only_its_spaces_take_rules_and_bindings(database_url: str) -> None:
    env = _env(DATABASE_URL=database_url, CAMS_SPACES="cams-acme=Acme")
    allowed = await run_bot("access", "allow", "cams-acme", "user", "U1", env=env)
    unlisted = await run_bot("access", "allow", "nope", "user", "U1", env=env)
    unbound = await run_bot("access", "bind", "T1", "nope", env=env)
    listed = await run_bot("access", "list", "--json", env=env)

    _ok(allowed)
    for refused in (unlisted, unbound):
        assert (refused.code, refused.out) == (2, ""), refused
        assert refused.err == "error: nope is not one of the spaces in CAMS_SPACES\n"
    assert [json.loads(line)["space_id"] for line in listed.out.splitlines()] == ["cams-acme"]
