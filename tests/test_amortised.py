"""The amortised calibration: observation model, flows, and the exported posterior."""

from __future__ import annotations

import json
import platform
from importlib import metadata

import numpy as np
import pytest
import yaml

from calibration.amortised import export, fit
from calibration.compare import tolerance_scales
from calibration.npe import TRAINING_LIBRARIES, FlowSpec, load, save, train
from calibration.observation import observe, observed, signed_errors
from calibration.posterior import effective_sample_size, load_posterior
from calibration.targets import load_targets
from calibration.versions import installed_versions
from experiments.reference_table import build_table

TARGETS = {t.id: t for t in load_targets()}
TINY = FlowSpec(layers=2, width=16, depth=1, ensemble=2, max_epochs=3, patience=2)


def test_errors_are_zero_inside_the_reported_interval_and_signed_outside():
    floor = TARGETS["uz_registered_2010_floor"]  # at least 5,100, tolerance 2%
    below, _ = tolerance_scales(floor)
    assert below == pytest.approx(0.02 * 5100)
    values = np.array([6000.0, 5100.0, 5100.0 - below, np.nan])
    assert signed_errors(floor, values).tolist() == [0.0, 0.0, -1.0, 1000.0]
    point = TARGETS["kg_registered_2010"]
    assert signed_errors(point, np.array([18341.0 * 1.05]))[0] == pytest.approx(1.0)
    # A trend is read with the tolerance of a ratio of two levels (docs/targets.md).
    growth = TARGETS["kz_registered_growth_2000_2010"]
    assert tolerance_scales(growth) == pytest.approx((0.14, 0.14))
    # A bound with no tolerance would be nearly hard: a thousandth of its value is one unit.
    assert tolerance_scales(growth.model_copy(update={"tolerance": 0.0})) == (1e-3, 1e-3)
    assert observed(list(TARGETS.values())).tolist() == [0.0] * len(TARGETS)


def test_a_point_figure_is_the_statistic_plus_noise_of_one_tolerance():
    point = TARGETS["kg_registered_2010"]
    stats = np.full((20_000, 1), 18341.0)
    errors = np.sinh(observe([point], stats, np.random.default_rng(0))[:, 0])
    assert errors.mean() == pytest.approx(0.0, abs=0.03)
    assert errors.std() == pytest.approx(1.0, abs=0.03)


def test_flows_recover_a_known_posterior_and_round_trip(tmp_path):
    """Gaussian prior and noise: the posterior is known in closed form."""
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4000, 2))
    x = z + 0.5 * rng.standard_normal(z.shape)
    spec = FlowSpec(layers=2, width=32, depth=1, ensemble=1, max_epochs=60, patience=8)
    flows, mean, sd, _ = train(z, x, spec, seed=2)
    from calibration.npe import Estimator

    est = Estimator(flows, spec, ["a", "b"], ["x", "y"], mean, sd, "key", 4000, 2)
    draws = est.sample(np.array([1.0, -1.0]), 4000, seed=3)
    # Posterior mean x / 1.25, standard deviation sqrt(0.25 / 1.25).
    assert draws.mean(axis=0) == pytest.approx([0.8, -0.8], abs=0.1)
    assert draws.std(axis=0) == pytest.approx([0.447, 0.447], abs=0.08)
    save(est, tmp_path / "toy.eqx")
    again = load(tmp_path / "toy.eqx")
    np.testing.assert_array_equal(
        again.sample(np.array([1.0, -1.0]), 50, 4), est.sample(np.array([1.0, -1.0]), 50, 4)
    )
    # The versions that trained it are written beside the weights, for a rebuild to check.
    trained_with = json.loads((tmp_path / "toy.json").read_text())["trained_with"]
    assert set(trained_with) == {"python", *TRAINING_LIBRARIES}
    assert trained_with["jax"] == metadata.version("jax")
    assert trained_with["flowjax"] == metadata.version("flowjax")
    assert trained_with["python"] == platform.python_version()


def test_a_package_that_is_not_installed_is_recorded_as_such():
    versions = installed_versions(["numpy", "no-such-package-ngo-abm"])
    assert versions["numpy"] == metadata.version("numpy")
    assert versions["no-such-package-ngo-abm"] == "not installed"


