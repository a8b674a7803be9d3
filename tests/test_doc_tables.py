"""The tables of docs/experiments.md printed from make reproduce's outputs (experiments.doc_tables).

Small outputs written here stand for ``out/``: the cells are the document's format
(relative differences in per cent over the baseline's median, shares as differences,
the baseline in its unit), each cell reads its own variant, measure, statistic and
quantity, the tables' headers are the document's, and an output missing or lacking a
row is one line and exit status 2.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from experiments.doc_tables import (
    AGE_HEADER,
    DENSITY_HEADER,
    DENSITY_QUANTITIES,
    MECHANISM_COLUMNS,
    ONE_CHANNEL,
    age_table,
    density_rows,
    main,
    mechanism_table,
)

DOC = (Path(__file__).resolve().parents[1] / "docs" / "experiments.md").read_text()
UNITS = {"share_state_founded": "share (0-1)", "donor_budget_usd": "constant 2023 US$"}
VARIANTS = ["calibrated", "all five shut", *ONE_CHANNEL]
MEASURES = ["programmes", "activity"]


def summary(columns: list[tuple[str, int]]) -> pd.DataFrame:
    """Two counterfactuals, each output's baseline 2,000 (a share's 0.5, money $21.9 million)."""
    rows = []
    for name, diff in (("no-a", -500.0), ("no-b", 30.0)):
        for output, year in columns:
            unit = UNITS.get(output, "NGOs")
            share = unit.startswith("share")
            base = 0.5 if share else 2.19e7 if unit.endswith("US$") else 2000.0
            d = diff / 10_000 if share else diff
            rows.append(
                dict(
                    counterfactual=name,
                    output=output,
                    unit=unit,
                    year=year,
                    baseline_median=base,
                    diff_median=d,
                    diff_q05=2 * d,
                    diff_q95=d / 2,
                    # Each run's difference over its own baseline run (not the median's).
                    rel_diff_median=diff / 1000,
                    rel_diff_q05=diff / 800,
                    rel_diff_q95=diff / 2500,
                )
            )
    return pd.DataFrame(rows)


def age_hazards() -> pd.DataFrame:
    """Every variant, measure, statistic and band with a value of its own."""
    rows = []
    for v, variant in enumerate(VARIANTS):
        for m, measure in enumerate(MEASURES):
            for a, age in enumerate(("0", "13+")):
                for s, statistic in enumerate(("hazard", "relative")):
                    level = 1 + v / 10 + m / 100 + a / 1000 + s * 2
                    rows.append(
                        dict(
                            variant=variant,
                            measure=measure,
                            statistic=statistic,
                            age=age,
                            median=level,
                            q05=level - 0.5,
                            q95=level + 0.5,
                            ngo_years=1000 * (v + 1) + 100 * m + 10 * a + s,
                        )
                    )
    return pd.DataFrame(rows)


def density_hazards() -> pd.DataFrame:
    quantities = [*DENSITY_QUANTITIES, "activity_elasticity"]
    return pd.DataFrame(
        [
            dict(factor=f, quantity=q, median=f + i / 10, q05=f + i / 10 - 0.01, q95=f + i / 10)
            for f in (0.5, 2.0)
            for i, q in enumerate(quantities)
        ]
    )


def write_outputs(out: Path) -> None:
    """The three studies' outputs for the three countries, as make reproduce writes them."""
    for country, columns in MECHANISM_COLUMNS.items():
        folder = out / "experiments" / f"{country}_mechanisms"
        folder.mkdir(parents=True)
        summary(columns).to_csv(folder / "summary.csv", index=False)
        for study, table in (
            ("age_hazards", age_hazards()),
            ("density_hazards", density_hazards()),
        ):
            (out / study).mkdir(exist_ok=True)
            table.to_csv(out / study / f"{country}.csv", index=False)


