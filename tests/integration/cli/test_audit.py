"""`python -m bot migrate` and `python -m bot audit` as an operator runs them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.standin.harness.processes import Run, clean_env, free_port, run_bot
from bot.store.audit import AuditOutcome, AuditRecord, AuditTrail
from bot.store.migrate import bring_up_to_date
from tests.shared.store import database_for, settings_for

PASSWORD = "pw-Sup3r-s3cret"


def _env(**settings: str) -> dict[str, str]:
    # Only the database the test names, whatever the machine's environment says.
    prefixes = ("DATABASE_", "AUDIT_")
    return {k: v for k, v in clean_env().items() if not k.startswith(prefixes)} | settings


async def _seed(database_url: str, *records: AuditRecord) -> None:
    database = database_for(database_url)
    try:
        await bring_up_to_date(database, settings_for(database_url))
        trail = AuditTrail(database)
        trail.start(purge=False)
        for record in records:
            trail.record(record)
        await trail.close()
        assert trail.written == len(records)
    finally:
        await database.close()


def _record(at: datetime, user: str, flow: str | None, outcome: AuditOutcome) -> AuditRecord:
    return AuditRecord(
        at=at,
        team_id="T1",
        channel_id="C1",
        user_id=user,
        flow_id=flow,
        space_id="space-a",
        outcome=outcome,
        reason="not allowed" if outcome is AuditOutcome.REFUSED else None,
        request_id="REQ-1" if outcome is AuditOutcome.GIVEN else None,
    )


async def test_migrate_prints_the_revision_before_and_after(database_url: str) -> None:
    env = _env(DATABASE_URL=database_url)
    first = await run_bot("migrate", env=env)
    second = await run_bot("migrate", env=env)

    assert first.code == 0, first.err
    assert first.out.splitlines()[1:] == ["revision before: none", "revision after: 0004"]
    assert first.out.startswith("database: ")
    assert second.code == 0, second.err
    assert second.out.splitlines()[1:] == ["revision before: 0004", "revision after: 0004"]
    assert first.err == second.err == ""


async def test_migrate_names_an_unreachable_database_in_one_line() -> None:
    port = free_port()
    url = f"postgresql://flowpreview:{PASSWORD}@127.0.0.1:{port}/nowhere"
    run = await run_bot("migrate", env=_env(DATABASE_URL=url))

    assert run.code == 1
    assert run.out == f"database: postgresql+asyncpg://flowpreview:***@127.0.0.1:{port}/nowhere\n"
    [line] = run.err.splitlines()
    assert line.startswith("error: ConnectionRefusedError: ")
    assert PASSWORD not in run.out + run.err


@pytest.mark.parametrize("command", ["migrate", "audit"])
async def test_a_bad_database_url_is_one_line_without_the_password(command: str) -> None:
    run = await run_bot(command, env=_env(DATABASE_URL=f"mysql://bot:{PASSWORD}@db/x"))

    assert run.code == 2
    assert run.err.startswith("flowpreview: DATABASE_URL: unsupported scheme 'mysql'")
    assert run.err.count("\n") == 1
    assert PASSWORD not in run.err


@pytest.mark.dates
async def test_audit_lists_filters_and_prints_json(database_url: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    await _seed(
        database_url,
        _record(now - timedelta(days=2), "U1", "F1", AuditOutcome.GIVEN),
        _record(now - timedelta(hours=1), "U2", "F1", AuditOutcome.SHARED),
        _record(now - timedelta(minutes=1), "U1", "\x1b[31mred", AuditOutcome.REFUSED),
    )
    env = _env(DATABASE_URL=database_url)
    since = (now - timedelta(days=1)).isoformat()
    table, by_user, by_flow, recent, iso, as_json, limited = await asyncio.gather(
        run_bot("audit", env=env),
        run_bot("audit", "--user", "U1", env=env),
        run_bot("audit", "--flow", "F1", env=env),
        run_bot("audit", "--since", "90m", env=env),
        run_bot("audit", "--since", since, env=env),
        run_bot("audit", "--json", "--user", "U1", env=env),
        run_bot("audit", "--limit", "1", env=env),
    )

    assert all(run.code == 0 for run in (table, by_user, by_flow, recent, iso, as_json, limited))
    header, *rows = table.out.splitlines()
    assert header.split() == [
        "time",
        "(UTC)",
        "outcome",
        "team",
        "channel",
        "user",
        "flow",
        "space",
        "request",
        "id",
        "reason",
    ]
    assert rows[0].split() == [
        *f"{now - timedelta(minutes=1):%Y-%m-%d %H:%M:%S}".split(),
        "refused",
        "T1",
        "C1",
        "U1",
        "?[31mred",
        "space-a",
        "-",
        "not",
        "allowed",
    ]
    assert [row.split()[2] for row in rows] == ["refused", "shared", "given"]
    assert table.err == ""
    assert _users(by_user) == ["U1", "U1"]
    assert [row.split()[6] for row in _rows(by_flow)] == ["F1", "F1"]
    assert [row.split()[2] for row in _rows(recent)] == ["refused", "shared"]
    assert [row.split()[2] for row in _rows(iso)] == ["refused", "shared"]
    first, second = (json.loads(line) for line in as_json.out.splitlines())
    assert first == {
        "at": f"{now - timedelta(minutes=1):%Y-%m-%dT%H:%M:%S}Z",
        "outcome": "refused",
        "team_id": "T1",
        "channel_id": "C1",
        "user_id": "U1",
        "flow_id": "\x1b[31mred",
        "space_id": "space-a",
        "reason": "not allowed",
        "request_id": None,
    }
    assert (second["outcome"], second["request_id"]) == ("given", "REQ-1")
    assert len(_rows(limited)) == 1
    assert limited.err == "(the newest 1; --limit N for more)\n"


def _rows(run: Run) -> list[str]:
    return run.out.splitlines()[1:]


def _users(run: Run) -> list[str]:
    return [row.split()[5] for row in _rows(run)]


async def test_audit_on_an_empty_trail_prints_nothing(database_url: str) -> None:
    await _seed(database_url)
    run = await run_bot("audit", env=_env(DATABASE_URL=database_url))

    assert (run.code, run.out, run.err) == (0, "", "")


async def test_audit_before_migrate_says_to_migrate(database_url: str) -> None:
    # The database exists (a SQLite file is made on first connection), without tables.
    database = database_for(database_url)
    try:
        async with database.connection() as connection:
            await connection.fetch_value("SELECT 1")
    finally:
        await database.close()
    run = await run_bot("audit", env=_env(DATABASE_URL=database_url))

    assert run.code == 1
    assert run.err == "error: the database has no tables yet; run `flowpreview migrate`\n"


async def test_audit_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "flowpreview.sqlite3"
    run = await run_bot("audit", env=_env(DATABASE_PATH=str(path)))

    assert run.code == 1
    assert run.err == f"error: no database at {path}; run `flowpreview migrate` first\n"
    assert not path.parent.exists()


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--since", "yesterday"], "argument --since: expected an ISO date or time"),
        (["--since", "5w"], "argument --since: expected an ISO date or time"),
        (["--limit", "0"], "argument --limit: expected a whole number from 1 to 1,000,000"),
        (["--limit", "x"], "argument --limit: expected a whole number from 1 to 1,000,000"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        # Values that passed the check and then broke the arithmetic or the query.
        (["--since", "999999d"], "argument --since: expected a span of at most 36500d"),
        (["--since", "999999h"], "argument --since: expected a span of at most 36500d"),
        (["--since", "0001-01-01T00:00+01:00"], "argument --since: expected a time between"),
        (["--since", "9999-12-31T23:59-01:00"], "argument --since: expected a time between"),
        (["--limit", "1000001"], "argument --limit: expected a whole number from 1 to 1,000,000"),
        (
            ["--limit", "99999999999999999999999"],
            "argument --limit: expected a whole number from 1 to 1,000,000",
        ),
    ],
)
async def test_bad_audit_options_are_a_usage_error(
    args: list[str], problem: str, tmp_path: Path
) -> None:
    # A migrated database: a value the check let through would reach the query.
    path = tmp_path / "flowpreview.sqlite3"
    assert (await run_bot("migrate", env=_env(DATABASE_PATH=str(path)))).code == 0
    run = await run_bot("audit", *args, env=_env(DATABASE_PATH=str(path)))

    assert run.code == 2
    [error] = run.err.splitlines()
    assert error.startswith("python -m bot audit: error: ")
    assert problem in error
    assert run.out == ""


async def test_the_widest_audit_options_read_the_whole_trail(database_url: str) -> None:
    await _seed(database_url, _record(datetime.now(UTC), "U1", "F1", AuditOutcome.GIVEN))
    env = _env(DATABASE_URL=database_url)
    runs = await asyncio.gather(
        run_bot("audit", "--since", "36500d", "--limit", "1000000", env=env),
        run_bot("audit", "--since", "0001-01-01", env=env),
    )

    # The table's header and the one record, each time.
    assert [(run.code, run.err, len(run.out.splitlines())) for run in runs] == [(0, "", 2)] * 2
