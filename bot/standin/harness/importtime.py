"""What `python -X importtime` reports: the modules a process imported, with their times."""

from __future__ import annotations

import sys
from dataclasses import dataclass

IMPORT_LINE = "import time:"
# The first line -X importtime writes names its columns; every other one is a module.
IMPORT_HEADER = "import time: self [us] | cumulative | imported package"


@dataclass(frozen=True, slots=True)
class Imported:
    """One line of `-X importtime`: a module, how deep it was imported, and its times in µs."""

    module: str
    depth: int
    self_us: int
    cumulative_us: int

    @property
    def package(self) -> str:
        """Its top-level package, marked when it is the standard library's."""
        top = self.module.split(".")[0]
        return f"{top} (stdlib)" if top in sys.stdlib_module_names else top


def parse_importtime(stderr: str) -> list[Imported]:
    """The modules `-X importtime` reported in `stderr`, in its order (a module after those it
    imported); other lines (the header, logs) are left out."""
    found = []
    for line in stderr.splitlines():
        if not line.startswith(IMPORT_LINE) or line.strip() == IMPORT_HEADER:
            continue
        own, cumulative, name = line.removeprefix(IMPORT_LINE).split("|", 2)
        # After the bar, one space, then two for every level of nesting.
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        found.append(Imported(name.strip(), depth, int(own), int(cumulative)))
    return found
