"""What bench_footprint reads of a process: its resident memory from /proc, the imports
`-X importtime` wrote, and the probe's tracemalloc report (bench/footprint_probe)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bot.standin.harness.importtime import Imported

MB = 1024 * 1024
KB = 1024


@dataclass(frozen=True, slots=True)
class Memory:
    """Resident memory of one process at one moment, in bytes: all of it (VmRSS), and the
    part that is its own rather than mapped from files (RssAnon)."""

    rss: int
    anon: int

    @property
    def rss_mb(self) -> float:
        """VmRSS in MiB."""
        return self.rss / MB

    @property
    def anon_mb(self) -> float:
        """RssAnon in MiB."""
        return self.anon / MB


def read_memory(pid: int) -> Memory:
    """VmRSS and RssAnon of process `pid`, from /proc/<pid>/status (Linux only)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon"):
            # Given in kB: "VmRSS:     43416 kB".
            fields[name] = int(value.split()[0]) * KB
    return Memory(rss=fields["VmRSS"], anon=fields["RssAnon"])


@dataclass(frozen=True, slots=True)
class PackageImports:
    """The imports of one top-level package: how many modules, their own time, and the time
    of its outermost imports, which includes whatever they imported in turn (µs)."""

    package: str
    modules: int
    self_us: int
    cumulative_us: int


def group_imports(imported: list[Imported]) -> list[PackageImports]:
    """`imported` by top-level package, the longest cumulative time first.

    A package's cumulative time adds up its imports made from outside it, each with all it
    imported: `bot` then holds most of the bot's start, and the self times say where it went.
    """
    totals: dict[str, list[int]] = {}
    # -X importtime writes a module after its imports; backwards, a parent comes before its
    # children, and the stack holds the chain of imports above the current one.
    chain: list[Imported] = []
    for module in reversed(imported):
        while chain and chain[-1].depth >= module.depth:
            chain.pop()
        entry = not chain or chain[-1].package != module.package
        tally = totals.setdefault(module.package, [0, 0, 0])
        tally[0] += 1
        tally[1] += module.self_us
        tally[2] += module.cumulative_us if entry else 0
        chain.append(module)
    grouped = [PackageImports(name, *tally) for name, tally in totals.items()]
    return sorted(grouped, key=lambda found: found.cumulative_us, reverse=True)


@dataclass(frozen=True, slots=True)
class PackageMemory:
    """What tracemalloc found allocated on behalf of one top-level package."""

    package: str
    bytes: int
    blocks: int


@dataclass(frozen=True, slots=True)
class Traced:
    """The probe's report: all memory tracemalloc saw, the largest packages, and how many
    modules were loaded."""

    traced_bytes: int
    modules: int
    packages: list[PackageMemory]

    @classmethod
    def read(cls, path: Path) -> Traced:
        """The report the probe wrote to `path`."""
        body = json.loads(path.read_text())
        packages = [PackageMemory(**package) for package in body["packages"]]
        return cls(body["traced_bytes"], body["modules"], packages)
