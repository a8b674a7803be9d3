"""Which parameters a sensitivity analysis varies, and over which ranges.

The calibrated parameters that apply to the analysed country (the shared behaviour
parameters and that country's donor budget level), over their posterior 5%-95% ranges
(``calibration.posterior.posterior_summary``), or over their prior ranges
(``calibration/priors.yaml``) when there is no posterior; a parameter with no spread in
the posterior is held at its value. Used by ``experiments.sensitivity``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from calibration.posterior import (
    DEFAULT_POSTERIOR,
    has_posterior,
    load_posterior,
    parameter_names,
    posterior_summary,
)
from model import COUNTRIES, Behaviour, ScenarioError
from model.scenario import SCENARIO_NUMBERS

PRIORS = Path(__file__).resolve().parent.parent / "calibration" / "priors.yaml"


def sampling_problem(
    country: str,
    posterior: str | Path = DEFAULT_POSTERIOR,
    priors: str | Path = PRIORS,
    shown: Callable[[str | Path], str] | None = None,
) -> tuple[dict, str]:
    """Return SALib's problem (names, bounds, distributions) and where the ranges come from.

    Parameters are the calibrated ones that apply to ``country``: shared behaviour and
    that country's donor budget level. Ranges are the posterior 5%-95% interval, or the
    prior's range without a posterior. ``shown`` writes a file's path in the text (by
    default relative to the working folder where it lies inside it: ``_shown``).
    """
    from calibration.priors import load_priors

    shown = shown or _shown

    specs = load_priors(priors)
    if has_posterior(posterior):
        ranges = _posterior_ranges(country, posterior)
        names = list(ranges)
        bounds = [(q05, q95) for q05, q95, _ in ranges.values()]
        source = f"posterior 5%-95% intervals ({shown(posterior)})"
        absent = [n for n in specs if _applies(n, country) and n not in names]
        if absent:
            source += f"; not in it, so held at the scenario's values: {', '.join(absent)}"
        held = _without_spread(ranges)
        if held:
            values = ", ".join(f"{n} {v:.4g}" for n, v in held.items())
            source += f"; without spread in it, so held at its value: {values}"
    else:
        names = [n for n in specs if _applies(n, country)]
        bounds = [(specs[n].low, specs[n].high) for n in names]
        source = f"prior ranges of {shown(priors)}: no posterior at {shown(posterior)}"
    kept = [(n, b) for n, b in zip(names, bounds, strict=True) if b[0] < b[1]]
    if not kept:
        raise ScenarioError(posterior, "", f"no parameter of {country} has a range to vary")
    dists = [
        "logunif" if n in specs and specs[n].distribution == "loguniform" else "unif"
        for n, _ in kept
    ]
    problem = {
        "num_vars": len(kept),
        "names": [n for n, _ in kept],
        "bounds": [list(b) for _, b in kept],
        "dists": dists,
    }
    return problem, source


def ranges_titled(
    country: str, posterior: str | Path = DEFAULT_POSTERIOR, priors: str | Path = PRIORS
) -> str:
    """Return where the ranges come from as a figure's title says it: files by name alone.

    The set-up and the manifest keep ``sampling_problem``'s text, with the path; an
    absolute path in the title, on one line, made the figure 5,000 px wide.
    """
    return sampling_problem(country, posterior, priors, shown=lambda path: Path(path).name)[1]


def held_values(country: str, posterior: str | Path = DEFAULT_POSTERIOR) -> dict[str, float]:
    """Return the posterior's parameters of ``country`` with no 5%-95% spread, at their median.

    SALib cannot vary a parameter over an empty range, so the runs hold it at the
    posterior's value (not the scenario's).
    """
    if not has_posterior(posterior):
        return {}
    return _without_spread(_posterior_ranges(country, posterior))


def _without_spread(ranges: dict[str, tuple[float, ...]]) -> dict[str, float]:
    return {n: median for n, (q05, q95, median) in ranges.items() if not q05 < q95}


def _posterior_ranges(country: str, posterior: str | Path) -> dict[str, tuple[float, ...]]:
    """Return ``{parameter: (q05, q95, median)}`` of the posterior's parameters of ``country``."""
    frame = load_posterior(posterior)
    # A name a run refuses (``Scenario.with_params``) is a mistake, not a parameter to
    # leave out of the analysis unsaid; another country's are left out.
    unknown = [n for n in parameter_names(frame) if not _known(n)]
    if unknown:
        raise ScenarioError(posterior, unknown[0], "unknown parameter")
    summary = posterior_summary(frame).set_index("parameter")
    return {
        n: tuple(float(summary.loc[n, c]) for c in ("q05", "q95", "median"))
        for n in parameter_names(frame)
        if _applies(n, country)
    }


def _shown(path: str | Path) -> str:
    """Return a path relative to the working folder when it lies inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def _known(name: str) -> bool:
    """Whether a run takes ``name``: a behaviour's or a scenario number, for all or a country."""
    prefix, _, field = name.rpartition(".")
    known = field in Behaviour.model_fields or field in SCENARIO_NUMBERS
    return known and (not prefix or prefix in COUNTRIES)


def _applies(name: str, country: str) -> bool:
    prefix, _, field = name.rpartition(".")
    return (not prefix and field in Behaviour.model_fields) or (
        prefix == country and prefix in COUNTRIES
    )
