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
written by hand. An output missing, or lacking a row or column a table reads, is one line
naming its file and exit status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .age_hazards import CALIBRATED, CHANNELS, SHUT
from .density_hazards import FACTORS, QUANTITIES
from .markdown import markdown_table
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
# The age study's variants with one channel open, in the study's (and the table's) order.
ONE_CHANNEL = [f"only {name}" for name in CHANNELS]
# The density table leaves out the elasticity of losing any activity, which the CSV has.
DENSITY_QUANTITIES = list(QUANTITIES[:4])
AGE_COLUMNS = ["age (years)", "programmes", "all five shut", *ONE_CHANNEL]
AGE_COLUMNS += ["any activity", "NGO-years at risk"]
DENSITY_COLUMNS = ["country", "founding", "density", "hazard of losing programmes"]
DENSITY_COLUMNS += ["hazard of losing any activity", "elasticity (programmes)"]


def table_lines(columns: list[str], rows: list[list[str]]) -> list[str]:
    """A table's lines, header and separator first, as the project's reports write them."""
    return markdown_table(pd.DataFrame(rows, columns=columns)).split("\n")


AGE_HEADER = table_lines(AGE_COLUMNS, [])[0]
DENSITY_HEADER = table_lines(DENSITY_COLUMNS, [])[0]


class OutputError(Exception):
    """An output of ``make reproduce`` that is missing or lacks what a table reads."""


def is_share(row: pd.Series) -> bool:
    """Whether a row's output is a share, shown as a difference rather than relative."""
    return str(row.unit).startswith("share")


def effect_cell(row: pd.Series) -> str:
    """A paired difference and its 5-95% range: each run's over its baseline run, or as is."""
    if is_share(row):
        return f"{row.diff_median:+.3f} [{row.diff_q05:+.3f}, {row.diff_q95:+.3f}]"
    if pd.isna(row.rel_diff_median):
        return "n/a (a baseline run of 0)"
    cells = (row.rel_diff_median, row.rel_diff_q05, row.rel_diff_q95)
    return "{:+.0%} [{:+.0%}, {:+.0%}]".format(*cells)


def baseline_cell(row: pd.Series) -> str:
    """The baseline's median in the output's unit."""
    value = row.baseline_median
    if is_share(row):
        return f"{value:.3f}"
    if str(row.unit).endswith("US$"):
        return f"${value / 1e6:.1f} million"
    return f"{value:,.0f}"


def mechanism_table(summary: pd.DataFrame, columns: list[tuple[str, int]]) -> list[str]:
    """One country's mechanism table from its experiment's ``summary.csv``."""
    if "rel_diff_median" not in summary.columns:
        raise OutputError(
            "no rel_diff_* columns (a summary written before session 71): run its "
            "experiment again with ngo-abm experiment, which reuses its stored runs"
        )
    rows = summary.set_index(["counterfactual", "output", "year"])
    names = list(dict.fromkeys(summary.counterfactual))
    body = [[f"`{n}`", *(effect_cell(rows.loc[(n, o, y)]) for o, y in columns)] for n in names]
    body.append(
        ["baseline median", *(baseline_cell(rows.loc[(names[0], o, y)]) for o, y in columns)]
    )
    return table_lines(["switched off", *(f"{o} {y}" for o, y in columns)], body)


def ranged(row: pd.Series) -> str:
    """A median and its 5-95% range, to two decimals."""
    return f"{row['median']:.2f} [{row.q05:.2f}, {row.q95:.2f}]"


def age_table(hazards: pd.DataFrame) -> list[str]:
    """The age table, header first, from ``experiments.age_hazards``'s CSV."""
    relative = hazards[hazards.statistic == "relative"].set_index(["variant", "measure", "age"])
    at_risk = hazards[
        (hazards.variant == CALIBRATED)
        & (hazards.measure == "programmes")
        & (hazards.statistic == "hazard")
    ].set_index("age")
    body = []
    for age in dict.fromkeys(hazards.age):
        cells = [
            age,
            ranged(relative.loc[(CALIBRATED, "programmes", age)]),
            ranged(relative.loc[(SHUT, "programmes", age)]),
        ]
        cells += [f"{relative.loc[(v, 'programmes', age)]['median']:.2f}" for v in ONE_CHANNEL]
        cells += [ranged(relative.loc[(CALIBRATED, "activity", age)])]
        cells += [f"{at_risk.loc[age].ngo_years:,.0f}"]
        body.append(cells)
    return table_lines(AGE_COLUMNS, body)


def density_rows(hazards: pd.DataFrame, country: str) -> list[str]:
    """A country's two rows of the density table, founding halved and doubled."""
    table = hazards.set_index(["factor", "quantity"])
    rows = [
        [country.capitalize(), word, *(ranged(table.loc[(factor, q)]) for q in DENSITY_QUANTITIES)]
        for factor, word in zip(FACTORS, ("halved", "doubled"), strict=True)
    ]
    return table_lines(DENSITY_COLUMNS, rows)[2:]  # the rows, without header and separator


def read_table(path: Path, make: Callable[..., list[str]], *args: object) -> list[str]:
    """Read one output and make its table; what it lacks is an ``OutputError`` naming it."""
    try:
        return make(pd.read_csv(path), *args)
    except OutputError as error:
        raise OutputError(f"{path}: {error}") from None
    except FileNotFoundError:
        raise OutputError(f"{path}: missing (run make reproduce)") from None
    except OSError as error:
        raise OutputError(f"{path}: unreadable ({error.strerror})") from None
    except (KeyError, AttributeError, TypeError, ValueError) as error:
        # A row or column the table reads is absent, or a row is there twice.
        raise OutputError(f"{path}: not the study's table ({error!r})") from None


def doc_tables(out: Path) -> str:
    """Every table, each under the heading of its section of ``docs/experiments.md``.

    The document shows the Kyrgyz age table; the Kazakh and Uzbek ones are printed too,
    since its prose quotes their first and last bands.
    """
    if not out.is_dir():
        raise OutputError(f"{out}: not a folder of make reproduce's outputs")
    parts = ["## What each mechanism does"]
    for country, columns in MECHANISM_COLUMNS.items():
        path = out / "experiments" / f"{country}_mechanisms" / "summary.csv"
        parts += [f"{country.capitalize()}:", "\n".join(read_table(path, mechanism_table, columns))]
    parts += ["## The liability of newness"]
    for country in MECHANISM_COLUMNS:
        path = out / "age_hazards" / f"{country}.csv"
        parts += [f"{country.capitalize()}:", "\n".join(read_table(path, age_table))]
    density = table_lines(DENSITY_COLUMNS, [])
    for country in MECHANISM_COLUMNS:
        path = out / "density_hazards" / f"{country}.csv"
        density += read_table(path, density_rows, country)
    parts += ["## Density and mortality", "\n".join(density)]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the tables; an output missing or unreadable is one line naming it, exit 2."""
    parser = OneLineParser(prog="python -m experiments.doc_tables")
    parser.add_argument("out", nargs="?", type=Path, default=Path("out"))
    args = parser.parse_args(argv)
    try:
        text = doc_tables(args.out)
    except OutputError as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
