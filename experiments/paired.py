"""The runs and statistics of a paired experiment: counterfactuals minus the baseline.

Draw ``i`` is one parameter set from the committed posterior
(``calibration.posterior.draw_posterior``) or, with ``params: scenario``, the scenarios' own
behaviour values. Run ``(i, r)`` of every scenario uses the same parameter set and the same
seed (``experiments.storage.run_seed``); the model's keyed random streams (``model/rng.py``)
then give paired runs the same draws for the same NGOs (common random numbers, CRN), so a
counterfactual-minus-baseline difference carries the parameter uncertainty and little of
the model's noise. The summary measures that gain: it also pairs counterfactual replicate
``r`` with baseline replicate ``r + 1`` of the same draw (same parameters, independent
seeds, no extra runs) and reports the ratio of the 90% interval widths.

``run_experiment`` stores each chunk of runs as it completes (``ngo-abm experiment``);
``collect_runs`` keeps them in memory and reports progress (the dashboard, the tutorial).
Both run the same chunks, so their results are the same table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.plotting import column_unit
from calibration.posterior import (
    DEFAULT_POSTERIOR,
    check_drawn,
    draw_posterior,
    lacking_note,
    load_posterior,
    missing_posterior,
    parameter_names,
)
from calibration.scenario_inputs import changed_note
from experiments.progress import progress_bar
from model import OUTPUT_COLUMNS, ScenarioError

from .changes import dated_experiment_changes
from .runner import imap_runs, run_batch
from .spec import BASELINE, Experiment
from .storage import RUN_COLUMNS, Chunk, build_chunks, stored_key, write_chunk


def parameter_sets(
    experiment: Experiment, posterior: str | Path = DEFAULT_POSTERIOR
) -> list[dict[str, float]]:
    """Return one parameter set per draw (empty sets with ``params: scenario``).

    Raises:
        ScenarioError: if the posterior is needed and missing, or names an unknown parameter.
    """
    spec = experiment.spec
    if spec.params == "scenario":
        return [{} for _ in range(spec.draws)]
    if not Path(posterior).exists():
        raise ScenarioError(
            posterior,
            "",
            f"{missing_posterior(posterior)}; or pass --params scenario to use the "
            "scenarios' own behaviour values",
        )
    sets = draw_posterior(spec.draws, spec.seed, posterior)
    check_drawn(experiment.baseline, sets, posterior)
    return sets


@dataclass(frozen=True)
class RunStats:
    """What ``run_experiment`` did."""

    chunks: list[Chunk]
    ran: int
    reused: int
    seconds: float
    backend: str


def run_chunks(
    chunks: list[Chunk], workers: int = 1, scheduler: str | None = None
) -> Iterator[tuple[Chunk, pd.DataFrame]]:
    """Run chunks; yield each with its runs' table as soon as it is done (in any order)."""
    batches = [list(c.tasks) for c in chunks]
    for index, frame in imap_runs(run_batch, batches, workers, scheduler):
        yield chunks[index], frame


def run_experiment(
    experiment: Experiment,
    out: str | Path,
    workers: int = 1,
    scheduler: str | None = None,
    posterior: str | Path = DEFAULT_POSTERIOR,
    progress: bool = False,
    before_first_write: Callable[[], None] | None = None,
) -> RunStats:
    """Run the experiment's missing chunks and store each as it completes.

    Args:
        experiment: A loaded experiment.
        out: Output folder; chunks go to ``out/runs/<scenario>/``.
        workers: Local worker processes (1 runs in this process).
        scheduler: Address of an existing dask.distributed scheduler (overrides workers).
        posterior: The posterior file (with ``params: posterior``).
        progress: Show a progress bar (on a terminal only).
        before_first_write: Called once before the first chunk is written, after every
            check of the inputs and the backend has passed (``retire_outputs``).

    Returns:
        The chunks and how many runs were run and reused.

    Raises:
        ScenarioError: for a missing posterior or an unreachable scheduler (before
            anything is written).
    """
    started = time.perf_counter()
    out = Path(out)
    chunks = build_chunks(experiment, parameter_sets(experiment, posterior))
    missing = [c for c in chunks if stored_key(out / c.relpath) != c.key]
    total = sum(len(c.tasks) for c in missing)
    with progress_bar(total=total, desc="runs", unit="run", show=progress, leave=False) as bar:
        for chunk, frame in run_chunks(missing, workers, scheduler):
            if before_first_write is not None:
                before_first_write()
                before_first_write = None
            write_chunk(out / chunk.relpath, frame, chunk.key)
            bar.update(len(chunk.tasks))
    backend = f"dask {scheduler}" if scheduler else f"{workers} local process(es)"
    return RunStats(chunks, total, experiment.runs - total, time.perf_counter() - started, backend)


