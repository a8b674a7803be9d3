"""Matplotlib figures as PNG bytes, for the dashboard's views (``solara.Image``)."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt

CHART_DPI = 80


def figure_png(fig, dpi: int = CHART_DPI) -> bytes:
    """Return a figure as PNG bytes and close it."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buffer.getvalue()
