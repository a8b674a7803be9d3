"""Run the regional calibration and write its posterior and report.

``ngo-abm calibrate regional``: the draws of ``calibration.regional`` run through
``experiments.runner`` (local processes; the table does not depend on their number), the
kept draws (every fitted pattern holding and every figure met alone met in the region)
become ``calibration/regional_posterior.parquet``, and ``calibration/report/regional.md``
(with ``regional_draws.csv``) says how often each pattern holds under the prior and among
the kept draws, how often the countries keep their figures in the region and which figures
they lose most often, the effective sample size the likelihood-ratio weights would give
(a diagnostic, not used), how the kept draws narrow each regional parameter, whether the
patterns hold in the posterior predictive median, and each country's figures inside the
region against alone on draws of the posterior.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from calibration.atomic import write_text_atomic
from calibration.compare import UNDEFINED, compare, signed_percent, undefined_notes
from calibration.posterior import DEFAULT_POSTERIOR, draw_posterior
from calibration.priors import load_priors
from calibration.regional import (
    COUNTRIES_AS_ALONE,
    LOG_WEIGHT,
    LOST_TARGETS,
    REGIONAL_POSTERIOR,
    REGIONAL_PRIORS,
    draws_table,
    inside_and_alone,
    kept_draws,
    likelihood_ratio_ess,
    regional_draws,
    simulate_draw,
    write_posterior,
)
from calibration.regional_patterns import (
    PATTERNS_FILE,
    check_years,
    fitted_ids,
    load_patterns,
    median_pattern_values,
    pattern_inputs,
)
from calibration.targets import DEFAULT_TARGETS, load_target_file
from model import ScenarioError
from model.regional import simulate_region
from model.regional_files import load_region
from model.regional_scenario import REGIONAL_RANGES, Region
from model.yaml_files import read_yaml_mapping

from .markdown import markdown_table
from .runner import map_runs, replicate_seeds
from .runs import check_comparable, file_sha256

PROJECT = Path(__file__).resolve().parent.parent
REPORT = PROJECT / "calibration" / "report" / "regional.md"
# What the regional posterior was computed from (``provenance``), beside it.
SUMMARY = REGIONAL_POSTERIOR.with_suffix(".yaml")
PREDICTIVE_DRAWS = 40
COUNTRY_CHECK_DRAWS = 20


def run_calibration(region: Region, n: int, seed: int, workers: int) -> pd.DataFrame:
    """Run ``n`` draws of the regional calibration; return the table of draws."""
    draws = regional_draws(n, seed)
    tasks = [(region, d) for d in draws]
    results = map_runs(simulate_draw, tasks, workers, progress=True, desc="draws")
    return draws_table(draws, results)


def _run_draw(task: tuple[Region, dict[str, float], int]) -> tuple[pd.Series, pd.Series]:
    region, params, seed = task
    return pattern_inputs(simulate_region(region.with_params(params), seed=seed))


def predictive_patterns(
    region: Region, posterior: pd.DataFrame, seed: int, workers: int
) -> dict[str, bool]:
    """Return whether each pattern holds in the median of posterior predictive runs."""
    params = draw_posterior(PREDICTIVE_DRAWS, seed, posterior)
    seeds = replicate_seeds(seed, PREDICTIVE_DRAWS)
    tasks = [(region, p, s) for p, s in zip(params, seeds, strict=True)]
    inputs = map_runs(_run_draw, tasks, workers, progress=True, desc="predictive")
    return median_pattern_values(inputs)


def _inside_and_alone(task: tuple[Region, dict[str, float], int]) -> tuple[dict, dict]:
    """Run one draw in the region and each country alone; return both sets of tables."""
    region, params, seed = task
    _, inside, alone = inside_and_alone(region.with_params(params), seed)
    return inside, alone


def country_check(region: Region, posterior: pd.DataFrame, seed: int, workers: int) -> pd.DataFrame:
    """Compare each country's figures inside the region and alone, on the same draws.

    ``COUNTRY_CHECK_DRAWS`` joint draws of the regional posterior and their seeds run in
    the regional model and, with the same country parameters and seeds, each country
    alone; both go through the comparison with the reported figures (``calibration.compare``).
    """
    params = draw_posterior(COUNTRY_CHECK_DRAWS, seed, posterior)
    seeds = replicate_seeds(seed, COUNTRY_CHECK_DRAWS)
    tasks = [(region, p, s) for p, s in zip(params, seeds, strict=True)]
    pairs = map_runs(_inside_and_alone, tasks, workers, progress=True, desc="countries")
    targets = load_target_file(DEFAULT_TARGETS).targets
    tables = []
    for label, side in (("region", 0), ("alone", 1)):
        runs = {
            c: pd.concat([pair[side][c].assign(replicate=r) for r, pair in enumerate(pairs)])
            for c in region.countries
        }
        table = compare(runs, targets).rename(columns={"within_tolerance": "within"})
        table = table[["id", "reported", "model_median", "rel_error", "within"]]
        tables.append(table.set_index(["id", "reported"]).add_prefix(f"{label} "))
    return pd.concat(tables, axis=1).reset_index()


def _median_cell(x: float) -> str:
    return f"{x:.4g}" if np.isfinite(x) else UNDEFINED


def country_lines(check: pd.DataFrame) -> list[str]:
    """Return the report's lines on the countries inside the region against alone."""
    shown = check.assign(
        **{
            f"{side} {col}": check[f"{side} {col}"].map(fmt)
            for side in ("region", "alone")
            for col, fmt in (("model_median", _median_cell), ("rel_error", signed_percent))
        }
    ).assign(
        **{
            f"{side} within": check[f"{side} within"].map({True: "yes", False: "NO"})
            for side in ("region", "alone")
        }
    )
    medians = check[[f"{side} model_median" for side in ("region", "alone")]]
    lost = check[check["alone within"] & ~check["region within"]].id.tolist()
    gained = check[~check["alone within"] & check["region within"]].id.tolist()
    return [
        f"## Each country inside the region against alone ({COUNTRY_CHECK_DRAWS} joint draws "
        "of the regional posterior, the same seeds)",
        "",
        f"Targets within tolerance: {int(check['region within'].sum())} of {len(check)} in the "
        f"region, {int(check['alone within'].sum())} alone. Met alone and missed in the "
        f"region: {', '.join(lost) or 'none'}. Missed alone and met in the region: "
        f"{', '.join(gained) or 'none'}.",
        "",
        markdown_table(shown),
        *(line for note in undefined_notes(medians) for line in ("", note)),
        "",
    ]


