"""The tables of docs/experiments.md printed from make reproduce's outputs (experiments.doc_tables).

Small outputs written here stand for ``out/``: the cells are the document's format
(relative differences in per cent over the baseline's median, shares as differences,
the baseline in its unit), the tables' headers are the document's, and a missing
output is one line and exit status 2.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.doc_tables import (
    DENSITY_QUANTITIES,
    MECHANISM_COLUMNS,
    ONE_CHANNEL,
    age_table,
    density_rows,
    main,
    mechanism_table,
)

DOC = (Path(__file__).resolve().parents[1] / "docs" / "experiments.md").read_text()


def summary(columns: list[tuple[str, int]]) -> pd.DataFrame:
    """Two counterfactuals, each output's baseline 2,000 (a share's 0.5, money $21.9 million)."""
    rows = []
    for name, diff in (("no-a", -500.0), ("no-b", 30.0)):
        for output, year in columns:
            share = output.startswith("share")
            base = 0.5 if share else 2.19e7 if output == "donor_budget_usd" else 2000.0
            d = diff / 10_000 if share else diff
            rows.append(
                dict(
                    counterfactual=name,
                    output=output,
                    year=year,
                    baseline_median=base,
                    diff_median=d,
                    diff_q05=2 * d,
                    diff_q95=d / 2,
                )
            )
    return pd.DataFrame(rows)


def test_each_mechanism_header_is_the_documents():
    for columns in MECHANISM_COLUMNS.values():
        header = mechanism_table(summary(columns), columns)[0]
        assert header + "\n" in DOC, header


def test_mechanism_cells_are_relative_to_the_baseline_and_shares_are_differences():
    columns = MECHANISM_COLUMNS["kazakhstan"]
    lines = mechanism_table(summary(columns), columns)
    assert lines[2] == (
        "| `no-a` | -25% [-50%, -12%] | -25% [-50%, -12%] | -25% [-50%, -12%] | "
        "-25% [-50%, -12%] | -25% [-50%, -12%] | -0.050 [-0.100, -0.025] |"
    )
    assert lines[3].startswith("| `no-b` | +2% [+3%, +1%] |")
    assert lines[-1] == "| baseline median | 2,000 | 2,000 | 2,000 | 2,000 | 2,000 | 0.500 |"
    money = mechanism_table(
        summary(MECHANISM_COLUMNS["kyrgyzstan"]), MECHANISM_COLUMNS["kyrgyzstan"]
    )
    assert money[-1].endswith("| $21.9 million |")


def test_the_age_table_gives_each_band_its_ranges_channels_and_ngo_years():
    rows = []
    for variant in ("calibrated", "all five shut", *ONE_CHANNEL):
        for measure in ("programmes", "activity"):
            for age, level in (("0", 1.5), ("13+", 0.4)):
                for statistic in ("hazard", "relative"):
                    rows.append(
                        dict(
                            variant=variant,
                            measure=measure,
                            statistic=statistic,
                            age=age,
                            median=level,
                            q05=level - 0.1,
                            q95=level + 0.1,
                            ngo_years=12345,
                        )
                    )
    lines = age_table(pd.DataFrame(rows))
    assert lines == [
        "| 0 | 1.50 [1.40, 1.60] | 1.50 [1.40, 1.60] | 1.50 | 1.50 | 1.50 | 1.50 | 1.50 "
        "| 1.50 [1.40, 1.60] | 12,345 |",
        "| 13+ | 0.40 [0.30, 0.50] | 0.40 [0.30, 0.50] | 0.40 | 0.40 | 0.40 | 0.40 | 0.40 "
        "| 0.40 [0.30, 0.50] | 12,345 |",
    ]


def test_the_density_rows_are_halved_then_doubled():
    rows = [
        dict(factor=f, quantity=q, median=f, q05=f / 2, q95=f * 2)
        for f in (0.5, 2.0)
        for q in DENSITY_QUANTITIES
    ]
    halved, doubled = density_rows("kyrgyzstan", pd.DataFrame(rows))
    assert halved == "| Kyrgyzstan | halved | " + " | ".join(["0.50 [0.25, 1.00]"] * 4) + " |"
    assert doubled.startswith("| Kyrgyzstan | doubled | 2.00 [1.00, 4.00] |")


def test_a_missing_output_is_one_line_and_exit_status_2(tmp_path, capsys):
    assert main([str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "summary.csv: missing (run make reproduce)" in err
