"""A PostgreSQL server of the tests' own: a throw-away cluster on a free loopback port."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.standin.harness.processes import free_port

USER = "flowpreview"
STARTUP_S = 30
LOG_TAIL_LINES = 20
# PostgreSQL refuses to run as root; when the tests do, the server runs as this system user.
UNPRIVILEGED_USER = "postgres"
BINARIES = ("initdb", "pg_ctl", "postgres")
MISSING = "PostgreSQL (initdb, pg_ctl, postgres) is not installed; .ci/run installs it"


class PostgresServer:
    """A PostgreSQL server of the tests' own: initdb in a temporary folder, a free loopback port."""

    def __init__(self, bin_dir: Path, folder: Path, port: int, as_user: Sequence[str]) -> None:
        self.port = port
        self._bin_dir = bin_dir
        self._pg_ctl = str(bin_dir / "pg_ctl")
        self._folder = folder
        self._data = folder / "data"
        self._log = folder / "server.log"
        self._as_user = list(as_user)
        self._names = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` here; no password, as the cluster trusts loopback."""
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    async def create_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        name = f"test_{next(self._names)}"
        await self._administer(f'CREATE DATABASE "{name}"')
        return self.url(name)

    async def drop_database(self, url: str) -> None:
        """Drop a database `create_database` made, even if connections to it are still open."""
        name = url.rsplit("/", 1)[1]
        await self._administer(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def _administer(self, statement: str) -> None:
        # CREATE and DROP DATABASE cannot run inside a transaction.
        engine = create_async_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    def start(self) -> None:
        """Create the cluster and start the server; return once it accepts connections."""
        self._run(
            str(self._bin_dir / "initdb"),
            *("-D", str(self._data), "-U", USER, "--auth=trust", "--no-sync"),
            *("-E", "UTF8", "--locale=C"),
        )
        # Loopback only, the unix socket inside the folder, and no durability: the data is
        # thrown away at the end of the run.
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self._folder} -F"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        try:
            self._run(
                self._pg_ctl,
                *("start", "-w", "-t", str(STARTUP_S), "-D", str(self._data)),
                *("-l", str(self._log), "-o", options),
            )
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{self._log_tail()}") from None

    def stop(self) -> None:
        """Stop the server at once (nothing on disk matters) and remove its folder."""
        try:
            # No pid file: the server never started, or has stopped already.
            if (self._data / "postmaster.pid").exists():
                self._run(self._pg_ctl, "stop", "-m", "immediate", "-w", "-D", str(self._data))
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            [*self._as_user, *command],
            cwd=self._folder,
            capture_output=True,
            text=True,
            check=False,
            timeout=STARTUP_S + 10,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr.strip()}"
            )

    def _log_tail(self) -> str:
        try:
            lines = self._log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(["server log:", *lines[-LOG_TAIL_LINES:]])


def start_postgres() -> PostgresServer:
    """Start a server of the tests' own; RuntimeError naming .ci/run when PostgreSQL is missing."""
    bin_dir = find_bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="flowpreview-pg-"))
    server = PostgresServer(bin_dir, folder, free_port(), _unprivileged(folder))
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


def find_bin_dir() -> Path:
    """The folder holding initdb, pg_ctl and postgres: from PATH, else Debian's newest."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        # Debian links only some of the binaries into PATH; pg_ctl wants postgres beside it.
        candidate = Path(on_path).resolve().parent
        if all((candidate / name).exists() for name in BINARIES):
            return candidate
    installed = sorted(
        (
            folder
            for folder in Path("/usr/lib/postgresql").glob("*/bin")
            if folder.parent.name.isdigit()
        ),
        key=lambda folder: int(folder.parent.name),
    )
    for candidate in reversed(installed):
        if all((candidate / name).exists() for name in BINARIES):
            return candidate
    raise RuntimeError(MISSING)


def _unprivileged(folder: Path) -> list[str]:
    """The prefix that runs the server's commands as a user PostgreSQL accepts; owns `folder`."""
    if os.geteuid() != 0:
        return []
    try:
        shutil.chown(folder, UNPRIVILEGED_USER)
    except LookupError:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(
            f"running as root needs the {UNPRIVILEGED_USER!r} system user; .ci/run installs it"
        ) from None
    return ["runuser", "-u", UNPRIVILEGED_USER, "--"]
