"""Terminal charts (plotext) for the CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import plotext as plt


def terminal_line_chart(
    series: Mapping[str, tuple[Sequence[datetime], Sequence[float]]],
    title: str = "",
    ylabel: str = "",
    width: int | None = None,
    height: int = 18,
    step: bool = True,
) -> str:
    """Draw one or more time series as a terminal line chart; returns the drawn text too."""
    plt.clear_figure()
    plt.theme("clear")
    plt.date_form("Y-m-d H:M")
    plt.plotsize(width or min(plt.terminal_width() or 100, 120), height)
    for name, (xs, ys) in series.items():
        dates = [x.strftime("%Y-%m-%d %H:%M") for x in xs]
        if step and len(dates) > 1:
            # draw each value as a flat segment over its event (step chart)
            sx, sy = [], []
            for i, (d, y) in enumerate(zip(dates, ys, strict=True)):
                sx.append(d)
                sy.append(y)
                if i + 1 < len(dates):
                    sx.append(dates[i + 1])
                    sy.append(y)
            plt.plot(sx, sy, label=name, marker="braille")
        else:
            plt.plot(dates, list(ys), label=name, marker="braille")
    plt.title(title)
    plt.ylabel(ylabel)
    text = plt.build()
    print(text)
    return text
