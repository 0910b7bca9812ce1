"""Reports as pictures and files: a PNG chart and a CSV of the same rows (core.ops.reports).

Drawing lives in handlers, beside the words it puts on the picture (titles and legends are
translated before drawing). It uses matplotlib's object API with the Agg backend (no pyplot, no
global figure state, so it is safe in a worker thread) and runs through ``asyncio.to_thread``:
a year of data takes tens of milliseconds to draw, which the event loop never waits for.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import defaultdict
from datetime import date
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from core.money.amounts import to_decimal  # noqa: E402
from core.money.assets import ASSETS  # noqa: E402
from core.ops.reports import Report  # noqa: E402

WIDTH, HEIGHT, DPI = 9.0, 5.0, 100  # inches and dots per inch: a 900 x 500 (per panel) picture


def coins(amount: int, asset: str) -> float:
    """Minor units as coin units, for drawing only (never for money): 150000 BTC sats -> 0.0015."""
    return float(to_decimal(amount, ASSETS[asset])) if asset in ASSETS else float(amount)


def _panels(report: Report) -> dict[str, dict[str, dict[str, float]]]:
    """asset -> series -> day -> value, for reports with (day, series, asset, amount) rows."""
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for day, series, asset, amount in report.rows:
        out[asset][series][day] = coins(int(amount), asset)
    return out


def draw(report: Report, title: str, labels: dict[str, str], empty: str) -> bytes:
    """The report as a PNG. ``labels`` translates series names; ``empty`` is shown when there are no rows."""
    if report.kind in ("earnings", "house"):
        panels = _panels(report)
        fig = Figure(figsize=(WIDTH, max(HEIGHT, 3.5 * len(panels) + 1)), dpi=DPI)
        axes = [fig.add_subplot(max(1, len(panels)), 1, i + 1) for i in range(max(1, len(panels)))]
        for ax, (asset, series) in zip(axes, sorted(panels.items()), strict=False):
            for name, points in sorted(series.items()):
                days = sorted(points)
                xs: list[Any] = [date.fromisoformat(d) for d in days]
                ax.plot(
                    xs,
                    [points[d] for d in days],
                    marker="o" if len(xs) < 40 else None,
                    label=labels.get(name, name),
                )
            ax.set_ylabel(asset)
            ax.legend(loc="upper left", fontsize="small")
            ax.grid(alpha=0.3)
            if report.kind == "house":
                ax.axhline(0, color="black", linewidth=0.8)
    elif report.kind == "users":
        fig = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
        ax = fig.add_subplot(1, 1, 1)
        axes = [ax]
        if report.rows:
            when: list[Any] = [date.fromisoformat(r[0]) for r in report.rows]
            ax.plot(when, [r[1] for r in report.rows], label=labels.get("new", "new"))
            ax.plot(when, [r[2] for r in report.rows], label=labels.get("active", "active"))
            ax.legend(loc="upper left", fontsize="small")
            ax.grid(alpha=0.3)
    else:  # liabilities: one pair of bars per coin, in percent of what is owed (coins differ in size)
        fig = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
        ax = fig.add_subplot(1, 1, 1)
        axes = [ax]
        if report.rows:
            names = [r[0] for r in report.rows]
            owed = [100.0 if r[1] else 0.0 for r in report.rows]
            held = [(r[4] * 100.0 / r[1]) if r[1] else 100.0 for r in report.rows]
            at = list(range(len(names)))
            ax.bar([x - 0.2 for x in at], owed, width=0.4, label=labels.get("liabilities", "liabilities"))
            ax.bar([x + 0.2 for x in at], held, width=0.4, label=labels.get("reserves", "reserves"))
            ax.set_xticks(at, names)
            ax.set_ylabel("%")
            ax.legend(loc="upper left", fontsize="small")
    if not report.rows:
        axes[0].text(0.5, 0.5, empty, ha="center", va="center", transform=axes[0].transAxes, fontsize=14)
        axes[0].set_xticks([])
        axes[0].set_yticks([])
    fig.suptitle(title)
    if report.kind != "liabilities" and report.rows:
        fig.autofmt_xdate()
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()


async def render(report: Report, title: str, labels: dict[str, str], empty: str) -> bytes:
    """``draw`` in a worker thread: the event loop keeps serving updates meanwhile."""
    return await asyncio.to_thread(draw, report, title, labels, empty)


def to_csv(report: Report) -> bytes:
    """The report's rows as CSV, a header first; amounts in minor units, as the rows hold them."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(report.columns)
    writer.writerows(report.rows)
    return buf.getvalue().encode()
