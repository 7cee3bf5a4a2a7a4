"""The command line: `python -m bot get|serve|emulator|demo`."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any, NoReturn

from bot import __version__
from bot.config import ConfigError, env_str
from bot.logs import LogFormat, configure, log_format

EXIT_CONFIG = 2
# Each command's module, and its line in the top-level help. A module is imported only when
# its command runs: `serve` loads neither the demo nor the emulator, nor their stand-ins.
COMMANDS = {
    "get": ("bot.cli.get", "print the preview link of each flow"),
    "serve": ("bot.cli.serve", "run the Slack bot"),
    "emulator": ("bot.cli.emulator", "run a local CAMS endpoint for demos, tests and benchmarks"),
    "demo": ("bot.cli.demo", "try the bot in this terminal, with no Slack or Alibaba account"),
    "migrate": ("bot.cli.migrate", "create or update the database's tables"),
    "audit": ("bot.cli.audit", "print the audit trail: who was given which preview"),
    "access": ("bot.cli.access", "list and change who may preview which space"),
}
# The demo and the emulator need these, which the production image leaves out with them.
STANDINS = "bot.standin"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The installed script names itself in usage lines; everything else is `python -m bot`.
SCRIPT = "flowpreview"


class _OneLineParser(argparse.ArgumentParser):
    """A parser whose usage errors are one line naming the command, like a bad setting's.

    argparse prints the whole usage above the error; in a script's output or a log, the
    one line that says what was wrong is what matters, and `--help` has the rest.
    """

    def error(self, message: str) -> NoReturn:
        """Print `message` as one line naming this command, and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _CommandParser(_OneLineParser):
    """A sub-command's parser: an argument it does not know is a usage error of its own.

    Left to argparse, unknown arguments travel up to the top-level parser, which then names
    the top-level command instead of the sub-command.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed, extra


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with one sub-command per job; only `command`'s module is imported, and only
    its arguments are known (the others are named, for the help and for usage errors).

    A sub-command may set `log_default` (the level when LOG_LEVEL is unset) and `log_to_file`
    (log to a new file instead of stderr, its path in `args.log_path`).
    """
    parser = _OneLineParser(
        prog=SCRIPT if os.path.basename(sys.argv[0]) == SCRIPT else "python -m bot",
        description="WhatsApp Flow previews from Alibaba Cloud CAMS.",
    )
    parser.add_argument("--version", action="version", version=f"flowpreview {__version__}")
    parser.set_defaults(log_default="INFO", log_to_file=False)
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_CommandParser
    )
    for name, (module, summary) in COMMANDS.items():
        if name == command:
            _import_command(parser, name, module).add_parser(commands, summary)
        else:
            commands.add_parser(name, help=summary)
    return parser


def _import_command(parser: argparse.ArgumentParser, name: str, module: str) -> Any:
    """`name`'s module; where it or the stand-ins it needs are not installed, one line and
    exit 2."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as missing:
        gone = missing.name or ""
        if gone != module and not gone.startswith(STANDINS):
            raise
        parser.exit(
            EXIT_CONFIG,
            f"flowpreview: `{name}` is not in this installation: the production image leaves out "
            "the demo, the emulator and their stand-ins (build the Dockerfile's demo target)\n",
        )


def _parser_without_collecting(command: str | None) -> argparse.ArgumentParser:
    """build_parser(command), which imports the command's modules, with the garbage collector
    paused meanwhile.

    Imports make tens of thousands of objects that live as long as the process: collecting
    while they are made only walks them again and again (about a tenth of `serve`'s start).
    They are then frozen, so that later collections do not walk them either.
    """
    gc.disable()
    try:
        return build_parser(command)
    finally:
        gc.freeze()
        gc.enable()


def command_of(argv: Sequence[str]) -> str | None:
    """The command `argv` names: its first word that is not an option (the top-level options
    take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def log_level(env: dict[str, str], default: str) -> str:
    """LOG_LEVEL, upper-cased, or `default` when it is unset."""
    level = (env_str(env, "LOG_LEVEL") or default).upper()
    if level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")
    return level


def configure_logging(
    level: str,
    fmt: LogFormat = LogFormat.TEXT,
    *,
    to_file: bool = False,
    prefix: str = "flowpreview-",
) -> str | None:
    """Log `fmt` lines at `level` to stderr, or to a new temporary file; its path if so."""
    if not to_file:
        configure(level, fmt, stream=sys.stderr)
        return None
    descriptor, path = tempfile.mkstemp(prefix=prefix, suffix=".log")
    os.close(descriptor)
    configure(level, fmt, path=path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; configuration problems are one line on stderr and exit status 2."""
    words = sys.argv[1:] if argv is None else list(argv)
    args = _parser_without_collecting(command_of(words)).parse_args(words)
    env = dict(os.environ)
    try:
        args.log_path = configure_logging(
            log_level(env, args.log_default),
            log_format(env),
            to_file=args.log_to_file,
            prefix=f"flowpreview-{args.command}-",
        )
        return int(args.run(args, env))
    except ConfigError as exc:
        print(f"flowpreview: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
