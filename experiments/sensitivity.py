"""Global sensitivity analysis of the behavioural parameters on key outputs (SALib).

Which calibrated parameters move the outputs a reader of Jaysanov (2023) cares about:
Kyrgyz registered NGOs in 2010 (the article's 18,341), the reporting share in 2023
(about 1,000 of 20,000) and the foreign share of NGO income in the 2000s (mean 2000-2010;
the article's "more than 90% of NGOs ... financed by international donors" counts NGOs,
not money). Parameters vary over their
posterior 5%-95% ranges (``calibration.posterior.posterior_summary``), or over their prior
ranges (``calibration/priors.yaml``) when there is no posterior, log-uniformly where the
prior is log-uniform. Samples come from SALib (Saltelli's extension of the Sobol' sequence,
or Morris trajectories), runs from ``experiments.runner`` on any backend, indices from
SALib's ``sobol.analyze`` / ``morris.analyze`` with bootstrap confidence intervals.

The model is stochastic; so that its noise does not show up as sensitivity, each sample
point is the mean of several replicates, and replicate ``r`` uses the same seed at every
point (common random numbers: a parameter that cannot affect an output leaves it exactly
unchanged). The share of the point means' variance that is replicate noise is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from textwrap import fill

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calibration.compare import column_values
from calibration.posterior import DEFAULT_POSTERIOR, check_extremes, has_posterior
from model import Scenario, ScenarioError, load_scenario
from model.limits import MAX_RUNS

from .replaced_values import run_changes
from .runner import RunTask, derived_seed, map_runs, run_batch
from .sensitivity_outputs import build_manifest, check_out_folder, write_outputs
from .sensitivity_ranges import PRIORS, held_values, ranges_titled, sampling_problem

DEFAULT_SAMPLES = {"sobol": 64, "morris": 20}
MORRIS_LEVELS = 4
BOOTSTRAP = 200
BATCH_RUNS = 16


@dataclass(frozen=True)
class Statistic:
    """A scalar output of one run: a column (or ratio of two) averaged over years."""

    name: str
    column: str
    denominator: str | None
    years: tuple[int, int]
    label: str
    unit: str

    def per_run(self, frame: pd.DataFrame, keys: list[str]) -> pd.Series:
        """Return the statistic of every run in a stacked table, indexed by ``keys``."""
        first, last = self.years
        part = frame[(frame.year >= first) & (frame.year <= last)]
        values = column_values(part, self.column, self.denominator)
        return values.groupby([part[k] for k in keys]).mean()


STATISTICS = (
    Statistic(
        "registered_2010", "registered", None, (2010, 2010), "registered NGOs in 2010", "NGOs"
    ),
    Statistic(
        "reporting_share_2023",
        "reporting",
        "registered",
        (2023, 2023),
        "reporting / registered in 2023",
        "share",
    ),
    Statistic(
        "foreign_share_2000_2010",
        "share_income_foreign",
        None,
        (2000, 2010),
        "foreign share of income, mean 2000-2010",
        "share",
    ),
)


def check_size(method: str, samples: int, parameters: int, replicates: int) -> None:
    """Refuse a sample too small to estimate anything, or too large to run.

    Raises:
        ScenarioError: naming ``--samples``.
    """
    if samples < 2:
        what = "base samples (Sobol)" if method == "sobol" else "trajectories (Morris's sigma)"
        raise ScenarioError("--samples", "", f"{samples} given: at least 2 {what} are needed")
    points = samples * (parameters + (2 if method == "sobol" else 1))
    if points * replicates > MAX_RUNS:
        message = f"{points:,} points x {replicates} replicate(s) is over {MAX_RUNS:,} runs"
        raise ScenarioError("--samples", "", f"{samples} given: {message}")


def sample(method: str, problem: dict, samples: int, seed: int) -> np.ndarray:
    """Return SALib's sample of parameter sets (one row per point).

    Raises:
        ScenarioError: if a Sobol sample size is not a power of 2.
    """
    if method == "sobol":
        if samples & (samples - 1):
            raise ScenarioError(
                "--samples", "", f"{samples} given: Sobol sampling needs a power of 2 (e.g. 64)"
            )
        from SALib.sample import sobol

        return sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    from SALib.sample import morris

    return morris.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=seed)


def replicate_seed(seed: int, replicate: int) -> int:
    """Return replicate ``r``'s seed, shared by every sample point (common random numbers)."""
    return derived_seed(seed, replicate)


