"""`python -m bot access`: list and change who may preview which space, and which workspaces
may use which space.

A running bot sees a change within ACCESS_CACHE_S seconds. A space ID is taken exactly as
written, as from Slack: one that differs from a space already named, or configured by
CAMS_SPACES or CAMS_CUST_SPACE_ID, only in case or '_' versus '-' is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bot.access.errors import RuleError, RuleErrorKind
from bot.access.ids import Kind, check_space, check_subject, check_team
from bot.access.rules import RuleBook
from bot.cli.reading import read
from bot.cli.table import cell, table
from bot.ids import space_key
from bot.preview.spaces import listed_only, spaces_from_env
from bot.store.database import Database, DatabaseError, one_line
from bot.store.migrate import bring_up_to_date
from bot.store.opening import open_database
from bot.store.settings import StoreSettings

# The words of the command line; the database says `usergroup`.
KINDS = {"channel": Kind.CHANNEL, "user": Kind.USER, "group": Kind.USERGROUP}
_WORDS = {kind: word for word, kind in KINDS.items()}
WORKSPACE = "workspace"
# Who the database says made a change from here.
BY = "cli"
_COLUMNS = ("space", "kind", "id", "added by", "added at (UTC)")


def add_parser(commands: Any, summary: str) -> None:
    """Register `access` and its actions on the sub-command parser."""
    parser = commands.add_parser(
        "access",
        help=summary,
        description=(
            "Access rules in the database named by DATABASE_URL (or DATABASE_PATH). A space "
            "with rules is open to the channels, people and user groups they name and nobody "
            "else; a running bot sees a change within ACCESS_CACHE_S seconds."
        ),
    )
    parser.set_defaults(log_default="WARNING")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="print the rules and workspace bindings")
    listing.add_argument("--space", metavar="S", help="only those of this space")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=run_list)

    allow = actions.add_parser("allow", help="let channels, people or user groups use a space")
    allow.add_argument("space", metavar="SPACE", help="a CAMS CustSpaceId")
    allow.add_argument("kind", choices=KINDS, help="what the IDs name")
    allow.add_argument("ids", nargs="+", metavar="ID", help="Slack IDs: C..., U... or S...")
    allow.set_defaults(run=run_allow)

    remove = actions.add_parser("remove", help="remove one rule")
    remove.add_argument("space", metavar="SPACE", help="a CAMS CustSpaceId")
    remove.add_argument("kind", choices=KINDS, help="what the ID names")
    remove.add_argument("id", metavar="ID", help="a Slack ID: C..., U... or S...")
    remove.set_defaults(run=run_remove)

    for action, verb, run in (
        ("bind", "let a workspace use a space", run_bind),
        ("unbind", "stop a workspace using a space", run_unbind),
    ):
        binding = actions.add_parser(action, help=f"{verb} (multi-workspace installs)")
        binding.add_argument("team", metavar="TEAM", help="a Slack team ID (T...)")
        binding.add_argument("space", metavar="SPACE", help="a CAMS CustSpaceId")
        binding.set_defaults(run=run)


def run_list(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Exit 0 with the rules and bindings (none is fine), 1 when the database cannot be read."""
    settings = StoreSettings.from_env(env)
    if args.space is not None and (code := _invalid(lambda: check_space(args.space))):
        return code
    rows = read(settings, lambda database: _list(database, args.space))
    if rows is None:
        return 1
    if args.json:
        for row in rows:
            print(json.dumps(row))
    elif rows:
        print(_table(rows))
    return 0