def test_exported_posterior_is_joint_draws_in_the_committed_format(tmp_path, monkeypatch):
    import calibration.reference as reference

    monkeypatch.setattr(reference, "CHUNK_ROWS", 4)
    table = tmp_path / "table"
    # In this process: test_reference shows that one worker or two build the same table.
    build_table(table, 8, seed=1, workers=1)
    estimator, cost = fit(8, folder=table, spec=TINY)
    parquet, summary = tmp_path / "post.parquet", tmp_path / "post.yaml"
    export(estimator, cost, tmp_path / "npe.eqx", parquet, summary)
    posterior = load_posterior(parquet)
    assert len(posterior) == 4000 and effective_sample_size(posterior) == pytest.approx(4000)
    assert set(posterior.columns) == {*estimator.parameters, "weight"}
    meta = yaml.safe_load(summary.read_text())
    assert meta["method"] == "npe" and meta["simulations"] == 8
    assert meta["targets"] == list(TARGETS)
    assert (tmp_path / "npe.json").exists()
    # The held-back estimator conditions on the figures up to 2010 only.
    held, _ = fit(8, holdout=True, folder=table, spec=TINY)
    assert all(TARGETS[t].last_year <= 2010 for t in held.targets)
    assert len(held.targets) < len(TARGETS)


@pytest.mark.parametrize(
    "options, stem",
    [(["--db", "s.db"], "s_posterior"), (["--posterior", "mine.parquet"], "mine")],
)
def test_a_scratch_training_writes_its_estimator_beside_its_posterior(
    options, stem, tmp_path, monkeypatch
):
    # with --db alone it replaced the committed estimator, calibration/npe/main.eqx
    import calibration.amortised as amortised
    from cli.main import main

    written = {}
    monkeypatch.setattr(amortised, "fit", lambda *args, **kwargs: ("estimator", {}))
    monkeypatch.setattr(
        amortised, "export", lambda estimator, cost, *paths: written.update(paths=paths)
    )
    monkeypatch.chdir(tmp_path)
    assert main(["calibrate", "npe", *options, "--rows", "10"]) == 0
    eqx, parquet, _ = written["paths"]
    assert (eqx.resolve(), parquet.resolve()) == (
        tmp_path / f"{stem}.eqx",
        tmp_path / f"{stem}.parquet",
    )