def evaluate(
    scenario: Scenario,
    names: list[str],
    points: np.ndarray,
    replicates: int,
    seed: int,
    workers: int = 1,
    scheduler: str | None = None,
) -> np.ndarray:
    """Run every point ``replicates`` times; return statistics, points x replicates x stats."""
    tasks = [
        RunTask(
            scenario,
            replicate_seed(seed, r),
            dict(zip(names, map(float, x), strict=True)),
            {"point": j, "replicate": r},
        )
        for j, x in enumerate(points)
        for r in range(replicates)
    ]
    batches = [tasks[i : i + BATCH_RUNS] for i in range(0, len(tasks), BATCH_RUNS)]
    frames = map_runs(run_batch, batches, workers, scheduler, progress=True, desc="batches")
    frame = pd.concat(frames, ignore_index=True)
    values = np.empty((len(points), replicates, len(STATISTICS)))
    for k, stat in enumerate(STATISTICS):
        table = stat.per_run(frame, ["point", "replicate"]).unstack("replicate")
        values[:, :, k] = table.sort_index().to_numpy()
    return values


def noise_share(values: np.ndarray) -> np.ndarray:
    """Return, per statistic, the share of the point means' variance that is replicate noise.

    The variance of a mean of R replicates is the within-point variance over R; its mean
    over points, divided by the variance of the point means. NaN with one replicate.
    """
    reps = values.shape[1]
    if reps < 2:
        return np.full(values.shape[2], np.nan)
    within = values.var(axis=1, ddof=1).mean(axis=0) / reps
    total = values.mean(axis=1).var(axis=0, ddof=1)
    return np.divide(within, total, out=np.full_like(total, np.nan), where=total > 0)


def analyse(method: str, problem: dict, points: np.ndarray, y: np.ndarray, seed: int):
    """Return SALib's indices for each statistic: ``{statistic name: SALib result}``."""
    from SALib.analyze import morris, sobol

    results = {}
    for k, stat in enumerate(STATISTICS):
        if method == "sobol":
            results[stat.name] = sobol.analyze(
                problem, y[:, k], calc_second_order=False, num_resamples=BOOTSTRAP, seed=seed
            )
        else:
            results[stat.name] = morris.analyze(
                problem,
                points,
                y[:, k],
                num_resamples=BOOTSTRAP,
                num_levels=MORRIS_LEVELS,
                seed=seed,
            )
    return results


def ranking_table(method: str, problem: dict, indices: dict) -> pd.DataFrame:
    """Return parameters ranked per statistic (by total-order index or by mu*)."""
    rows = []
    main, conf = ("ST", "ST_conf") if method == "sobol" else ("mu_star", "mu_star_conf")
    extra = ("S1", "S1_conf") if method == "sobol" else ("mu", "sigma")
    for stat in STATISTICS:
        result = indices[stat.name]
        order = np.argsort(-np.nan_to_num(np.asarray(result[main], dtype=float), nan=-np.inf))
        for rank, i in enumerate(order, start=1):
            row = {"output": stat.name, "rank": rank, "parameter": problem["names"][i]}
            for key in (main, conf, *extra):
                row[key] = float(result[key][i])
            rows.append(row)
    return pd.DataFrame(rows)


