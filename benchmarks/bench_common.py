"""What the benchmark scripts share: the row every one of them reports, and its formatting.

A row is one measured figure next to the floor (or peer) it is judged against, measured in the
same run, the ratio of the two and the target that ratio must meet. ``benchmarks/bench_report.py``
collects the rows of every benchmark into one table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    """One line of the report. ``ok`` is None for a figure shown for information only."""

    section: str
    name: str
    ours: str
    floor: str
    ratio: float | None = None
    target: str = ""
    ok: bool | None = None

    @property
    def result(self) -> str:
        return "info" if self.ok is None else ("pass" if self.ok else "MISS")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        return cls(**data)


def compare(
    section: str,
    name: str,
    ours: float,
    floor: float,
    fmt: Any,
    *,
    at_most: float | None = None,
    at_least: float | None = None,
    floor_label: str = "",
    ratio: float | None = None,
) -> Row:
    """A row whose ratio is ``ours / floor`` (or ``ratio`` when given, e.g. the median of
    ratios measured round by round), judged (rounded to two decimals, as printed) against
    ``at_most`` or ``at_least``, or neither: information only. ``fmt`` turns a figure into
    text."""
    if ratio is None:
        ratio = ours / floor if floor else float("inf")
    ok: bool | None = None
    target = ""
    shown = round(ratio, 2)  # judged as printed: "1.30x" meets "<= 1.3x"
    if at_most is not None:
        ok, target = shown <= at_most, f"<= {at_most:g}x"
    elif at_least is not None:
        ok, target = shown >= at_least, f">= {at_least:g}x"
    shown_floor = fmt(floor) + (f" ({floor_label})" if floor_label else "")
    return Row(section, name, fmt(ours), shown_floor, ratio, target, ok)


def fmt_us(value: float) -> str:
    """Microseconds as text, switching to milliseconds and seconds where they read better."""
    if value >= 1e6:
        return f"{value / 1e6:.2f} s"
    if value >= 1e5:
        return f"{value / 1000:.1f} ms"
    if value >= 1000:
        return f"{value / 1000:.2f} ms"
    return f"{value:.1f} µs"


def fmt_ms(value: float) -> str:
    return fmt_us(value * 1000)


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2g}x" if ratio < 0.1 else f"{ratio:.2f}x"


HEADER = ("section", "measurement", "ours", "floor / peer", "ratio", "target", "result")


def cells(row: Row) -> tuple[str, ...]:
    return (
        row.section, row.name, row.ours, row.floor, fmt_ratio(row.ratio), row.target or "-",
        row.result,
    )  # fmt: skip


def render(rows: list[Row], markdown: bool = False) -> str:
    """The rows as one table: aligned plain text, or a Markdown table."""
    body = [cells(row) for row in rows]
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in body]
        return "\n".join(lines)
    # Plain text: one block per section, under its name, the columns aligned across blocks.
    header = HEADER[1:]
    body = [values[1:] for values in body]
    widths = [max(len(values[i]) for values in [header, *body]) for i in range(len(header))]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    section = None
    for row, values in zip(rows, body):
        if row.section != section:
            section = row.section
            out.append(f"[{section}]")
        out.append(line(values))
    return "\n".join(out)
