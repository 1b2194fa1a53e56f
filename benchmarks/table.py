"""Printing benchmark results as an aligned text table."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[_format(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("   " + "  ".join(v.rjust(w) if i else v.ljust(w)
                                for i, (v, w) in enumerate(zip(row, widths, strict=True))))
        if index == 0:
            print("   " + "  ".join("-" * w for w in widths))


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return str(value)
