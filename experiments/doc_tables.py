"""The tables of ``docs/experiments.md``, printed from the outputs of ``make reproduce``.

``docs/experiments.md`` quotes three studies of the committed posterior's runs: each
country's mechanisms switched off in turn ("What each mechanism does",
``experiments/<country>_mechanisms.yaml``), the hazards of losing programmes by age ("The
liability of newness", ``experiments.age_hazards``) and at other densities ("Density and
mortality", ``experiments.density_hazards``). ``make reproduce`` writes their outputs into
``out/``; a new committed posterior changes them, and this module prints the tables again
in the document's own format, so that adopting a calibration does not retype them
(``docs/calibration.md``, "Adopting a calibration"). Run
``python -m experiments.doc_tables [OUT]``; the prose around the tables is still read and
written by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from .options import OneLineParser

# The outputs and key years each country's mechanism table shows, as in the document.
MECHANISM_COLUMNS = {
    "kyrgyzstan": [
        ("registered", 2010),
        ("registered", 2023),
        ("operational", 2023),
        ("funded", 2023),
        ("reporting", 2023),
        ("donor_budget_usd", 2010),
    ],
    "kazakhstan": [
        ("registered", 2016),
        ("registered", 2023),
        ("operational", 2023),
        ("funded", 2023),
        ("reporting", 2023),
        ("share_state_founded", 2023),
    ],
    "uzbekistan": [
        ("registered", 2005),
        ("registered", 2010),
        ("registered", 2023),
        ("operational", 2023),
        ("funded", 2023),
        ("share_state_founded", 2023),
    ],
}
# The channels of the age study, in the table's order (``experiments.age_hazards``).
ONE_CHANNEL = [
    "only capacity learning",
    "only funders' weight on capacity",
    "only capacity decay",
    "only reserves",
    "only one-project NGOs",
]
DENSITY_QUANTITIES = ["density", "programmes_hazard", "activity_hazard", "programmes_elasticity"]


def is_share(output: str) -> bool:
    """Whether an output is a share, shown as a difference rather than relative to its base."""
    return output.startswith("share")


def effect_cell(row: pd.Series, output: str) -> str:
    """A paired difference and its 5-95% range: over the baseline's median, or as is."""
    if is_share(output):
        return f"{row.diff_median:+.3f} [{row.diff_q05:+.3f}, {row.diff_q95:+.3f}]"
    base = row.baseline_median
    return f"{row.diff_median / base:+.0%} [{row.diff_q05 / base:+.0%}, {row.diff_q95 / base:+.0%}]"


def baseline_cell(value: float, output: str) -> str:
    """The baseline's median in the output's unit."""
    if is_share(output):
        return f"{value:.3f}"
    if output == "donor_budget_usd":
        return f"${value / 1e6:.1f} million"
    return f"{value:,.0f}"


def mechanism_table(summary: pd.DataFrame, columns: list[tuple[str, int]]) -> list[str]:
    """One country's mechanism table from its experiment's ``summary.csv``."""
    rows = summary.set_index(["counterfactual", "output", "year"])
    names = list(dict.fromkeys(summary.counterfactual))
    lines = [
        "| switched off | " + " | ".join(f"{o} {y}" for o, y in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name in names:
        cells = [effect_cell(rows.loc[(name, o, y)], o) for o, y in columns]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    first = [baseline_cell(rows.loc[(names[0], o, y)].baseline_median, o) for o, y in columns]
    lines.append("| baseline median | " + " | ".join(first) + " |")
    return lines


def ranged(row: pd.Series) -> str:
    """A median and its 5-95% range, to two decimals."""
    return f"{row['median']:.2f} [{row.q05:.2f}, {row.q95:.2f}]"


def age_table(hazards: pd.DataFrame) -> list[str]:
    """The rows of the age table from ``experiments.age_hazards``'s CSV."""
    relative = hazards[hazards.statistic == "relative"].set_index(["variant", "measure", "age"])
    at_risk = hazards[
        (hazards.variant == "calibrated")
        & (hazards.measure == "programmes")
        & (hazards.statistic == "hazard")
    ].set_index("age")
    lines = []
    for age in dict.fromkeys(hazards.age):
        cells = [
            ranged(relative.loc[("calibrated", "programmes", age)]),
            ranged(relative.loc[("all five shut", "programmes", age)]),
        ]
        cells += [f"{relative.loc[(v, 'programmes', age)]['median']:.2f}" for v in ONE_CHANNEL]
        cells += [ranged(relative.loc[("calibrated", "activity", age)])]
        cells += [f"{at_risk.loc[age].ngo_years:,.0f}"]
        lines.append(f"| {age} | " + " | ".join(cells) + " |")
    return lines


def density_rows(country: str, hazards: pd.DataFrame) -> list[str]:
    """A country's two rows of the density table, founding halved and doubled."""
    table = hazards.set_index(["factor", "quantity"])
    lines = []
    for factor, word in ((0.5, "halved"), (2.0, "doubled")):
        cells = [ranged(table.loc[(factor, q)]) for q in DENSITY_QUANTITIES]
        lines.append(f"| {country.capitalize()} | {word} | " + " | ".join(cells) + " |")
    return lines


def doc_tables(out: Path) -> str:
    """Every table, each under the heading of its section of ``docs/experiments.md``."""
    parts = ["## What each mechanism does"]
    for country, columns in MECHANISM_COLUMNS.items():
        summary = pd.read_csv(out / "experiments" / f"{country}_mechanisms" / "summary.csv")
        parts += [f"{country.capitalize()}:", "\n".join(mechanism_table(summary, columns))]
    parts += ["## The liability of newness"]
    for country in MECHANISM_COLUMNS:
        hazards = pd.read_csv(out / "age_hazards" / f"{country}.csv")
        parts += [f"{country.capitalize()}:", "\n".join(age_table(hazards))]
    density = []
    for country in MECHANISM_COLUMNS:
        density += density_rows(country, pd.read_csv(out / "density_hazards" / f"{country}.csv"))
    parts += ["## Density and mortality", "\n".join(density)]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the tables; a missing output is one line naming it, exit status 2."""
    parser = OneLineParser(prog="python -m experiments.doc_tables")
    parser.add_argument("out", nargs="?", type=Path, default=Path("out"))
    args = parser.parse_args(argv)
    try:
        text = doc_tables(args.out)
    except FileNotFoundError as error:
        print(f"{parser.prog}: {error.filename}: missing (run make reproduce)", file=sys.stderr)
        return 2
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
