"""Tables in Markdown, as the reports write them (calibration, validation, regional)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from calibration.compare import UNDEFINED


def markdown_table(frame: pd.DataFrame) -> str:
    """Return a frame as a Markdown table."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(cell(row[c]) for c in cols) + " |")
    return "\n".join(lines)


def cell(x) -> str:
    """Return a cell: from 100 a whole number with separators, below it 3 figures."""
    if isinstance(x, float):
        if not np.isfinite(x):
            return UNDEFINED
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
    return str(x)
