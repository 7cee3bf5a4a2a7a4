"""Shared test machinery: the checkout, the reference data folder and log capture."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The checkout: README.md, docs/, the container files, the manifest.
ROOT = Path(__file__).resolve().parent.parent
# Reference files copied into the project (tests/data/README.md says where each came from).
DATA = Path(__file__).resolve().parent / "data"


@contextmanager
def log_capture() -> Iterator[io.StringIO]:
    """Everything logged at any level while the block runs, formatted as the bot logs it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
