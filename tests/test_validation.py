"""``ngo-abm validate`` on a tiny estimator: its truths, draws, ranks and whole report.

The checks it computes, on made-up ranks, draws and runs: ``tests/test_validation_checks.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from cli_helpers import interrupt
from test_reliability import assert_one_line

import calibration.reference as reference
from calibration import amortised
from calibration.abc import HOLDOUT_LAST_YEAR
from calibration.amortised import estimator_path, features_of, fit, retrain, scores_of
from calibration.npe import FlowSpec
from calibration.priors import load_priors
from calibration.targets import load_targets
from calibration.truncation import log_density
from experiments import heldback_trainings, local_coverage, truth_draws, validation
from experiments.reference_table import build_table
from experiments.truth_draws import (
    PriorSampler,
    density_levels,
    parameter_ranks,
    posterior_draws,
    predictive_ranks,
)
from experiments.validation import truth_rows, validate
from model import ScenarioError

ESTIMATOR = estimator_path(holdout=False)
TINY = FlowSpec(layers=2, width=16, depth=1, ensemble=2, max_epochs=3, patience=2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 24-row reference table and an estimator trained on its first 12 rows.

    The table is built in this process: test_reference shows that a table is the same
    from one worker or two, and starting a pool costs more than the 24 rows.
    """
    folder = tmp_path_factory.mktemp("table")
    chunk = reference.CHUNK_ROWS
    reference.CHUNK_ROWS = 6
    try:
        build_table(folder, 24, seed=1, workers=1)
    finally:
        reference.CHUNK_ROWS = chunk
    estimator, _ = fit(12, folder=folder, spec=TINY)
    return folder, estimator


@pytest.fixture(scope="module")
def tiny_holdout(tiny):
    """A held-back estimator trained on the tiny table's first 12 rows."""
    folder, _ = tiny
    return fit(12, holdout=True, folder=folder, spec=TINY)[0]


def test_truths_are_rows_the_estimator_was_not_trained_on(tiny):
    folder, estimator = tiny
    truths = truth_rows(estimator, 12, folder)
    assert truths["row"].min() == 12 and len(truths) == 12
    ranks = parameter_ranks(estimator, posterior_draws(estimator, truths, 50, seed=1))
    assert ranks.shape == (12, len(load_priors())) and ranks.to_numpy().max() <= 50
    with pytest.raises(ScenarioError, match="25 needed"):
        truth_rows(estimator, 13, folder)


def small_validation(out, folder, estimator, holdout_estimator, truths: int):
    """Run ``validate`` with a few truths, draws and runs."""
    return validate(
        truths=truths,
        predictive_truths=4 if truths > 6 else 2,
        draws=40 if truths > 6 else 20,
        predictive_draws=4 if truths > 6 else 3,
        stability_draws=3,
        holdout_draws=3,
        trainings=2,
        training_draws=3,
        workers=1,
        out=out,
        estimator=estimator,
        table=folder,
        holdout_estimator=holdout_estimator,
    )


def test_validate_writes_every_table_and_figure(tiny, tiny_holdout, tmp_path):
    folder, estimator = tiny
    # One worker: its four batches of runs (predictive, held-back, two for stability) are
    # a few runs each, fewer than a pool's start-up costs; map_runs gives the same results
    # on a pool (test_experiment, test_reference, test_regional).
    path = small_validation(tmp_path, folder, estimator, tiny_holdout, truths=12)
    text = path.read_text()
    written = ("sbc.csv", "sbc.png", "predictive_coverage.csv", "heldback.csv", "heldback.png")
    assert "All parameters jointly" in text
    joint = pd.read_csv(tmp_path / "hpd_coverage.csv")
    assert len(joint) == 1 and joint[["coverage_50", "coverage_90"]].stack().between(0, 1).all()
    # What the stability columns hold is test_stability_gives_each_medians_*'s.
    stable = pd.read_csv(tmp_path / "stability.csv")
    assert list(stable.target) == [t.id for t in load_targets()]
    spread = pd.read_csv(tmp_path / "heldback_trainings.csv")
    assert {"seed_1", "seed_2", "logistic_error"} <= set(spread.columns)
    held = [t for t in load_targets() if t.last_year > HOLDOUT_LAST_YEAR]
    assert list(spread.target) == list(pd.read_csv(tmp_path / "heldback.csv").target)
    assert len(spread) == len(held)
    assert "The held-back posterior trained 2 times on the same rows" in text
    assert "The check's own reference: the same check with the prior" in text
    reference = pd.read_csv(tmp_path / "predictive_reference.csv")
    assert list(reference.quantity) == [t.id for t in load_targets()]
    for name in (*written, "predictive_coverage_marginals.csv", "predictive_reference.csv"):
        assert (tmp_path / name).exists(), name
    assert "## 1. Coverage on synthetic truths" in text and "## 4. Stability" in text
    assert "Dependence: the same truths, runs and seeds" in text
    sbc = pd.read_csv(tmp_path / "sbc.csv")
    assert len(sbc) == len(load_priors()) and sbc.coverage_90.between(0, 1).all()
    predictive = pd.read_csv(tmp_path / "predictive_coverage.csv")
    marginals = pd.read_csv(tmp_path / "predictive_coverage_marginals.csv")
    assert len(predictive) == len(marginals) == len(load_targets())
    assert list(predictive.quantity) == list(marginals.quantity)