def parameter_table(draws: pd.DataFrame) -> pd.DataFrame:
    """Return each regional parameter's prior and kept 90% ranges and their width ratio."""
    priors = load_priors(REGIONAL_PRIORS, REGIONAL_RANGES)
    kept = draws[draws.kept]
    rows = []
    for name, spec in priors.items():
        lo, hi = spec.quantiles(np.array([0.05, 0.95]))
        klo, kmed, khi = np.quantile(kept[name], [0.05, 0.5, 0.95])
        rows.append(
            {
                "parameter": name,
                "prior 90%": f"{lo:.3g} - {hi:.3g}",
                "kept median": f"{kmed:.3g}",
                "kept 90%": f"{klo:.3g} - {khi:.3g}",
                "width ratio": round((khi - klo) / (hi - lo), 2),
            }
        )
    return pd.DataFrame(rows)


def pattern_table(draws: pd.DataFrame, predictive: dict[str, bool]) -> pd.DataFrame:
    """Return, per pattern, how often it holds under the prior and among the kept draws."""
    kept, patterns = draws[draws.kept], load_patterns()
    return pd.DataFrame(
        {
            "pattern": [p.id for p in patterns],
            "what": [p.description for p in patterns],
            "fitted": [_fitted_label(p, draws[p.id].mean()) for p in patterns],
            "prior draws": [f"{draws[p.id].mean():.0%}" for p in patterns],
            "kept draws": [f"{kept[p.id].mean():.0%}" for p in patterns],
            "posterior predictive median": [
                "holds" if predictive[p.id] else "does not hold" for p in patterns
            ],
        }
    )