def collect_runs(
    experiment: Experiment,
    posterior: str | Path = DEFAULT_POSTERIOR,
    workers: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Run a whole experiment in memory; return its runs as ``load_results`` would.

    Args:
        experiment: A loaded experiment.
        posterior: The posterior file (with ``params: posterior``).
        workers: Local worker processes (1 runs in this process).
        on_progress: Called with ``(runs done, runs in all)`` before the first chunk and
            after each.
    """
    chunks = build_chunks(experiment, parameter_sets(experiment, posterior))
    frames: list[pd.DataFrame | None] = [None] * len(chunks)
    done = 0
    if on_progress:
        on_progress(done, experiment.runs)
    for chunk, frame in run_chunks(chunks, workers):
        frames[chunks.index(chunk)] = frame
        done += len(chunk.tasks)
        if on_progress:
            on_progress(done, experiment.runs)
    return pd.concat(frames, ignore_index=True)[[*RUN_COLUMNS, *OUTPUT_COLUMNS]]


def paired_differences(
    results: pd.DataFrame, experiment: Experiment, name: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return a counterfactual's differences from the baseline, run by run.

    Returns:
        ``(crn, independent)``: tables indexed by (draw, replicate, year) with one column
        per reported output. ``crn`` pairs runs with the same parameters and seed;
        ``independent`` pairs counterfactual replicate r with baseline replicate r + 1 of
        the same draw (same parameters, independent seeds); it is all NaN with one replicate.
    """
    index = ["draw", "replicate", "year"]
    outputs = experiment.spec.outputs
    base = results[results.scenario == BASELINE].set_index(index)[outputs].astype(float)
    other = results[results.scenario == name].set_index(index)[outputs].astype(float)
    crn = (other - base).sort_index()
    reps = experiment.spec.replicates
    if reps < 2:
        return crn, crn * np.nan
    shifted = base.rename(index=lambda r: (r - 1) % reps, level="replicate")
    return crn, (other - shifted).sort_index()


def summary_table(results: pd.DataFrame, experiment: Experiment) -> pd.DataFrame:
    """Return the summary: per counterfactual, output and key year, the paired difference.

    Columns: counterfactual, output, unit, year, baseline_median, counterfactual_median,
    diff_median, diff_q05, diff_q95, rel_diff_median, rel_diff_q05, rel_diff_q95 (the
    same of each difference over its own baseline run: ``relative_quantiles``),
    independent_q05, independent_q95, crn_width_ratio (90% width with CRN over the width
    with independent seeds), runs.
    """
    spec, base = experiment.spec, experiment.baseline
    medians = results.groupby(["scenario", "year"])[spec.outputs].median()
    baseline_runs = results[results.scenario == BASELINE].set_index(["draw", "replicate", "year"])
    rows = []
    for name in experiment.counterfactuals:
        crn, independent = paired_differences(results, experiment, name)
        for output in spec.outputs:
            for year in spec.key_years:
                diffs = crn.xs(year, level="year")[output]
                d = diffs.to_numpy()
                i = independent.xs(year, level="year")[output].to_numpy()
                q05, q50, q95 = quantiles(d, [0.05, 0.5, 0.95])
                levels = baseline_runs.xs(year, level="year")[output].astype(float)
                r05, r50, r95 = relative_quantiles(diffs, levels)
                i05, i95 = quantiles(i, [0.05, 0.95]) if np.isfinite(i).all() else (np.nan,) * 2
                rows.append(
                    {
                        "counterfactual": name,
                        "output": output,
                        "unit": column_unit(output, base.cpi_base_year, base.currency),
                        "year": year,
                        "baseline_median": medians.loc[(BASELINE, year), output],
                        "counterfactual_median": medians.loc[(name, year), output],
                        "diff_median": q50,
                        "diff_q05": q05,
                        "diff_q95": q95,
                        "rel_diff_median": r50,
                        "rel_diff_q05": r05,
                        "rel_diff_q95": r95,
                        "independent_q05": i05,
                        "independent_q95": i95,
                        "crn_width_ratio": _ratio(q95 - q05, i95 - i05),
                        "runs": d.size,
                    }
                )
    return pd.DataFrame(rows)


def quantiles(values: np.ndarray, probs: list[float]) -> np.ndarray:
    """Return numpy's (linear) quantiles of ``values``, with an interpolation's zero kept zero.

    Between two values of opposite sign the interpolation can land on zero and give a
    rounding error instead: -9 and +1 at 0.9 gave 2.2e-16, which the tables showed as +0,
    their mark for a difference that is not zero. A quantile within a few units in the last
    place of the largest value is that error, and is 0. No values give NaN.
    """
    if np.size(values) == 0:
        return np.full(len(probs), np.nan)
    q = np.quantile(values, probs)
    noise = 4 * np.finfo(float).eps * np.max(np.abs(values))
    return np.where(np.abs(q) <= noise, 0.0, q)


def relative_quantiles(diffs: pd.Series, levels: pd.Series) -> tuple[float, float, float]:
    """Return the 5%, 50% and 95% points of each run's difference over its baseline run.

    Paired by draw and replicate: a run's relative change, which for a count is never
    below -100%, where a difference over the baseline's median (the reporting NGOs of a
    run with a large register falling by more than the median run holds) can be. A
    baseline run of 0 whose pair is 0 too is no change; NaN if a baseline run is 0 and its
    pair is not, where a relative change is undefined.
    """
    levels = levels.reindex(diffs.index)
    zero = (levels == 0).to_numpy()
    if (diffs.to_numpy()[zero] != 0).any():
        return (np.nan,) * 3
    relative = np.where(zero, 0.0, diffs.to_numpy() / np.where(zero, 1.0, levels.to_numpy()))
    q05, q50, q95 = quantiles(relative, [0.05, 0.5, 0.95])
    return float(q05), float(q50), float(q95)


def _ratio(width: float, reference: float) -> float:
    return float(width / reference) if np.isfinite(reference) and reference > 0 else np.nan


UNSEEN = (
    "  every difference and its interval is exactly 0: the change does nothing in these "
    "runs (a mechanism not at work in this country, say), or none of the outputs listed, "
    "in the key years, sees it; which of the two, the runs cannot tell"
)


def all_exactly_zero(bounds: pd.DataFrame) -> bool:
    """Return whether every interval of a counterfactual's differences is exactly [0, 0]."""
    return bool((bounds.to_numpy() == 0).all())


def format_summary(table: pd.DataFrame, experiment: Experiment) -> str:
    """Return the summary as text, one block per counterfactual."""
    blocks = []
    for name, part in table.groupby("counterfactual", sort=False):
        shown = pd.DataFrame(
            {
                "output": part["output"],
                "unit": part["unit"],
                "year": part["year"],
                "baseline": part["baseline_median"].map(_fmt),
                "counterfactual": part["counterfactual_median"].map(_fmt),
                "difference [90% interval]": [
                    format_difference((m, a, b), max(abs(x), abs(y)))
                    for m, a, b, x, y in zip(
                        part.diff_median,
                        part.diff_q05,
                        part.diff_q95,
                        part.baseline_median,
                        part.counterfactual_median,
                        strict=True,
                    )
                ],
                "CRN/indep. width": part["crn_width_ratio"].map(
                    lambda r: "n/a" if not np.isfinite(r) else f"{r:.2f}"
                ),
            }
        )
        unseen = UNSEEN + "\n" if all_exactly_zero(part[["diff_q05", "diff_q95"]]) else ""
        blocks.append(
            f"{name}: {experiment.question(name)}\n"
            f"  changes: {', '.join(dated_experiment_changes(experiment, name))}\n"
            + unseen
            + shown.to_string(index=False)
        )
    note = (
        "baseline / counterfactual: medians over runs; difference: counterfactual minus "
        "baseline, median and 90% interval of the paired differences (same parameters and "
        "seeds); 0 exactly zero, +0 or -0 "
        "not zero but below the last digit shown of the medians.\nCRN/indep. width: 90% "
        "width with common random numbers over the width with independent seeds (same "
        "parameters); below 1 means the paired design narrows the interval."
    )
    if experiment.spec.replicates < 2:
        note += " n/a: needs at least 2 replicates."
    return "\n\n".join(blocks) + "\n\n" + note


def _fmt(x: float, signed: bool = False, millions: bool = False) -> str:
    if not np.isfinite(x):
        return "nan"
    sign = "+" if signed else ""
    if millions or abs(x) >= 1e6:
        return f"{x / 1e6:{sign},.2f}M"
    if abs(x) >= 100:
        return f"{x:{sign},.0f}"
    return f"{x:{sign}.3g}"


def format_difference(diffs: tuple[float, float, float], level: float) -> str:
    """Return "median [q05, q95]" of a difference, at most as fine as its level is shown.

    An exact zero reads 0 (the same runs, as before a policy starts). A difference below
    the last digit ``_fmt`` shows of the level reads +0 or -0, its sign kept (an interval
    that excludes zero still shows it): float rounding between runs that differ only in
    the order of a sum (of the order of 1e-7 on a share) and a real but negligible effect
    look alike at the level's precision; ``summary.csv`` has the value.
    """
    shown = _shown_resolution(level) if np.isfinite(level) and level > 0 else 0.0
    # One unit for the three: "-1.58M [-2.62M, -986,058]" read as two scales.
    millions = any(abs(d) >= 1e6 for d in diffs if np.isfinite(d))
    m, a, b = (_fmt_shown(d, shown, millions) for d in diffs)
    return f"{m} [{a}, {b}]"


def _fmt_shown(difference: float, resolution: float, millions: bool = False) -> str:
    """Return a difference as ``format_difference`` shows it (0, +0, -0 or signed)."""
    if difference == 0:
        return "0"
    # In millions a difference under 5,000 would read "-0.00M" beside the rule's own -0.
    if abs(difference) < max(resolution, 1e4 if millions else 0.0) / 2:
        return "+0" if difference > 0 else "-0"
    return _fmt(difference, True, millions)


def _shown_resolution(level: float) -> float:
    """Return the value of the last digit ``_fmt`` shows of a positive ``level``."""
    if level >= 1e6:
        return 1e4
    if level >= 100:
        return 1.0
    return 10.0 ** (np.floor(np.log10(level)) - 2)


def describe(experiment: Experiment, posterior: str | Path) -> str:
    """Return a short description of the experiment's design (printed before running)."""
    spec, base = experiment.spec, experiment.baseline
    params = (
        f"posterior draws ({posterior})"
        if spec.params == "posterior"
        else "the scenarios' own behaviour values (no posterior)"
    )
    lines = [
        f"{spec.name} ({experiment.path}): baseline '{base.name}' {base.start_year}-"
        f"{base.end_year}; {len(experiment.counterfactuals)} counterfactual(s); "
        f"{len(experiment.scenarios)} scenarios x {spec.draws} draws x {spec.replicates} "
        f"replicate(s) = {experiment.runs:,} runs; parameters: {params}; seed {spec.seed}"
    ]
    for name in experiment.counterfactuals:
        lines.append(f"  {name}: {', '.join(dated_experiment_changes(experiment, name))}")
    notes = []
    if spec.params == "posterior":
        names = parameter_names(load_posterior(posterior))
        notes = [
            changed_note(Path(posterior), (base.country,)),
            lacking_note(names, experiment.countries),
        ]
    return "\n".join(lines + [n for n in notes if n])
