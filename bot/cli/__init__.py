"""The command line: `python -m bot get|serve|emulator|demo`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from bot.cli import demo, emulator, get, serve
from bot.config import ConfigError, env_str

EXIT_CONFIG = 2
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def build_parser() -> argparse.ArgumentParser:
    """The parser with one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="WhatsApp Flow previews from Alibaba Cloud CAMS."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    get.add_parser(commands)
    serve.add_parser(commands)
    emulator.add_parser(commands)
    demo.add_parser(commands)
    return parser


def configure_logging(env: dict[str, str]) -> None:
    """Log to stderr at LOG_LEVEL (default INFO)."""
    level = (env_str(env, "LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; configuration problems are one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    env = dict(os.environ)
    try:
        configure_logging(env)
        return int(args.run(args, env))
    except ConfigError as exc:
        print(f"flowpreview: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
