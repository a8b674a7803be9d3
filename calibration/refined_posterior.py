"""The emulated posterior refined by new runs at its own draws (one round, per data set).

Why (the hypothesis it was built to test). The emulator's error is not run noise: it is
a function of the parameters. If it were nearly the same offset at the truth and at the
parameters near it, the emulated likelihood, which counts it as noise of every run
(``Emulator.residual_moment``), would be right for the parameters (the offset moves the
posterior's centre by as much as the added variance widens it), while the predictions,
runs of the model itself at the moved centre, would differ from the figures by only the
run's noise: the offset would cancel and the added variance be left over as width. The
emulator check of session 53 showed parameters within the bars and predictions too wide
(50% intervals holding 0.58 of new runs on average, the registers most).

What. Sequential neural likelihood (Papamakarios, Sterratt and Murray 2019) runs the
model at the current posterior's draws and refines the likelihood there. Here, in its
simplest form, for each data set: ``runs`` of the emulated posterior's draws are run
once each (new seeds); their statistics' mean residual from the emulator's means, on the
emulator's scale, is the local ``offset``, and their spread around it, in the emulator's
standard deviations, replaces the held-out rows' scales (``local_correction``; the
statistics' correlations stay the held-out rows'). The posterior is then drawn again with
the corrected emulator (``EmulatedPosterior.corrected``). The spread left includes how much
the error varies over the first posterior, wider than the second: the round errs wide.

Measured (docs/calibration.md, sessions 54 and 55, with an emulator of the prior's rows):
the round moved the predictions' coverage by about 0.02. Runs at fixed parameters scatter
a small share of the emulated variance, so most of the scatter of the runs at the first
draws is the error varying from draw to draw; a ridge regression of those residuals on
the scores left their variance as it was, so over the first posterior the error is
neither an offset nor linear, and the round removes its mean but not the width it adds
to the predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .emulated_posterior import EmulatedPosterior, LocalCorrection, SamplerSettings
from .emulator import Emulator, mixture_at, transform
from .priors import load_priors, model_values, sampled_name
from .reference import simulate_statistics, simulator
from .targets import Target

REFINE_STREAM = 19
# The keys, under the stream, of the first round's sampler, the runs' seeds and the second
# round's sampler (none ends in 0: numpy's SeedSequence reads trailing zeros as a shorter
# key).
FIRST_ROUND, RUN_SEEDS, SECOND_ROUND = 1, 2, 3
# Runs per data set: the offset's standard error is an eighth of a run's scatter.
REFINE_RUNS = 64
# Fewer runs with every statistic defined than this and the emulator stands uncorrected:
# a mean and a mean square of so few runs would be noisier than the error they correct.
LEAST_RUNS = 16
# A statistic that does not vary among the runs (a share at zero) keeps this much of
# the emulator's variance, so that its covariance stays positive.
SCALE_FLOOR = 1e-2

Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], list] | None
Simulate = Callable[[np.ndarray, np.ndarray], np.ndarray] | None


def serial_map(fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list:
    """Run the tasks one after another in this process."""
    return [fn(task) for task in tasks]


def local_correction(emulator: Emulator, z: np.ndarray, stats: np.ndarray) -> LocalCorrection:
    """Return the correction that runs at scores ``z`` (runs x parameters) call for.

    ``stats`` are the runs' statistics (runs x the emulator's targets; NaN: undefined).
    Runs with an undefined statistic are left out; with fewer than ``LEAST_RUNS`` left, no
    offset and the held-out rows' moments.
    """
    scaled = (transform(stats, emulator.unit) - emulator.out_mean) / emulator.out_sd
    defined = np.isfinite(scaled).all(axis=1)
    if defined.sum() < LEAST_RUNS:
        return LocalCorrection(np.zeros(len(emulator.targets)), emulator.residual_moment)
    centre, variance = mixture_at(emulator.net, z[defined])
    residual = scaled[defined] - centre
    offset = residual.mean(axis=0)
    scale = np.mean((residual - offset) ** 2 / variance, axis=0)
    scale = np.maximum(scale, SCALE_FLOOR)
    held = np.asarray(emulator.residual_moment)
    correlation = held / np.sqrt(np.outer(np.diag(held), np.diag(held)))
    root = np.sqrt(scale)
    return LocalCorrection(offset, root[:, None] * correlation * root[None, :])


def model_runs(parameters: list[str], targets: list[str], mapper: Mapper = None) -> Simulate:
    """Return ``simulate(z, seeds)``: the targets' statistics of one model run per row.

    ``z`` are rows of normal scores of ``parameters``, ``seeds`` the runs' seeds; the
    runs are mapped by ``mapper`` (``serial_map`` by default; the experiments pass their
    worker pool's).
    """
    mapper = mapper or serial_map
    every = [t.id for t in simulator().targets]
    columns = [every.index(t) for t in targets]
    names = [sampled_name(p) for p in parameters]

    def simulate(z: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        priors = load_priors()
        tasks = [
            (model_values(dict(zip(names, row, strict=True)), priors), int(s))
            for row, s in zip(z, seeds, strict=True)
        ]
        return np.asarray(mapper(simulate_statistics, tasks), dtype=float)[:, columns]

    return simulate


class RefinedPosterior(EmulatedPosterior):
    """The emulated posterior after one round of runs at its draws (``local_correction``)."""

    def __init__(
        self,
        emulator: Emulator,
        targets: list[Target],
        settings: SamplerSettings | None = None,
        seed: int = 1,
        runs: int = REFINE_RUNS,
        simulate: Simulate = None,
    ):
        super().__init__(emulator, targets, settings, seed)
        self.runs = runs
        # Whether the runs are the model's in this process, which a caller with workers
        # may map over them (``experiments.validation.with_workers``); a given
        # ``simulate`` is kept.
        self.runs_in_process = simulate is None
        self.simulate = simulate or model_runs(emulator.parameters, self.targets)
        self.corrections: list[LocalCorrection] = []

    def sample(
        self, features: np.ndarray, n: int, seed: int | list[int], iid: bool = False
    ) -> np.ndarray:
        """Return ``n`` draws given one row of features, or a batch of rows.

        As ``EmulatedPosterior.sample``. The first round's draws are drawn for the whole
        batch together and run together (``simulate``, one run each, seeds from ``seed``);
        the second round too, each row under its own correction (kept, in the batch's
        order, in ``corrections``).
        """
        features = np.asarray(features, dtype=float)
        batch = np.atleast_2d(features)
        seeds = [*np.atleast_1d(seed).tolist(), REFINE_STREAM]
        first = super().sample(batch, self.runs, [*seeds, FIRST_ROUND])
        run_seeds = np.random.default_rng([self.seed, *seeds, RUN_SEEDS]).integers(
            0, 2**31 - 1, size=first.shape[:2]
        )
        flat = first.transpose(1, 0, 2).reshape(-1, first.shape[2])
        stats = self.simulate(flat, run_seeds.T.reshape(-1))
        stats = stats.reshape(len(batch), self.runs, -1)
        self.corrections = [
            local_correction(self.emulator, first[:, i], stats[i]) for i in range(len(batch))
        ]
        second = self.corrected(self.corrections)
        stacked = second.sample(batch, n, [*seeds, SECOND_ROUND])
        self.stages, self.final_ess = second.stages, second.final_ess
        return stacked if features.ndim > 1 else stacked[:, 0, :]
