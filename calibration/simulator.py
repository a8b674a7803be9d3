"""The calibration's simulator: one parameter set run in every country, scored on the targets.

``Simulator`` is the pyabc model of the ABC-SMC (``calibration.abc``) and what the
reference table runs (``calibration.reference``): each country's scenario with the same
behavioural parameters, on the compiled path (``model.fastpath``), scored with
``calibration.compare.target_error``: the root mean square of the targets' errors in
tolerance units, each capped at ``ERROR_CAP``. ``TargetDistance`` is the same distance for
pyabc. Source of the targets: ``calibration/targets.yaml`` (Jaysanov 2023, CAJOTAS 4(6)).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyabc

from model import COUNTRIES, RunawayError, Scenario, load_scenario
from model.fastpath import CompiledRun

from .compare import run_value, target_error
from .priors import PriorSpec, model_values
from .targets import Target

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_FILES = {c: ROOT / "scenarios" / f"{c}.yaml" for c in COUNTRIES}
ERROR_CAP = 1e3


def squared_error(target: Target, value: float) -> float:
    """Return a target's squared error in tolerance units, capped (one term of the distance)."""
    return min(target_error(target, value), ERROR_CAP) ** 2


def rms_error(stats: Mapping[str, float], targets: list[Target]) -> float:
    """Return the root mean square of the targets' errors in tolerance units."""
    return float(np.sqrt(np.mean([squared_error(t, stats[t.id]) for t in targets])))


# Cheap countries with discriminating targets first, so that most rejections cost little.
RUN_ORDER = ("uzbekistan", "kyrgyzstan", "kazakhstan")


class Simulator(pyabc.IntegratedModel):
    """The pyabc model: runs every country with one parameter set and scores the targets.

    Each country runs year by year up to its last target year. At each year that
    completes a target the squared errors so far are added up; once their root mean
    over all targets exceeds the current threshold, the particle is rejected without
    running further. The rejection is exact: errors are never negative, so a particle
    stopped early could not have been accepted.

    Args:
        targets: The targets the statistics are computed for.
        priors: The calibrated parameters' priors.
        scenario_files: ``{country: scenario file}``; defaults to the three baselines.
    """

    def __init__(
        self,
        targets: list[Target],
        priors: Mapping[str, PriorSpec],
        scenario_files: Mapping[str, Path] | None = None,
    ):
        super().__init__(name="ngo_abm")
        files = scenario_files or SCENARIO_FILES
        countries = sorted({t.country for t in targets}, key=RUN_ORDER.index)
        self.targets = targets
        self.priors = dict(priors)
        self.scenarios: dict[str, Scenario] = {c: load_scenario(files[c]) for c in countries}
        # Per country: each year that completes a target, with the targets it completes.
        self.checkpoints: dict[str, list[tuple[int, list[Target]]]] = {
            c: [
                (year, [t for t in targets if t.country == c and t.last_year == year])
                for year in sorted({t.last_year for t in targets if t.country == c})
            ]
            for c in countries
        }

    def checkpoint_values(self, values: Mapping[str, float], seed: int):
        """Yield each checkpoint's ``(target, statistic)`` pairs, country by country.

        A country whose register runs away (more foundings a year than the model allows)
        yields ``None`` and stops there; the next country then runs.
        """
        for country, scenario in self.scenarios.items():
            model = CompiledRun(scenario.with_params(values), seed)
            for year, due in self.checkpoints[country]:
                try:
                    model.run_for(year - model.year)
                except RunawayError:
                    yield None
                    break
                yield [(t, run_value(model.columns, t)) for t in due]

    def integrated_simulate(self, pars: Mapping[str, float], eps: float) -> pyabc.ModelResult:
        """Run the countries with ``pars`` and a fresh seed; accept within ``eps``."""
        # pyabc seeds numpy's global generator in each worker process.
        seed = int(np.random.randint(0, 2**31 - 1))
        values = model_values(dict(pars), self.priors)
        stats, total, distance = {}, 0.0, 0.0
        for pairs in self.checkpoint_values(values, seed):
            if pairs is None:
                # A runaway register is infinitely far from every figure.
                return pyabc.ModelResult(accepted=False)
            for target, value in pairs:
                stats[target.id] = value
                total += squared_error(target, value)
            distance = math.sqrt(total / len(self.targets))
            if distance > eps:
                return pyabc.ModelResult(accepted=False)
        return pyabc.ModelResult(accepted=True, distance=distance, sum_stat=stats)

    def statistics(self, values: Mapping[str, float], seed: int) -> dict[str, float]:
        """Return every target's statistic of one full run with model ``values``.

        A country whose register runs away stops there: its later statistics are NaN.
        """
        stats = dict.fromkeys((t.id for t in self.targets), math.nan)
        for pairs in self.checkpoint_values(values, seed):
            stats.update((t.id, v) for t, v in pairs or ())
        return stats

    def sample(self, pars: Mapping[str, float]) -> dict:
        """Return the statistics of a full run (pyabc's prior sample when resuming)."""
        return self.integrated_simulate(pars, math.inf).sum_stat


class TargetDistance:
    """The pyabc distance: RMS target error in tolerance units (``rms_error``).

    ``Simulator`` computes the same distance while it runs and decides acceptance itself;
    pyabc uses this one to recompute the last generation's distances when resuming.
    """

    def __init__(self, targets: list[Target]):
        self.targets = targets

    def __call__(self, x: dict, x0: dict) -> float:
        """Return the distance of simulated statistics ``x`` (``x0`` is the article's)."""
        return rms_error(x, self.targets)
