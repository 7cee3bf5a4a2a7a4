"""DATABASE_URL in `python -m bot` processes where PostgreSQL's driver is not installed."""

from __future__ import annotations

import os
from pathlib import Path

from bot.standin.harness.processes import clean_env, run_bot
from tests.shared.store import PASSWORD


def _without_asyncpg(folder: Path) -> str:
    """A PYTHONPATH on which `import asyncpg` fails as it does where the extra is not installed."""
    (folder / "asyncpg.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'asyncpg'\", name='asyncpg')\n",
        encoding="utf-8",
    )
    return os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))


async def test_postgresql_without_its_driver_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    env = clean_env(
        PYTHONPATH=_without_asyncpg(tmp_path),
        DATABASE_URL=f"postgresql://bot:{PASSWORD}@db.internal/flowpreview",
    )
    run = await run_bot("migrate", env=env)

    assert run.code == 2
    assert run.err == (
        "flowpreview: DATABASE_URL: names PostgreSQL, whose driver (asyncpg) is missing: install "
        "the postgres extra (pip install '.[postgres]')\n"
    )
    assert run.out == ""


async def test_sqlite_needs_no_postgresql_driver(tmp_path: Path) -> None:
    env = clean_env(
        PYTHONPATH=_without_asyncpg(tmp_path), DATABASE_PATH=str(tmp_path / "bot.sqlite3")
    )
    migrated = await run_bot("migrate", env=env)
    listed = await run_bot("access", "list", env=env)
    audit = await run_bot("audit", "--since", "1d", env=env)

    assert (migrated.code, listed.code, audit.code) == (0, 0, 0), (
        migrated.err + listed.err + audit.err
    )
