"""Typing at the demo's prompt on a terminal: line editing and history, through readline.

Once `readline` is imported, `input()` edits the line (arrows, Home/End, Ctrl-A/E/W/U…) and
keeps the lines typed so far as history (↑ and ↓), in memory for as long as the demo runs.
`input()` blocks, so each line is read on a daemon thread, and only when the terminal asks
for the next one: the prompt comes after the previous command's answer, and an interrupted
demo exits at once instead of waiting for one more line.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sys
import termios
import threading
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import TextIO


def _readline() -> ModuleType | None:
    # Importing it is what makes input() edit lines, so only a demo at a terminal does; a
    # Python built without it still reads lines, unedited.
    try:
        import readline  # noqa: PLC0415
    except ImportError:
        return None
    return readline


class LineEditor:
    """Lines typed at `prompt` on the terminal `stdin`, with line editing and history."""

    def __init__(self, prompt: str, *, stdin: TextIO = sys.stdin) -> None:
        self.prompt = prompt
        self._stdin = stdin
        self._readline = _readline()
        self._asks: queue.SimpleQueue[None] = queue.SimpleQueue()

    def typed(self) -> str:
        """What is typed after the prompt so far, to show again after a message."""
        # Read while the reading thread may be editing it: at worst, a keystroke early or late.
        return self._readline.get_line_buffer() if self._readline is not None else ""

    @contextlib.contextmanager
    def keeping_the_terminal(self) -> Iterator[LineEditor]:
        """Use the editor; on the way out, the terminal's settings are as they were found.

        readline puts the terminal in a mode of its own while it reads a line: a demo stopped
        by Ctrl-C at the prompt would otherwise leave it without echo.
        """
        descriptor = self._stdin.fileno()
        saved = termios.tcgetattr(descriptor)
        try:
            yield self
        finally:
            termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)

    async def lines(self) -> AsyncIterator[str]:
        """Each line typed, read when the next one is asked for, until end of input (Ctrl-D)."""
        loop = asyncio.get_running_loop()
        read: asyncio.Queue[str | None] = asyncio.Queue()

        def reader() -> None:
            while True:
                self._asks.get()
                try:
                    line: str | None = input(self.prompt)
                except EOFError:
                    line = None
                try:
                    loop.call_soon_threadsafe(read.put_nowait, line)
                except RuntimeError:
                    return  # the loop closed while this thread waited for input
                if line is None:
                    return

        threading.Thread(target=reader, name="line-editor", daemon=True).start()
        while True:
            self._asks.put(None)
            line = await read.get()
            if line is None:
                return
            yield line
