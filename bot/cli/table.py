"""Plain-text tables for the command line, safe to print whatever the database holds."""

from __future__ import annotations

from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """`header` and `rows` as left-aligned columns two spaces apart."""
    lines = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def cell(value: str | None) -> str:
    """`value` for a table: "-" when empty, and no control character to reach the terminal
    (values may have come from anyone typing in Slack)."""
    if value is None:
        return "-"
    return "".join(char if char.isprintable() else "?" for char in value) or "-"
