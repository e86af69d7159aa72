"""One row per drill: what was tried, what held, what was lost (must be nothing); one table at the end."""

import dataclasses
import shutil
import textwrap


@dataclasses.dataclass
class Row:
    drill: str
    tried: str
    held: str
    lost: list[str]  # what went wrong, each a short sentence; the drill passed when it is empty

    @property
    def ok(self) -> bool:
        return not self.lost


def table(rows: list[Row]) -> str:
    """A plain-text table, wrapped to the terminal (or 160 columns)."""
    width = max(120, shutil.get_terminal_size((160, 24)).columns)
    free = width - 24 - 4 - 5 * 3
    widths = [24, free * 3 // 10, free * 3 // 10, free - 2 * (free * 3 // 10), 4]
    header = ["drill", "tried", "held", "lost", "ok"]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, _cells(header, widths), line.replace("-", "=")]
    for row in rows:
        cells = [row.drill, row.tried, row.held, "; ".join(row.lost) or "nothing", "PASS" if row.ok else "FAIL"]
        out += [_cells(cells, widths), line]
    return "\n".join(out)


def _cells(values: list[str], widths: list[int]) -> str:
    wrapped = [textwrap.wrap(value, w) or [""] for value, w in zip(values, widths, strict=True)]
    lines = []
    for index in range(max(map(len, wrapped))):
        parts = [(cell[index] if index < len(cell) else "").ljust(w) for cell, w in zip(wrapped, widths, strict=True)]
        lines.append("| " + " | ".join(parts) + " |")
    return "\n".join(lines)