@pytest.mark.parametrize("taken", ["mine.json", "mine.parquet"])
def test_a_file_the_training_writes_that_is_a_folder_is_refused_before_it_trains(
    taken, tmp_path, monkeypatch, capsys
):
    # the description (.json) was found to be a folder after the training, beside the
    # estimator it left
    import calibration.amortised as amortised
    from cli.main import main

    monkeypatch.setattr(amortised, "fit", lambda *args, **kwargs: pytest.fail("trained"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / taken).mkdir()
    assert main(["calibrate", "npe", "--posterior", "mine.parquet", "--rows", "10"]) == 2
    assert f"{taken}: --posterior: is a folder, not a file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == [taken]


def test_a_training_for_the_committed_posterior_writes_the_committed_estimator(repo, monkeypatch):
    # named by a relative path, the committed posterior got its estimator beside it
    import calibration.amortised as amortised
    from cli.main import main

    written = {}
    monkeypatch.setattr(amortised, "fit", lambda *args, **kwargs: ("estimator", {}))
    monkeypatch.setattr(
        amortised, "export", lambda estimator, cost, *paths: written.update(paths=paths)
    )
    monkeypatch.chdir(repo)
    argv = ["calibrate", "npe", "--posterior", "calibration/posterior.parquet", "--rows", "10"]
    assert main(argv) == 0
    assert written["paths"][0] == amortised.estimator_path(False)
    # ... and the committed summary, which the report and validate read (not posterior.yaml)
    assert written["paths"][2].resolve() == repo / "calibration" / "calibrated.yaml"


def test_a_training_held_back_into_the_committed_main_posterior_is_refused(
    repo, monkeypatch, capsys
):
    # it replaced the main posterior by a held-back one, its estimator beside it
    import calibration.amortised as amortised
    from cli.main import main

    monkeypatch.setattr(amortised, "fit", lambda *args, **kwargs: pytest.fail("trained"))
    monkeypatch.chdir(repo)
    argv = ["calibrate", "npe", "--holdout", "--posterior", "calibration/posterior.parquet"]
    assert main([*argv, "--rows", "10"]) == 2
    err = capsys.readouterr().err
    assert "the committed main posterior: --holdout calibrates the held-back one" in err
    # ... and a main training into the committed held-back one, by its database's name
    argv = ["calibrate", "npe", "--db", "calibration/holdout.db", "--rows", "10"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--db calibration/holdout.db: writes holdout_posterior.parquet, the committed" in err


def _untrained(spec: FlowSpec):
    """Return an estimator of two parameters and two features whose flows are untrained."""
    import jax.random as jr

    from calibration.npe import Estimator, _build_flow

    flows = [_build_flow(spec, 2, 2, jr.key(i)) for i in range(spec.ensemble)]
    mean, sd = np.array([1.0, -1.0]), np.array([2.0, 0.5])
    return Estimator(flows, spec, ["a", "b"], ["x", "y"], mean, sd, "key", 10, 1)


def test_features_beyond_the_clip_condition_the_flows_as_the_clip_does():
    est = _untrained(FlowSpec(layers=2, width=8, depth=1, ensemble=2, feature_clip=3.0))
    far = np.array([1.0 + 2.0 * 400, -1.0 - 0.5 * 50])  # 400 and 50 deviations out
    at_clip = np.array([1.0 + 2.0 * 3, -1.0 - 0.5 * 3])
    np.testing.assert_array_equal(est.condition(far), [3.0, -3.0])
    np.testing.assert_array_equal(est.sample(far, 20, seed=5), est.sample(at_clip, 20, seed=5))
    # Inside the clip the features are only standardised.
    np.testing.assert_allclose(est.condition(np.array([2.0, -0.5])), [0.5, 1.0])


def test_an_estimator_saved_before_the_clip_is_read_unclipped(tmp_path):
    est = _untrained(FlowSpec(layers=2, width=8, depth=1, ensemble=1))
    assert est.spec.feature_clip == 10.0
    save(est, tmp_path / "old.eqx")
    meta = tmp_path / "old.json"
    text = json.loads(meta.read_text("utf-8"))
    del text["spec"]["feature_clip"]
    meta.write_text(json.dumps(text), encoding="utf-8")
    old = load(tmp_path / "old.eqx")
    assert old.spec.feature_clip is None
    far = np.array([1.0 + 2.0 * 400, -1.0])
    np.testing.assert_allclose(old.condition(far), [400.0, 0.0])


def test_training_sees_the_features_clipped(monkeypatch):
    import flowjax.train

    seen = []

    def fit(key, flow, data, **options):
        seen.append(np.asarray(data[1]))
        return flow, {"val": [1.0]}

    monkeypatch.setattr(flowjax.train, "fit_to_data", fit)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 2))
    x[0, 0] = 1e4  # an outlier about 22 deviations out (the most one row in 500 can be)
    spec = FlowSpec(layers=2, width=8, depth=1, ensemble=1, feature_clip=4.0)
    _, mean, sd, _ = train(rng.standard_normal((500, 2)), x, spec, seed=1)
    assert np.abs(seen[0]).max() == pytest.approx(4.0)
    np.testing.assert_allclose(seen[0][1:], np.clip((x[1:] - mean) / sd, -4.0, 4.0), rtol=1e-6)


def test_a_saved_clip_is_read_back_and_bounds_the_truncation_density(tmp_path):
    from calibration.truncation import log_density

    est = _untrained(FlowSpec(layers=2, width=8, depth=1, ensemble=2, feature_clip=3.0))
    save(est, tmp_path / "clipped.eqx")
    again = load(tmp_path / "clipped.eqx")
    assert again.spec.feature_clip == 3.0
    far = np.array([1.0 + 2.0 * 400, -1.0 - 0.5 * 50])
    at_clip = np.array([1.0 + 2.0 * 3, -1.0 - 0.5 * 3])
    z = np.random.default_rng(2).standard_normal((16, 2))
    np.testing.assert_array_equal(log_density(again, z, far), log_density(again, z, at_clip))
    assert not np.array_equal(log_density(again, z, far), log_density(again, z, far * 0))
