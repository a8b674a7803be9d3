"""The README's table of headline figures, printed from the committed calibration report.

The README's "How well it fits" opens with the figures a reader of the article looks for
first (the registers, reporting, the foreign-funded share, the activity shares), each
beside its posterior predictive median and 90% interval from
``calibration/report/coverage.csv``, which ``ngo-abm calibrate report`` writes. A new
committed posterior changes them; ``python -m experiments.readme_table`` prints the
table again in the README's format, and ``tests/test_readme_figures.py`` fails until the
README holds it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from calibration.compare import verdicts

from .markdown import cell, markdown_table

COVERAGE = Path(__file__).resolve().parents[1] / "calibration" / "report" / "coverage.csv"
# The figures the table shows, in its order, with their labels; the report has them all.
HEADLINE = {
    "kg_registered_2000": "Kyrgyz register, 2000",
    "kg_registered_2006": "Kyrgyz register, 2006",
    "kg_registered_2010": "Kyrgyz register, 2010",
    "kg_registered_2017": "Kyrgyz register, 2017",
    "kg_registered_today": "Kyrgyz register, today (2022-23)",
    "kg_reporting_today": "Kyrgyz NGOs filing reports, today (2022-23)",
    "kg_share_foreign_funded_2000_2010": "Kyrgyz funded NGOs financed by donors, 2000s",
    "kg_share_ecology_2011_2023": "Kyrgyz share of ecology NGOs, 2011-2023",
    "kg_operational_share_2016": "Kyrgyz operational share of the register, 2016",
    "kg_operational_share_2022": "Kyrgyz operational share of the register, 2022",
    "kz_registered_2020": "Kazakh register, 2020",
    "kz_registered_2023": "Kazakh register, April 2023",
    "kz_active_2020": "Kazakh active NGOs, 2020",
    "kz_active_2023": "Kazakh active NGOs, April 2023",
    "kz_filers_2022": "Kazakh NGOs filing to the state database, 2022",
    "uz_registered_1991": "Uzbek register, 1991",
    "uz_registered_2010_floor": "Uzbek register, 2010",
    "uz_share_state_founded_2020": "Uzbek share founded by the State, 2020",
}
_BOUND = re.compile(r"^(>=|<=)?([0-9.]+)$")


def reported(text: str) -> str:
    """Return a reported figure as the table prints it: a number (after its bound) as a cell."""
    found = _BOUND.match(str(text))
    if found is None:
        return str(text)
    return (found.group(1) or "") + cell(float(found.group(2)))


def headline_table(coverage: pd.DataFrame) -> str:
    """Return the README's table of headline figures from a report's ``coverage.csv`` rows."""
    rows = coverage.set_index("id").loc[list(HEADLINE)]
    frame = pd.DataFrame(
        {
            "figure": list(HEADLINE.values()),
            "reported": [reported(r) for r in rows.reported],
            "median": rows.model_median.to_numpy(),
            "90% interval": [
                f"{cell(a)} - {cell(b)}"
                for a, b in zip(rows.model_q05, rows.model_q95, strict=True)
            ],
            "error": [f"{e:+.1%}" for e in rows.rel_error],
            "tolerance": [f"{t:.0%}" for t in rows.tolerance],
            "within": verdicts(rows),
        }
    )
    return markdown_table(frame)


def main() -> int:
    """Print the table from the committed report."""
    print(headline_table(pd.read_csv(COVERAGE)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