def ranking_figure(method: str, table: pd.DataFrame, title: str):
    """Return bar plots of the indices with their confidence intervals, one panel per output."""
    fig, axes = plt.subplots(1, len(STATISTICS), figsize=(5.2 * len(STATISTICS), 5.5))
    for ax, stat in zip(axes, STATISTICS, strict=True):
        part = table[table.output == stat.name].iloc[::-1]
        y = np.arange(len(part))
        if method == "sobol":
            bars = {"capsize": 2, "error_kw": {"lw": 0.8}}
            ax.barh(y + 0.2, part.ST, 0.4, xerr=part.ST_conf, color="tab:blue", label="ST", **bars)
            ax.barh(
                y - 0.2, part.S1, 0.4, xerr=part.S1_conf, color="tab:orange", label="S1", **bars
            )
            # S1 is a share of the variance; ST adds interactions, so the STs overlap.
            ax.set_xlabel(
                "S1: share of the output's variance; ST: with interactions (95% CI)", fontsize=8
            )
        else:
            # SALib's interval is mu* +/- a bootstrap half-width; mu* is a mean of absolute
            # changes, so the bar stops at 0 rather than cross it.
            low = np.minimum(part.mu_star_conf, part.mu_star)
            ax.barh(
                y, part.mu_star, 0.6, xerr=[low, part.mu_star_conf], color="tab:blue",
                label="mu*", capsize=2, error_kw={"lw": 0.8},
            )  # fmt: skip
            ax.plot(part.sigma, y, "D", color="tab:red", ms=3, label="sigma")
            ax.set_xlabel(
                f"mu*: mean |change| over a parameter's range, {stat.unit} (95% CI)", fontsize=8
            )
        ax.set_yticks(y, part.parameter, fontsize=7)
        ax.set_title(stat.label, fontsize=9)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=7, loc="lower right")
    # Wrapped to the panels' width: on one line, a long list of held parameters made the
    # figure several times wider than its panels (about 11 characters an inch at 10 pt).
    fig.suptitle(fill(title, int(11 * fig.get_figwidth())), fontsize=10)
    fig.tight_layout()
    return fig


def format_ranking(method: str, table: pd.DataFrame, top: int = 6) -> str:
    """Return the top of the ranking of each output as text."""
    main, conf = ("ST", "ST_conf") if method == "sobol" else ("mu_star", "mu_star_conf")
    blocks = []
    for stat in STATISTICS:
        part = table[table.output == stat.name].head(top)
        shown = part[["rank", "parameter", main, conf, *part.columns[5:]]]
        text = shown.to_string(index=False, float_format=lambda x: f"{x:.3g}")
        blocks.append(f"{stat.label} ({stat.name}):\n{text}")
    return "\n\n".join(blocks)