def _fitted_label(pattern, prior_rate: float) -> str:
    if pattern.fitted:
        return "yes"
    label = f"no: {pattern.not_fitted}, so it checks the mechanism"
    return label + (" (holds at every prior draw)" if prior_rate == 1.0 else "")


# The most often lost figures the report lists.
LOST_SHOWN = 10


def country_criterion_lines(draws: pd.DataFrame) -> list[str]:
    """Return the report's lines on the countries' figures in the region against alone."""
    fitted = draws[list(fitted_ids(load_patterns()))].all(axis=1)
    holds, holds_fitted = draws[COUNTRIES_AS_ALONE], draws.loc[fitted, COUNTRIES_AS_ALONE]
    log_w = draws.loc[draws.kept, LOG_WEIGHT]
    lines = [
        f"- countries as alone: {int(holds.sum())} of {len(draws)} draws ({holds.mean():.1%}) "
        "meet in the region every figure of their countries they meet alone; "
        f"{int(holds_fitted.sum())} of the {int(fitted.sum())} with every fitted pattern",
    ]
    if not log_w.empty:
        lines.append(
            "- likelihood-ratio weights (diagnostic, not used): effective sample size "
            f"{likelihood_ratio_ess(draws):.1f} of {len(log_w)} kept; log-weight 5-50-95%: "
            f"{' / '.join(f'{v:+.2f}' for v in np.quantile(log_w, [0.05, 0.5, 0.95]))}. "
            "Not the posterior's weights: where the country posterior misses a figure by "
            "several tolerances the normal likelihood is steep, so small regional shifts "
            "swing them and a few draws carry all the weight; the figures enter through "
            "the criterion above instead"
        )
    return lines


def lost_table(draws: pd.DataFrame) -> pd.DataFrame:
    """Return the figures most often met alone and missed in the region, with their counts."""
    fitted = draws[list(fitted_ids(load_patterns()))].all(axis=1)
    lost = draws[LOST_TARGETS].fillna("").str.split(";")
    counts = {
        "all draws": lost.explode().value_counts(),
        "draws with every fitted pattern": lost[fitted].explode().value_counts(),
    }
    table = pd.DataFrame(counts).drop(index="", errors="ignore").fillna(0).astype(int)
    table = table.sort_values(list(counts), ascending=False).head(LOST_SHOWN)
    return table.rename_axis("target met alone, missed in the region").reset_index()


def write_report(
    draws: pd.DataFrame,
    predictive: dict[str, bool],
    check: pd.DataFrame,
    seconds: float,
    report: Path = REPORT,
) -> Path:
    """Write the report (``regional.md``) and ``regional_draws.csv`` beside it."""
    kept = int(draws.kept.sum())
    lines = [
        "# Regional calibration: the article's regional patterns",
        "",
        f"- method: pattern-oriented rejection with the countries' figures as a pattern "
        f"(calibration/regional.py), {len(draws)} draws (regional priors x country posterior "
        "draws), one run each in the region and one of each country alone (same seed)",
        f"- kept: {kept} of {len(draws)} ({kept / len(draws):.1%}), every fitted pattern "
        "holding and every figure met alone met in the region",
        *country_criterion_lines(draws),
        f"- run time: {seconds:.0f} s",
        f"- posterior predictive: median of {PREDICTIVE_DRAWS} runs of kept draws (new seeds)",
        "",
        "## Patterns",
        "",
        markdown_table(pattern_table(draws, predictive)),
        "",
        "## Figures met alone and missed in the region (draws losing each)",
        "",
        markdown_table(lost_table(draws)),
        "",
        "## Regional parameters (90% ranges, kept draws against the prior)",
        "",
        markdown_table(parameter_table(draws)),
        "",
        *country_lines(check),
    ]
    report.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(report.with_name("regional_draws.csv"), draws.to_csv(index=False))
    write_text_atomic(report, "\n".join(lines))
    return report


