"""The one table `make bench` ends with: every goal's figure, its raw baseline from the same run,
the ratio and the verdict, read from the JSON lines the scripts wrote (benchmarks/_common.record)."""

import json
import sys


def number(value: float, unit: str) -> str:
    if unit in ("ms", "×", "%"):
        return f"{value:,.2f} {unit}" if unit != "×" else f"{value:.3f}"
    return f"{value:,.0f} {unit}"


def main(path: str) -> int:
    with open(path) as results:
        rows = [json.loads(line) for line in results if line.strip()]
    if not rows:
        print("no results recorded")
        return 1
    widths = (58, 16, 40, 16, 7, 16)
    header = ("figure", "measured", "raw baseline (same run)", "baseline", "ratio", "goal")
    print("\n" + "  ".join(f"{h:<{w}}" for h, w in zip(header, widths, strict=True)) + "  verdict")
    for row in rows:
        base = number(row["base"], row["unit"]) if row["base"] is not None else ""
        ratio = f"{row['value'] / row['base']:.3f}" if row["base"] else ""
        cells = (row["figure"], number(row["value"], row["unit"]), row["baseline"], base, ratio, row["goal"])
        print(
            "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)) + ("  met" if row["met"] else "  MISSED")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
