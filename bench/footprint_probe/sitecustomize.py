"""bench_footprint's probe, loaded at start-up into the processes it measures: as sitecustomize,
from a PYTHONPATH only the benchmark sets, so that neither the bot nor bare Bolt is changed.

SIGUSR2 runs `gc.collect()`, so that resident memory is read with no garbage waiting. With
FOOTPRINT_TRACE_OUT set, tracemalloc runs from here on (FOOTPRINT_TRACE_FRAMES frames deep),
and SIGUSR1 writes the FOOTPRINT_TRACE_TOP packages that hold the most, with the total and the
number of modules loaded, to that path as JSON.

Without tracing it imports nothing the measured processes do not import anyway: the probe must
not weigh in what it helps to measure.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracemalloc import Traceback
    from types import FrameType

TRACE_OUT = "FOOTPRINT_TRACE_OUT"
TRACE_FRAMES = "FOOTPRINT_TRACE_FRAMES"
TRACE_TOP = "FOOTPRINT_TRACE_TOP"
SITE_PACKAGES = "site-packages"


def _collect(signum: int, frame: FrameType | None) -> None:
    gc.collect()


def _module_files() -> dict[str, str]:
    """Each loaded module's file, and the top-level package it belongs to."""
    files: dict[str, str] = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        # Run with -m, the main module is __main__; its spec keeps its real name.
        real = getattr(getattr(module, "__spec__", None), "name", None) or name
        if isinstance(path, str):
            files[path] = real.split(".")[0]
    return files


def _package(filename: str, files: dict[str, str], stdlib: Path) -> str | None:
    """The top-level package of `filename`; None for the import machinery and generated code."""
    if filename.startswith("<"):
        return None
    known = files.get(filename)
    if known is not None:
        return known
    path = Path(filename)
    if SITE_PACKAGES in path.parts:
        rest = path.parts[path.parts.index(SITE_PACKAGES) + 1 :]
    elif path.is_relative_to(stdlib):
        rest = path.relative_to(stdlib).parts
    else:
        rest = path.parts[-2:]
    return rest[0].removesuffix(".py") if rest else filename


def _owner(traceback: Traceback, files: dict[str, str], stdlib: Path) -> str:
    """Who an allocation is charged to: the package of its innermost frame outside the
    standard library and the import machinery (so a module's code objects go to whatever
    imported it); failing that, the innermost standard library module."""
    fallback = None
    for frame in reversed(traceback):
        package = _package(frame.filename, files, stdlib)
        if package is None:
            continue
        if package not in sys.stdlib_module_names:
            return package
        fallback = fallback or f"{package} (stdlib)"
    return fallback or "(interpreter)"


def _write_trace(signum: int, frame: FrameType | None) -> None:
    # Imported only here and in _start_tracing: the processes measured import neither.
    import sysconfig  # noqa: PLC0415
    import tracemalloc  # noqa: PLC0415

    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    files = _module_files()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sizes: dict[str, list[int]] = {}
    for trace in snapshot.traces:
        tally = sizes.setdefault(_owner(trace.traceback, files, stdlib), [0, 0])
        tally[0] += trace.size
        tally[1] += 1
    ranked = sorted(sizes.items(), key=lambda item: item[1][0], reverse=True)
    report = {
        "traced_bytes": sum(size for size, _ in sizes.values()),
        "modules": len(sys.modules),
        "packages": [
            {"package": name, "bytes": size, "blocks": blocks}
            for name, (size, blocks) in ranked[: int(os.environ.get(TRACE_TOP, "10"))]
        ],
    }
    out = Path(os.environ[TRACE_OUT])
    # Written whole, then renamed: whoever waits for the file never reads half of it.
    partial = out.with_name(out.name + ".partial")
    partial.write_text(json.dumps(report))
    partial.replace(out)


def _start_tracing() -> None:
    import tracemalloc  # noqa: PLC0415

    tracemalloc.start(int(os.environ.get(TRACE_FRAMES, "64")))
    signal.signal(signal.SIGUSR1, _write_trace)


signal.signal(signal.SIGUSR2, _collect)
if os.environ.get(TRACE_OUT):
    _start_tracing()