def test_a_held_back_table_that_is_missing_stops_validate_before_its_checks(
    tiny, tiny_holdout, tmp_path
):
    # Its retrainings read their rows after the coverage checks had run and written their
    # files (most of the 22 minutes of a full validation).
    folder, estimator = tiny
    elsewhere = dataclasses.replace(tiny_holdout, table_key="0" * 16)
    with pytest.raises(ScenarioError, match="no reference table under the key 0000"):
        small_validation(tmp_path, folder, estimator, elsewhere, truths=6)
    assert list(tmp_path.iterdir()) == []


def test_a_validation_stopped_midway_leaves_no_earlier_report_over_its_files(
    tiny, tiny_holdout, tmp_path, monkeypatch
):
    folder, estimator = tiny
    (tmp_path / "validation.md").write_text("an earlier validation\n")

    monkeypatch.setattr(validation, "rank_figure", interrupt)
    with pytest.raises(KeyboardInterrupt):
        small_validation(tmp_path, folder, estimator, tiny_holdout, truths=6)
    assert (tmp_path / "sbc.csv").exists() and not (tmp_path / "validation.md").exists()


def test_validate_checks_an_emulated_posterior_on_truths_from_the_prior(
    tiny, tmp_path, monkeypatch
):
    # The emulated posterior's prior is the prior: its truths are the prior table's rows
    # after the emulator's, its joint check ranks by its own density, and its held-back
    # trainings train the emulator again.
    from calibration.amortised import estimator_tables, posterior_at_reported
    from calibration.emulated_posterior import EmulatedPosterior, SamplerSettings
    from calibration.emulation import emulated_posterior, fit_emulator
    from calibration.emulator import EmulatorSpec

    folder, estimator = tiny
    spec = EmulatorSpec(width=8, depth=1, epochs=3, batch_size=8, members=2)
    settings = SamplerSettings(particles=60, moves=2, final_moves=2)

    def emulated(trained, holdout):
        rows = pd.concat(estimator_tables(trained, folder, holdout=holdout), ignore_index=True)
        # Trained with seed 4: the trainings are keyed by the emulator's seed, not by
        # the figures' noise seed (the estimator's, 1).
        posterior = emulated_posterior(fit_emulator(trained, rows, 4, spec)[0], trained)
        return EmulatedPosterior(posterior.emulator, posterior.targets_, settings, trained.seed)

    held, _ = fit(12, holdout=True, folder=folder, spec=TINY)
    posterior = emulated(estimator, False)
    truths = validation.validation_truths(posterior, 12, folder)
    assert truths["row"].tolist() == list(range(12, 24))
    drawn = posterior_draws(posterior, truths.iloc[:3], 20, seed=1)
    levels = density_levels(posterior, drawn)
    own = [
        (
            posterior.log_posterior(drawn.z_post[:, i], drawn.features[i])
            > posterior.log_posterior(drawn.z_true[i : i + 1], drawn.features[i])[0]
        ).mean()
        for i in range(3)
    ]
    assert levels == pytest.approx(own)
    # The trainings' forecasts draw a few of each posterior at the figures, not 4,000.
    monkeypatch.setattr(
        heldback_trainings,
        "posterior_at_reported",
        lambda sampler: posterior_at_reported(sampler, n=60),
    )
    path = small_validation(tmp_path, folder, posterior, emulated(held, True), truths=6)
    text = path.read_text()
    assert "after the emulator's training rows are the truths" in text
    assert "The held-back posterior trained 2 times on the same rows" in text
    spread = pd.read_csv(tmp_path / "heldback_trainings.csv")
    assert {"seed_4", "seed_5"} <= set(spread.columns) and "seed_1" not in spread.columns
    assert list(pd.read_csv(tmp_path / "sbc.csv").quantity) == estimator.parameters