def run_sensitivity(
    method: str = "sobol",
    samples: int | None = None,
    replicates: int = 2,
    scenario_path: str | Path = "scenarios/kyrgyzstan.yaml",
    posterior: str | Path = DEFAULT_POSTERIOR,
    out: str | Path = "out/sensitivity",
    seed: int = 1,
    workers: int = 1,
    scheduler: str | None = None,
    emit: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Sample, run and analyse; write the ranking CSV, the figure and the evaluations.

    Writes ``sensitivity_<method>.csv`` (the ranking), ``sensitivity_<method>.png``,
    ``sensitivity_<method>_evaluations.csv`` (every point's parameters and statistics) and
    ``sensitivity_<method>.json`` (the set-up) in ``out``, then ``manifest.json`` (what
    reproduces them, ``experiments.sensitivity_outputs``).

    Returns:
        The ranking table.

    Raises:
        ScenarioError: for a bad scenario, sample size, posterior, scheduler, or an
            output folder holding another command's or the other method's outputs.
    """
    started = time.perf_counter()
    samples = samples or DEFAULT_SAMPLES[method]
    scenario = load_scenario(scenario_path)
    for stat in STATISTICS:
        if not scenario.start_year <= stat.years[0] <= stat.years[1] <= scenario.end_year:
            field = "start_year" if stat.years[0] < scenario.start_year else "end_year"
            first, last = stat.years
            when = f"in {first}" if first == last else f"in {first}-{last}"
            found = (
                f"the analysis reads {stat.name} {when}, outside the scenario's years "
                f"({scenario.start_year}-{scenario.end_year})"
            )
            raise ScenarioError(scenario_path, field, found)
    problem, source = sampling_problem(scenario.country, posterior)
    titled = ranges_titled(scenario.country, posterior)
    held = held_values(scenario.country, posterior)
    check_extremes(scenario, held, held, posterior)
    low, high = (
        {n: b[end] for n, b in zip(problem["names"], problem["bounds"], strict=True)}
        for end in (0, 1)
    )
    check_extremes(scenario, low, high, posterior if has_posterior(posterior) else PRIORS)
    # A file's own value of a varied (or held) parameter is never used: refused, as a run
    # with the posterior refuses it, rather than analysed as if it were.
    run_changes(
        Path(scenario_path), scenario, low | held, "sensitivity analysis",
        remedy="it varies (or holds) every calibrated parameter the posterior or priors "
        "give, so the file's value is never used",
    )  # fmt: skip
    check_size(method, samples, len(problem["names"]), replicates)
    check_out_folder(Path(out), method)
    manifest = build_manifest(
        method=method, samples=samples, replicates=replicates, seed=seed,
        scenario_path=scenario_path, scenario=scenario, problem=problem, source=source,
        posterior=posterior if has_posterior(posterior) else None, priors=PRIORS,
        workers=workers, scheduler=scheduler,
    )  # fmt: skip
    points = sample(method, problem, samples, seed)
    emit(
        f"{method}: {len(problem['names'])} parameters of {scenario.name}, ranges from "
        f"{source}; {len(points)} points x {replicates} replicate(s) = "
        f"{len(points) * replicates:,} runs"
    )
    # The manifest's scenario is the file's; the runs hold the posterior's constants.
    runs_scenario = scenario.with_params(held)
    values = evaluate(runs_scenario, problem["names"], points, replicates, seed, workers, scheduler)
    y = values.mean(axis=1)
    table = ranking_table(method, problem, analyse(method, problem, points, y, seed))
    noise = dict(zip([s.name for s in STATISTICS], noise_share(values).tolist(), strict=True))
    title = f"{method.capitalize()} sensitivity of {scenario.name} ({len(points)} points; {titled})"
    _write(out, manifest, problem, points, y, table, noise, started, title)
    emit(format_ranking(method, table))
    if samples < DEFAULT_SAMPLES[method]:
        # Four Sobol base samples gave ST 2.14 and S1 above ST, printed as any other result.
        emit(
            f"note: {samples} {'base samples' if method == 'sobol' else 'trajectories'} are "
            f"fewer than the default {DEFAULT_SAMPLES[method]}: a smoke test, not estimates "
            "(see the confidence columns)"
        )
    emit(
        "replicate noise, share of the variance of the point means: "
        + ", ".join(f"{k} {v:.2%}" if np.isfinite(v) else f"{k} n/a" for k, v in noise.items())
    )
    emit(
        f"wrote {Path(out) / f'sensitivity_{method}.csv'} and the figure, evaluations, set-up, "
        f"{Path(out) / 'manifest.json'}"
    )
    return table


def _write(out, manifest, problem, points, y, table, noise, started, title) -> None:
    method = manifest["sensitivity_method"]
    evaluations = pd.DataFrame(points, columns=problem["names"])
    for k, stat in enumerate(STATISTICS):
        evaluations[stat.name] = y[:, k]
    details = {
        "problem": {k: problem[k] for k in ("names", "bounds", "dists")},
        "points": len(points),
        "statistics": {s.name: s.label for s in STATISTICS},
        "replicate_noise_share": noise,
    }
    figure = ranking_figure(method, table, title)
    write_outputs(Path(out), manifest, evaluations, table, figure, details, started)
