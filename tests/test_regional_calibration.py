"""The regional calibration (``calibration.regional``) and its committed posterior."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from calibration.posterior import load_posterior
from calibration.priors import load_priors
from calibration.regional import (
    FITTED,
    REGIONAL_POSTERIOR,
    REGIONAL_PRIORS,
    RegionalDraw,
    draws_table,
    kept_draws,
    prior_draw,
    regional_draws,
    simulate_patterns,
    write_posterior,
)
from calibration.regional_patterns import PATTERNS
from calibration.targets import DEFAULT_TARGETS, load_target_file
from model.regional_scenario import REGIONAL_RANGES, load_region

REPO = Path(__file__).resolve().parents[1]
REGIONAL = REPO / "scenarios" / "central_asia.yaml"
DRAWS_CSV = REPO / "calibration" / "report" / "regional_draws.csv"


def regional_priors():
    return load_priors(REGIONAL_PRIORS, set(REGIONAL_RANGES))


def test_every_regional_parameter_has_a_prior_and_draws_stay_inside_it():
    priors = regional_priors()
    assert set(priors) == set(REGIONAL_RANGES)
    for index in range(20):
        draw = prior_draw(1, index)
        for name, spec in priors.items():
            assert spec.low <= draw[name] <= spec.high


def test_a_draw_depends_on_its_index_and_seed_only():
    assert prior_draw(4, 7) == prior_draw(4, 7)
    assert prior_draw(4, 7) != prior_draw(4, 8) and prior_draw(4, 7) != prior_draw(5, 7)
    few, many = regional_draws(2, 9), regional_draws(4, 9)
    assert [d.seed for d in few] == [d.seed for d in many[:2]]
    names = set(REGIONAL_RANGES)
    for a, b in zip(few, many, strict=False):
        assert {k: a.params[k] for k in names} == {k: b.params[k] for k in names}


def _table(flags: list[dict[str, bool]]) -> pd.DataFrame:
    draws = [RegionalDraw(i, {"tie_decay": 0.1 * (i + 1)}, 100 + i) for i in range(len(flags))]
    return draws_table(draws, flags)


def test_a_draw_is_kept_only_when_every_fitted_pattern_holds(tmp_path):
    every = {p.id: True for p in PATTERNS}
    one_missing = {**every, FITTED[0]: False}
    unfitted_missing = {**every, "ecology_education_lead": False}
    table = _table([every, one_missing, unfitted_missing])
    assert table.kept.tolist() == [True, False, True]
    kept = kept_draws(table)
    write_posterior(kept, tmp_path / "post.parquet")
    assert pd.read_parquet(tmp_path / "post.parquet").equals(kept)
    assert kept.columns.tolist() == ["tie_decay", "weight"]
    assert kept.tie_decay.tolist() == pytest.approx([0.1, 0.3])
    assert kept.weight.sum() == pytest.approx(1.0)


def test_no_kept_draw_is_refused():
    with pytest.raises(ValueError, match="no draw"):
        kept_draws(_table([{p.id: False for p in PATTERNS}]))


# The committed regional posterior --------------------------------------------------------


def test_the_regional_posterior_joins_country_posterior_rows_with_regional_draws():
    regional = load_posterior(REGIONAL_POSTERIOR)
    country = load_posterior()
    names = [c for c in country.columns if c != "weight"]
    assert len(regional) >= 100
    # Each kept draw's country part is a row of the committed country posterior, so a
    # recalibrated country posterior shows here until the regional layer is recalibrated.
    rows = {tuple(r) for r in country[names].itertuples(index=False)}
    assert all(tuple(r) in rows for r in regional[names].itertuples(index=False))
    for name, spec in regional_priors().items():
        assert regional[name].between(spec.low, spec.high).all()


def test_a_kept_draw_reproduces_its_patterns_when_run_again():
    draws = pd.read_csv(DRAWS_CSV)
    row = draws[draws.kept].iloc[0]
    params = {c: float(row[c]) for c in draws.columns if c not in {"draw", "seed", "kept"}}
    params = {k: v for k, v in params.items() if k not in {p.id for p in PATTERNS}}
    result = simulate_patterns((load_region(REGIONAL), RegionalDraw(0, params, int(row.seed))))
    assert result == {p.id: bool(row[p.id]) for p in PATTERNS}
    assert all(result[name] for name in FITTED)


def test_the_growth_pattern_keeps_draws_where_the_2000s_formed_more_ties_than_the_1990s():
    # Ties grow through the 2000s unless CASDIN's 700 bulletins a year (1996-2000) made many
    # ties and the regional donors' grantee meetings of the 2000s few: the rejected draws
    # have the higher bulletin rate and the lower grantee participation.
    draws = pd.read_csv(DRAWS_CSV)
    kept, rejected = draws[draws.kept], draws[~draws.kept]
    assert len(kept) >= 100 and len(rejected) >= 20
    assert kept.information_tie_rate.median() < rejected.information_tie_rate.median()
    assert kept.grantee_participation.median() > rejected.grantee_participation.median()


def test_the_country_check_runs_the_same_draws_in_the_region_and_alone(monkeypatch):
    import experiments.regional_calibration as report

    monkeypatch.setattr(report, "COUNTRY_CHECK_DRAWS", 2)
    posterior = load_posterior(REGIONAL_POSTERIOR)
    check = report.country_check(load_region(REGIONAL), posterior, seed=1, workers=1)
    check = check.set_index("id")
    assert len(check) == len(load_target_file(DEFAULT_TARGETS).targets)
    # Before any regional programme or regional donor money, both runs are one run.
    for early in ("kz_new_registrations_1989", "uz_registered_1991"):
        row = check.loc[early]
        assert row["region model_median"] == row["alone model_median"]
    lines = "\n".join(report.country_lines(check.reset_index()))
    assert "Targets within tolerance" in lines and "kz_registered_2023" in lines


def test_the_regional_posterior_was_computed_from_the_current_inputs():
    # A changed regional scenario, country scenario, regional prior or country posterior
    # needs `ngo-abm calibrate regional` again (docs/calibration.md, "The regional layer").
    import yaml

    from experiments.regional_calibration import provenance

    stored = yaml.safe_load(REGIONAL_POSTERIOR.with_suffix(".yaml").read_text(encoding="utf-8"))
    current = provenance(load_region(REGIONAL), stored["draws"], stored["seed"])
    assert stored["inputs_sha256"] == current["inputs_sha256"]
    assert stored["fitted"] == list(FITTED)


def test_a_counterfactual_with_fixed_parameters_is_not_calibrated(capsys):
    from cli.main import main

    keep = REPO / "scenarios" / "counterfactuals" / "regional"
    status = main(
        [
            "calibrate",
            "regional",
            "--draws",
            "2",
            "--region",
            str(keep / "ca_donors_keep_money_in_each_country.yaml"),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "fixed" in err