def test_a_refined_posterior_ranks_each_truth_by_its_own_corrected_density(tiny):
    # Each truth's draws come from the emulated posterior corrected by its own runs; the
    # joint check must rank the truth by that truth's corrected density, not another's.
    from calibration.amortised import estimator_tables
    from calibration.emulated_posterior import SamplerSettings
    from calibration.emulation import fit_emulator
    from calibration.emulator import EmulatorSpec
    from calibration.refined_posterior import RefinedPosterior

    folder, estimator = tiny
    rows = pd.concat(estimator_tables(estimator, folder), ignore_index=True)
    spec = EmulatorSpec(width=8, depth=1, epochs=3, batch_size=8, members=2)
    emulator = fit_emulator(estimator, rows, 4, spec)[0]
    stats = rows[estimator.targets].to_numpy()

    def simulate(z, seeds):
        # Runs that scatter around the rows' statistics, differently for each truth.
        return stats[seeds % len(stats)] * (1 + 0.1 * np.sin(seeds))[:, None]

    settings = SamplerSettings(particles=60, moves=2, final_moves=2)
    targets = amortised.estimator_targets(estimator)
    posterior = RefinedPosterior(emulator, targets, settings, 1, runs=20, simulate=simulate)
    truths = validation.validation_truths(posterior, 3, folder)
    drawn = posterior_draws(posterior, truths, 20, seed=1)
    assert len(drawn.corrections) == 3
    assert not np.array_equal(drawn.corrections[0].offset, drawn.corrections[1].offset)
    own = [
        (
            posterior.corrected([drawn.corrections[i]]).log_posterior(
                drawn.z_post[:, i], drawn.features[i]
            )
            > posterior.corrected([drawn.corrections[i]]).log_posterior(
                drawn.z_true[i : i + 1], drawn.features[i]
            )[0]
        ).mean()
        for i in range(3)
    ]
    assert density_levels(posterior, drawn) == pytest.approx(own)


def test_validate_without_a_table_stops_in_one_line(tmp_path):
    argv = ["validate", "--out", tmp_path / "report", "--table", tmp_path / "none"]
    if not ESTIMATOR.exists():
        assert_one_line(argv, "no posterior estimator")
        return
    assert_one_line(argv, f"{tmp_path / 'none'}: --table: not found", "make recalibrate")
    (tmp_path / "a_file").write_text("x")
    argv[-1] = tmp_path / "a_file"
    assert_one_line(argv, "--table: is a file, not a table folder")
    # the rows are read under the key the estimator recorded, and the message says so
    (tmp_path / "empty").mkdir()
    argv[-1] = tmp_path / "empty"
    assert_one_line(argv, "no rows under table key", "--rekey")


def test_shuffled_draws_run_on_the_joint_draws_seeds(tiny, monkeypatch):
    """The two predictive checks differ only by the shuffle: same truths, seeds, tie-breaks."""
    folder, estimator = tiny
    truths = truth_rows(estimator, 2, folder)
    joint, shuffled = predictive_ranks(estimator, truths, 4, 3, 1)
    assert not joint.equals(shuffled)
    (alone,) = predictive_ranks(estimator, truths, 4, 3, 1, marginals=False)
    pd.testing.assert_frame_equal(alone, joint)
    monkeypatch.setattr(truth_draws, "marginal_draws", lambda z, seed: z)
    again, unshuffled = predictive_ranks(estimator, truths, 4, 3, 1)
    pd.testing.assert_frame_equal(again, joint)
    pd.testing.assert_frame_equal(unshuffled, joint)


def test_the_prior_sampler_draws_the_prior_whatever_the_figures(tiny):
    """The reference's draws ignore the figures and are keyed by the seed alone."""
    _, estimator = tiny
    prior = PriorSampler.like(estimator)
    features = np.zeros((3, len(estimator.targets)))
    draws = prior.sample(features, 2000, seed=5)
    assert draws.shape == (2000, 3, len(estimator.parameters))
    np.testing.assert_array_equal(draws, prior.sample(features + 7.0, 2000, seed=5))
    assert not np.array_equal(draws, prior.sample(features, 2000, seed=6))
    assert not np.array_equal(draws[:, 0], draws[:, 1])  # each row its own draws
    one = prior.sample(features[0], 2000, seed=5)
    assert one.shape == (2000, len(estimator.parameters))
    # Standard normal scores: means within 4 standard errors of 0, variances near 1.
    assert np.abs(draws.mean(axis=0)).max() < 4 / np.sqrt(2000)
    assert np.abs(draws.var(axis=0) - 1).max() < 0.2


