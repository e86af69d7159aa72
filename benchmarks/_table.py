"""The one table `make bench` ends with: every goal's figure, its raw baseline from the same run,
the ratio and the verdict, read from the JSON lines the scripts wrote (benchmarks/_common.record),
then the notes that explain them (benchmarks/_common.note: the hot path's profile)."""

import json
import sys


def number(value: float, unit: str) -> str:
    if unit in ("ms", "×", "%"):
        return f"{value:,.2f} {unit}" if unit != "×" else f"{value:.3f}"
    return f"{value:,.0f} {unit}"


def main(path: str) -> int:
    with open(path) as results:
        lines = [json.loads(line) for line in results if line.strip()]
    rows = [line for line in lines if "note" not in line]
    notes = [line["note"] for line in lines if "note" in line]
    if not rows:
        print("no results recorded")
        return 1
    header = ("figure", "measured", "raw baseline (same run)", "baseline", "ratio", "goal", "verdict")
    lines = [header]
    for row in rows:
        base = number(row["base"], row.get("base_unit", row["unit"])) if row["base"] is not None else ""
        ratio = f"{row['value'] / row['base']:.3f}" if row["base"] else ""
        verdict = "met" if row["met"] else "MISSED"
        lines.append(
            (row["figure"], number(row["value"], row["unit"]), row["baseline"], base, ratio, row["goal"], verdict)
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    print()
    for line in lines:
        print("  ".join(f"{cell:<{width}}" for cell, width in zip(line, widths, strict=True)).rstrip())
    if notes:
        print()
        print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