def test_every_header_is_the_documents():
    for columns in MECHANISM_COLUMNS.values():
        header = mechanism_table(summary(columns), columns)[0]
        assert header + "\n" in DOC, header
    assert AGE_HEADER + "\n" in DOC
    assert DENSITY_HEADER + "\n" in DOC


def test_mechanism_cells_are_relative_to_each_baseline_run_and_shares_are_differences():
    columns = MECHANISM_COLUMNS["kazakhstan"]
    table = summary(columns)
    lines = mechanism_table(table, columns)
    assert lines[2] == (
        "| `no-a` | -50% [-62%, -20%] | -50% [-62%, -20%] | -50% [-62%, -20%] | "
        "-50% [-62%, -20%] | -50% [-62%, -20%] | -0.050 [-0.100, -0.025] |"
    )
    assert lines[3].startswith("| `no-b` | +3% [+4%, +1%] |")
    # A baseline run of 0 leaves a count's relative change undefined.
    table.loc[0, ["rel_diff_median", "rel_diff_q05", "rel_diff_q95"]] = float("nan")
    assert "| `no-a` | n/a (a baseline run of 0) |" in mechanism_table(table, columns)[2]
    assert lines[-1] == "| baseline median | 2,000 | 2,000 | 2,000 | 2,000 | 2,000 | 0.500 |"
    money = mechanism_table(
        summary(MECHANISM_COLUMNS["kyrgyzstan"]), MECHANISM_COLUMNS["kyrgyzstan"]
    )
    assert money[-1].endswith("| $21.9 million |")


def test_each_age_cell_reads_its_own_variant_measure_and_statistic():
    first = age_table(age_hazards())[2]
    # Relative hazards (statistic 1): 3 + variant / 10 + measure / 100 + band / 1000.
    calibrated, shut, *channels = (3.0, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6)
    assert first == (
        f"| 0 | {calibrated:.2f} [2.50, 3.50] | {shut:.2f} [2.60, 3.60] | "
        + " | ".join(f"{c:.2f}" for c in channels)
        + " | 3.01 [2.51, 3.51] | 1,000 |"
    )


def test_the_density_rows_are_halved_then_doubled_in_the_documents_order():
    halved, doubled = density_rows(density_hazards(), "kyrgyzstan")
    assert halved == (
        "| Kyrgyzstan | halved | 0.50 [0.49, 0.50] | 0.60 [0.59, 0.60] | "
        "0.70 [0.69, 0.70] | 0.80 [0.79, 0.80] |"
    )
    assert doubled.startswith("| Kyrgyzstan | doubled | 2.00 [1.99, 2.00] | 2.10 [2.09, 2.10] |")


def test_the_command_prints_every_table_from_the_outputs(tmp_path, capsys):
    write_outputs(tmp_path)
    assert main([str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for section in ("What each mechanism does", "The liability of newness", "Density and"):
        assert f"## {section}" in printed
    assert printed.count("| `no-a` |") == 3 and printed.count(AGE_HEADER) == 3
    assert printed.count("| halved |") == 3 and "| Uzbekistan | doubled |" in printed


@pytest.mark.parametrize(
    "damage", ["missing", "no row", "no relative columns", "a folder", "not a folder"]
)
def test_an_output_missing_or_lacking_a_row_is_one_line_and_exit_status_2(tmp_path, capsys, damage):
    write_outputs(tmp_path)
    path = tmp_path / "experiments" / "uzbekistan_mechanisms" / "summary.csv"
    if damage == "missing":
        path.unlink()
    elif damage == "no row":
        pd.read_csv(path).iloc[:-1].to_csv(path, index=False)
    elif damage == "no relative columns":
        pd.read_csv(path).filter(regex="^(?!rel_)").to_csv(path, index=False)
    elif damage == "a folder":
        path.unlink()
        path.mkdir()
    else:
        path = tmp_path / "a file"
        path.write_text("")
    assert main([str(path if damage == "not a folder" else tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err
    if damage == "no relative columns":
        assert "no rel_diff_* columns" in err