def test_the_reference_ranks_truths_from_the_prior_table(tiny, monkeypatch):
    """The reference's truths are the prior table's rows after training, with the prior.

    Even for an estimator trained on truncated rounds too, whose own truths would mix
    their rows in (``truth_rows``: here it would look for the round's table, which is not
    there).
    """
    folder, tiny_estimator = tiny
    estimator = dataclasses.replace(tiny_estimator, truncated=[("no-such-round", 3)])
    seen = {}

    def ranks(sampler, truths, draws, seed, workers, marginals=True):
        seen.update(sampler=sampler, rows=list(truths["row"]), marginals=marginals)
        return (pd.DataFrame(np.zeros((len(truths), 2), dtype=int), columns=["a", "b"]),)

    monkeypatch.setattr(validation, "predictive_ranks", ranks)
    table = validation.predictive_reference(estimator, 3, 9, 1, 1, folder)
    assert seen["rows"] == [12, 13, 14] and not seen["marginals"]
    assert isinstance(seen["sampler"], PriorSampler)
    assert seen["sampler"] == PriorSampler(
        list(estimator.parameters), list(estimator.targets), estimator.seed
    )
    assert list(table.quantity) == ["a", "b"]


def test_a_retraining_with_the_same_seed_is_the_estimator_again(tiny):
    """``retrain`` reads the very rows the estimator recorded: same seed, same flows."""
    folder, estimator = tiny
    again, _ = retrain(estimator, estimator.seed, folder)
    other, _ = retrain(estimator, estimator.seed + 1, folder)
    x = estimator.feature_mean[None, :]
    draws = estimator.sample(x, 20, 3)
    assert np.array_equal(again.sample(x, 20, 3), draws)
    assert not np.array_equal(other.sample(x, 20, 3), draws)
    assert (other.table_key, other.rows, other.targets, other.parameters) == (
        estimator.table_key,
        estimator.rows,
        estimator.targets,
        estimator.parameters,
    )


def test_a_retraining_reads_the_rows_under_the_key_the_estimator_recorded(tiny, monkeypatch):
    """After a change of the model's code (a new current key) the same rows are found."""
    folder, estimator = tiny
    monkeypatch.setattr(amortised, "table_key", lambda *args: "0" * 16)
    with pytest.raises(ScenarioError, match="no reference table"):
        fit(12, folder=folder, spec=TINY)
    again, _ = retrain(estimator, estimator.seed, folder)
    x = estimator.feature_mean[None, :]
    assert np.array_equal(again.sample(x, 20, 3), estimator.sample(x, 20, 3))


def test_each_truths_level_is_its_own_posteriors_share_of_denser_draws(tiny):
    # Computed again truth by truth: the draws of parameter_ranks (same seed), each truth's
    # density and its draws' under the estimator given that truth's own figures.
    folder, estimator = tiny
    truths = truth_rows(estimator, 6, folder)
    levels = density_levels(estimator, posterior_draws(estimator, truths, 30, seed=1))
    features = np.asarray(
        features_of(truths, amortised.estimator_targets(estimator), estimator.seed)
    )
    z_true = scores_of(truths, estimator.parameters)
    z_post = estimator.sample(features, 30, 1, iid=True)
    expected = []
    for i in range(len(truths)):
        truth = log_density(estimator, z_true[i : i + 1], features[i])[0]
        expected.append((log_density(estimator, z_post[:, i], features[i]) > truth).mean())
    assert levels == pytest.approx(expected)
    assert len(set(levels)) > 1  # the truths differ, so their levels do


def test_local_coverage_splits_the_validations_own_ranks(tiny):
    """The study ranks validate's truths as validate does, each statistic by its own feature."""
    folder, estimator = tiny
    bands, statistics, _ = local_coverage.study(4, 20, 2, 1, 1, estimator=estimator, table=folder)
    assert bands["check"].tolist() == ["parameters"] * 5 + ["predictions"] * 5
    assert bands["truths"].tolist() == [1, 1, 1, 1, 4] * 2
    truths = truth_rows(estimator, 4, folder)
    (ranks,) = predictive_ranks(estimator, truths, 2, 1, 1, marginals=False)
    features = features_of(truths, load_targets(), estimator.seed)
    for statistic in ("kg_registered_2010", "kz_registered_2023"):
        own = statistics[statistics["quantity"] == statistic].set_index("quarter")
        # each truth is its own quarter here: its coverage is whether its rank is inside
        nearest = np.argsort(np.abs(features[:, [t.id for t in load_targets()].index(statistic)]))
        inside = [(ranks[statistic][i] + 0.5) / 3 for i in nearest]
        expected = [float(0.25 < u < 0.75) for u in inside]
        assert own.loc[["1", "2", "3", "4"], "coverage_50"].tolist() == expected
