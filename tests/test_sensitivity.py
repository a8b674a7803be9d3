"""Tests of the global sensitivity analysis (experiments/sensitivity.py, SALib).

Small real analyses on the Kyrgyz scenario with a posterior made in tmp_path. With common
random numbers across sample points, a parameter that cannot affect an output (reporting
rules before any state money, in 2010) gets an index of exactly zero, while the founding
response to money does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import experiments.sensitivity as sensitivity
from cli.main import main
from experiments.sensitivity import STATISTICS, noise_share, run_sensitivity, sampling_problem

ROOT = Path(__file__).resolve().parent.parent
KYRGYZSTAN = ROOT / "scenarios" / "kyrgyzstan.yaml"


@pytest.fixture
def posterior(tmp_path) -> Path:
    return write_posterior(tmp_path / "posterior.parquet")


def write_posterior(path: Path) -> Path:
    """Write a small posterior of three Kyrgyz parameters (and one Uzbek) to ``path``."""
    rng = np.random.default_rng(3)
    n = 20
    frame = pd.DataFrame(
        {
            "funding_rate": rng.uniform(20, 40, n),
            "report_enforcement": rng.uniform(0.2, 0.8, n),
            "kyrgyzstan.donor_budget_scale": rng.uniform(0.7, 1.3, n),
            "uzbekistan.donor_budget_scale": rng.uniform(0.7, 1.3, n),
            "weight": np.ones(n),
        }
    )
    frame.to_parquet(path)
    return path


def _index(table: pd.DataFrame, output: str, parameter: str, column: str) -> float:
    row = table[(table.output == output) & (table.parameter == parameter)]
    return float(row[column].iloc[0])


def test_morris_ranks_the_parameters_that_matter(tmp_path, posterior):
    table = run_sensitivity(
        method="morris",
        samples=2,
        replicates=1,
        scenario_path=KYRGYZSTAN,
        posterior=posterior,
        out=tmp_path,
        seed=5,
        emit=lambda _: None,
    )
    assert set(table.parameter) == {
        "funding_rate",
        "report_enforcement",
        "kyrgyzstan.donor_budget_scale",
    }
    assert _index(table, "registered_2010", "report_enforcement", "mu_star") == 0.0
    assert _index(table, "registered_2010", "funding_rate", "mu_star") > 0.0
    assert _index(table, "reporting_share_2023", "report_enforcement", "mu_star") > 0.0
    for suffix in (".csv", ".png", ".json", "_evaluations.csv"):
        assert (tmp_path / f"sensitivity_morris{suffix}").exists()


def test_sobol_from_the_command_line(tmp_path, posterior, capsys):
    argv = [
        "sensitivity", "--method", "sobol", "--samples", "4", "--replicates", "2",
        "--scenario", str(KYRGYZSTAN), "--posterior", str(posterior), "--out", str(tmp_path),
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "posterior 5%-95%" in printed and "replicate noise" in printed
    # Four base samples are said to be a smoke test (ST above 2 and S1 above ST read as results).
    assert "note: 4 base samples are fewer than the default 64: a smoke test" in printed
    table = pd.read_csv(tmp_path / "sensitivity_sobol.csv")
    assert len(table) == len(STATISTICS) * 3
    assert np.isfinite(table[["ST", "ST_conf", "S1", "S1_conf"]].to_numpy()).all()
    assert _index(table, "registered_2010", "report_enforcement", "ST") == 0.0
    assert _index(table, "registered_2010", "funding_rate", "ST") > 0.0
    evaluations = pd.read_csv(tmp_path / "sensitivity_sobol_evaluations.csv")
    assert len(evaluations) == 4 * (3 + 2)  # Saltelli: N (D + 2) points


def test_prior_ranges_without_a_posterior(tmp_path):
    problem, source = sampling_problem("kyrgyzstan", tmp_path / "missing.parquet")
    assert "prior ranges" in source and "no posterior" in source
    assert "kyrgyzstan.donor_budget_scale" in problem["names"]
    assert not [n for n in problem["names"] if n.startswith(("kazakhstan.", "uzbekistan."))]
    civic = problem["names"].index("civic_rate")
    assert problem["dists"][civic] == "logunif"


def test_noise_share_is_the_variance_of_the_replicate_means():
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 10, (400, 1, 1))
    noisy = signal + rng.normal(0, 1, (400, 4, 1))
    # Variance of a mean of 4 replicates with unit noise: 1/4; of the signal: about 100.
    # The tolerance is the sampling error of 400 such points (a few standard errors); the
    # exact arithmetic is the next test's.
    assert noise_share(noisy)[0] == pytest.approx(0.25 / 100, rel=0.3)
    assert np.isnan(noise_share(noisy[:, :1, :])[0])


def test_noise_share_by_hand():
    # Two points, two replicates: within-point variances 2 and 8 (ddof 1), their mean over
    # 2 replicates 2.5; the point means 1 and 12 vary by 60.5 (ddof 1).
    values = np.array([[[0.0], [2.0]], [[10.0], [14.0]]])
    assert noise_share(values)[0] == pytest.approx(2.5 / 60.5, rel=1e-12)


def test_sobol_needs_a_power_of_two(tmp_path, posterior, capsys):
    argv = [
        "sensitivity",
        "--samples",
        "6",
        "--posterior",
        str(posterior),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.endswith(
        "--samples: 6 given: Sobol sampling needs a power of 2 (e.g. 64)"
    )
    assert not (tmp_path / "o").exists()


def test_a_posterior_range_the_model_refuses_is_named_before_any_run(tmp_path, posterior, capsys):
    # the error came from a run, naming `params` instead of the posterior file
    bad = tmp_path / "bad.parquet"
    frame = pd.read_parquet(posterior)
    frame.loc[0:5, "report_enforcement"] = -3.0
    frame.to_parquet(bad)
    argv = ["sensitivity", "--method", "morris", "--samples", "2", "--posterior", str(bad)]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{bad}: " in err and "report_enforcement = -3" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["bogus_param", "ties_per_participant", "kazakhstan.bogus"])
def test_a_posterior_parameter_of_no_country_is_refused(name, tmp_path, posterior, capsys):
    # It was left out of the analysis unsaid (a run refuses it): a typo, or the regional
    # posterior given for a country's.
    bad = tmp_path / "bad.parquet"
    pd.read_parquet(posterior).assign(**{name: 1.0}).to_parquet(bad)
    argv = ["sensitivity", "--method", "morris", "--samples", "2", "--posterior", str(bad)]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == f"ngo-abm: error: {bad}: {name}: unknown parameter"
    assert not (tmp_path / "o").exists()


def test_a_parameter_without_spread_is_held_at_the_posteriors_value_and_checked(
    tmp_path, posterior, capsys, monkeypatch
):
    # It used to be left out without a word, so held at the scenario's value, unchecked.
    frame = pd.read_parquet(posterior)
    held = tmp_path / "held.parquet"
    frame.assign(report_enforcement=0.25).to_parquet(held)
    problem, source = sampling_problem("kyrgyzstan", held)
    assert "report_enforcement" not in problem["names"]
    assert "without spread in it, so held at its value: report_enforcement 0.25" in source
    out = tmp_path / "o"
    argv = ["sensitivity", "--method", "morris", "--samples", "2", "--replicates", "1"]
    run_with = []
    evaluate = sensitivity.evaluate
    monkeypatch.setattr(
        sensitivity,
        "evaluate",
        lambda scenario, *a, **k: run_with.append(scenario) or evaluate(scenario, *a, **k),
    )
    assert main([*argv, "--posterior", str(held), "--out", str(out)]) == 0
    capsys.readouterr()
    assert [s.behaviour.report_enforcement.value for s in run_with] == [0.25]
    bad = tmp_path / "bad.parquet"
    frame.assign(report_enforcement=-5.0).to_parquet(bad)
    assert main([*argv, "--posterior", str(bad), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{bad}: " in err and "report_enforcement = -5" in err
    assert not (tmp_path / "o2").exists()


def test_the_calibrated_parameters_a_posterior_lacks_are_named(posterior):
    problem, source = sampling_problem("kyrgyzstan", posterior)
    assert "held at the scenario's values: " in source and "civic_rate" in source
    assert "civic_rate" not in problem["names"]


def test_a_file_value_it_varies_or_a_year_it_lacks_is_refused(tmp_path, posterior, capsys):
    # Both ran or failed unclearly: the file's funding_rate was replaced without a word,
    # and a run ending in 2005 read "end_year: registered_2010 needs (2010, 2010)".
    behaviour = (ROOT / "scenarios" / "behaviour.yaml").read_text(encoding="utf-8")
    changed = tmp_path / "behaviour.yaml"
    changed.write_text(behaviour.replace("    value: 75\n", "    value: 99\n", 1), encoding="utf-8")
    assert changed.read_text(encoding="utf-8") != behaviour
    richer = tmp_path / "richer.yaml"
    richer.write_text(f"extends: {KYRGYZSTAN}\nbehaviour: {changed}\n", encoding="utf-8")
    short = tmp_path / "short.yaml"
    short.write_text(f"extends: {KYRGYZSTAN}\nend_year: 2005\n", encoding="utf-8")
    cases = (
        (richer, "behaviour.funding_rate: changed from kyrgyzstan.yaml, but every run takes it "
         "from the sensitivity analysis"),
        (short, "end_year: the analysis reads registered_2010 in 2010, outside the scenario's "
         "years (1991-2005)"),
    )  # fmt: skip
    for scenario, expected in cases:
        argv = ["sensitivity", "--method", "morris", "--samples", "2", "--replicates", "1"]
        argv += ["--scenario", str(scenario), "--posterior", str(posterior)]
        assert main([*argv, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and f"{scenario}: {expected}" in err, err
        assert not (tmp_path / "o").exists()


def test_the_figures_title_wraps_to_its_panels_and_names_the_posterior_by_its_name(
    tmp_path, posterior, monkeypatch
):
    # On one line, with the posterior's absolute path and every parameter held at the
    # scenario's values, the title made the PNG 5,041 px wide and its panels tiny.
    import json

    from PIL import Image

    from calibration.priors import load_priors

    titles, widths = [], []
    figure = sensitivity.ranking_figure

    def recorded(*args):
        fig = figure(*args)
        titles.append(fig.get_suptitle())
        widths.append(fig.get_figwidth())
        return fig

    monkeypatch.setattr(sensitivity, "ranking_figure", recorded)
    out = tmp_path / "o"
    run_sensitivity(
        method="morris", samples=2, replicates=1, scenario_path=KYRGYZSTAN,
        posterior=posterior, out=out, emit=lambda _: None,
    )  # fmt: skip
    (title,) = titles
    assert str(tmp_path) not in title and f"({posterior.name})" in title
    with Image.open(out / "sensitivity_morris.png") as png:
        assert png.width <= widths[0] * 150 * 1.02  # save_figure's 150 dpi
    # The title wraps the list; the set-up and the manifest keep it whole, with the path.
    held = [n for n in load_priors() if "." not in n and n not in pd.read_parquet(posterior)]
    assert len(held) > 20
    setup = json.loads((out / "sensitivity_morris.json").read_text(encoding="utf-8"))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert setup["ranges"] == manifest["ranges"]
    assert str(posterior) in setup["ranges"]
    assert all(name in setup["ranges"] for name in held)
    assert all(name in title.replace("\n", " ") for name in held)