def provenance(region: Region, n: int, seed: int) -> dict:
    """Return what the regional posterior was computed from: its inputs' SHA-256 and run."""
    inputs = [
        region.path,
        REGIONAL_PRIORS,
        PATTERNS_FILE,
        DEFAULT_POSTERIOR,
        *region.spec.countries.values(),
    ]
    return {
        # Relative to the project, as given by default: the record is the same in every
        # checkout of the same inputs.
        "region": _shown(region.path),
        "draws": n,
        "seed": seed,
        "fitted": list(fitted_ids(load_patterns())),
        "criterion": "every fitted pattern holds and every figure of the region's countries "
        "met alone (within tolerance) is met in the region",
        "inputs_sha256": {Path(path).name: file_sha256(path) for path in inputs},
    }


def changed_inputs(summary: Path | None = None) -> list[str]:
    """Return the inputs whose bytes differ from those the regional posterior recorded.

    The committed files of ``provenance`` (the regional scenario it names, its countries'
    files, the regional priors and patterns, the country posterior), read again as they
    are now; a file that is gone counts as changed. Empty without a recorded summary
    (``summary``: by default the committed one, ``SUMMARY``).
    """
    summary = SUMMARY if summary is None else summary
    if not summary.exists():
        return []
    stored = read_yaml_mapping(summary)
    recorded = stored.get("inputs_sha256")
    if not isinstance(recorded, dict):
        return []
    region_file = PROJECT / str(stored.get("region", ""))
    try:
        current = provenance(load_region(region_file), 0, 0)["inputs_sha256"]
    except (ScenarioError, OSError):
        current = {}
    return [name for name, sha in recorded.items() if current.get(name) != sha]


def changed_note(posterior: Path | None, own_values: str) -> str | None:
    """Return a note if a run with the regional posterior's draws meets changed inputs.

    ``own_values`` says how the caller runs the files' own values instead (a run's
    ``--params scenario``, an experiment file's ``params: scenario``).
    """
    changed = changed_inputs() if posterior == REGIONAL_POSTERIOR else []
    if not changed:
        return None
    return (
        f"note: {', '.join(changed)} changed since the regional posterior was computed "
        f"({REGIONAL_POSTERIOR.name}; inputs_sha256 in {SUMMARY.name}): its draws were kept "
        f"for other inputs; recalibrate the regional layer "
        f"(ngo-abm calibrate regional --draws 2400) or {own_values}"
    )


def _shown(path: Path) -> str:
    resolved = Path(path).resolve()
    return (
        resolved.relative_to(PROJECT).as_posix() if resolved.is_relative_to(PROJECT) else str(path)
    )


def calibrate_and_report(
    region: Region,
    n: int,
    seed: int,
    workers: int,
    posterior: Path = REGIONAL_POSTERIOR,
    report: Path = REPORT,
) -> Path:
    """Run the calibration and its checks; then write the posterior, its inputs and the report.

    ``posterior`` and ``report`` are the committed files unless a trial names its own (its
    inputs go beside the posterior, ``.yaml``). Nothing is written until every run is done,
    so a stopped calibration leaves the posterior and report as they were.
    """
    started = time.perf_counter()
    check_years(region.start_year, region.end_year)
    # The countries' figures are compared after the runs (country_check): refused now.
    spans = {c: (s.start_year, s.end_year) for c, s in region.countries.items()}
    check_comparable(spans, DEFAULT_TARGETS)
    # The checks after the calibration run seeds from ``seed`` on: refused now, not after it.
    replicate_seeds(seed, max(PREDICTIVE_DRAWS, COUNTRY_CHECK_DRAWS))
    draws = run_calibration(region, n, seed, workers)
    kept = kept_draws(draws)
    predictive = predictive_patterns(region, kept, seed, workers)
    check = country_check(region, kept, seed, workers)
    write_posterior(kept, posterior)
    text = yaml.safe_dump(provenance(region, n, seed), sort_keys=False)
    write_text_atomic(posterior.with_suffix(".yaml"), text)
    return write_report(draws, predictive, check, time.perf_counter() - started, report)