def run_allow(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Exit 0 once every ID is allowed (some may have been already)."""
    kind = KINDS[args.kind]
    if code := _invalid(lambda: [_usable(env, args.space), *_each(kind, args.ids)]):
        return code

    async def allow(book: RuleBook) -> int:
        added = await book.allow(args.space, kind, args.ids, by=BY)
        for subject in dict.fromkeys(args.ids):
            done = "allowed" if subject in added else "already allowed"
            print(f"{done}: {args.space} {args.kind} {subject}")
        return 0

    return _change(env, allow)


def run_remove(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Exit 0 once the rule is removed, 1 when there was no such rule."""
    kind = KINDS[args.kind]
    if code := _invalid(lambda: [check_space(args.space), check_subject(kind, args.id)]):
        return code

    async def remove(book: RuleBook) -> int:
        removed = await book.remove(args.space, kind, args.id)
        return _report(
            removed,
            f"removed: {args.space} {args.kind} {args.id}",
            f"{args.space} has no {args.kind} rule for {args.id}",
        )

    return _change(env, remove)


def run_bind(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Exit 0 once the workspace may use the space (it may have already)."""
    if code := _invalid(lambda: [check_team(args.team), _usable(env, args.space)]):
        return code

    async def bind(book: RuleBook) -> int:
        done = "bound" if await book.bind(args.team, args.space) else "already bound"
        print(f"{done}: {args.team} may use {args.space}")
        return 0

    return _change(env, bind)


def run_unbind(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Exit 0 once the workspace may no longer use the space, 1 when it was not bound to it."""
    if code := _invalid(lambda: [check_team(args.team), check_space(args.space)]):
        return code

    async def unbind(book: RuleBook) -> int:
        unbound = await book.unbind(args.team, args.space)
        return _report(
            unbound,
            f"unbound: {args.team} may no longer use {args.space}",
            f"{args.team} was not bound to {args.space}",
        )

    return _change(env, unbind)


def _usable(env: dict[str, str], space: str) -> str:
    """`space` when a new rule or binding may name it: with CAMS_SPACES set, one it lists, as
    Slack's `config` requires. Without it, the command line has no CAMS to ask."""
    check_space(space)
    listed = listed_only(spaces_from_env(env))
    # A look-alike of a listed space goes on, to be refused as one: the more useful sentence.
    if listed is not None and space_key(space) not in {space_key(known) for known in listed}:
        raise RuleError(RuleErrorKind.INVALID, f"{space} is not one of the spaces in CAMS_SPACES")
    return space


def _each(kind: Kind, subjects: list[str]) -> list[str]:
    return [check_subject(kind, subject) for subject in subjects]


def _invalid(check: Callable[[], object]) -> int:
    """0 when `check` passes; else the problem on stderr and the exit status of a usage error."""
    try:
        check()
    except RuleError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _change(env: dict[str, str], change: Callable[[RuleBook], Awaitable[int]]) -> int:
    """Bring the database up to date, then make the change; its exit status, or 1 (2 for a
    usage error) after printing why it failed."""
    settings = StoreSettings.from_env(env)
    known = [space.id for space in spaces_from_env(env)]
    try:
        return asyncio.run(_with_book(settings, change, known))
    except RuleError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        usage = exc.kind in {RuleErrorKind.INVALID, RuleErrorKind.LOOK_ALIKE}
        return 2 if usage else 1
    except (DatabaseError, OSError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1


def _report(changed: bool, done: str, missing: str) -> int:
    if changed:
        print(done)
        return 0
    print(f"error: {missing}", file=sys.stderr)
    return 1


async def _with_book(
    settings: StoreSettings, change: Callable[[RuleBook], Awaitable[int]], known: list[str]
) -> int:
    database = open_database(settings)
    try:
        await _up_to_date(database, settings)
        async with RuleBook(database, known=known) as book:
            return await change(book)
    finally:
        await database.close()


async def _up_to_date(database: Database, settings: StoreSettings) -> None:
    """Migrate the database if need be; DatabaseError when it cannot be reached or migrated."""
    # A database that cannot be reached says so here, through the bot's own driver.
    async with database.connection() as connection:
        await connection.fetch_value("SELECT 1")
    await bring_up_to_date(database, settings)


async def _list(database: Database, space: str | None) -> list[dict[str, Any]]:
    async with RuleBook(database) as book:
        rules, bindings = await book.rules(space), await book.bindings(space)
    rows = [
        _row(rule.space_id, _WORDS[rule.kind], rule.subject, rule.created_by, rule.created_at)
        for rule in rules
    ] + [
        _row(binding.space_id, WORKSPACE, binding.team_id, None, binding.created_at)
        for binding in bindings
    ]
    return sorted(rows, key=lambda row: (row["space_id"], row["kind"], row["id"]))


def _row(space: str, kind: str, subject: str, by: str | None, at: datetime) -> dict[str, Any]:
    return {
        "space_id": space,
        "kind": kind,
        "id": subject,
        "created_by": by,
        "created_at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def _table(rows: list[dict[str, Any]]) -> str:
    return table(
        _COLUMNS,
        [
            (
                *(cell(row[key]) for key in ("space_id", "kind", "id", "created_by")),
                f"{datetime.fromisoformat(row['created_at']):%Y-%m-%d %H:%M:%S}",
            )
            for row in rows
        ],
    )
