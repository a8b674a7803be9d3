"""The committed calibration result: weighted posterior particles and their summaries.

``calibration/posterior.parquet`` holds joint draws of the calibrated parameters (one
column per parameter, plus ``weight``): the amortised estimator's draws at the reported
figures (``calibration.amortised``, equal weights), or an ABC-SMC generation's weighted
particles (``calibration.abc``); ``calibration/calibrated.yaml`` holds posterior medians
and 90% intervals for people to read. Runs, experiments and the
dashboard use the calibrated model through ``posterior_median`` and ``draw_posterior``.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np
import pandas as pd

from model import COUNTRIES, ScenarioError
from model.config_files import is_whole

DEFAULT_POSTERIOR = Path(__file__).with_name("posterior.parquet")
WEIGHT = "weight"


def summary_named(posterior: Path, given: bool) -> Path:
    """Return the summary ``ngo-abm calibrate`` writes beside a posterior table.

    A table named on the command line (``given``: ``--posterior X.parquet``) has
    ``X.yaml``; the committed tables and those beside a database
    (``<stem>posterior.parquet``) have ``<stem>calibrated.yaml``.
    """
    if given:
        return posterior.with_suffix(".yaml")
    stem = posterior.name.removesuffix("posterior.parquet")
    return posterior.with_name(f"{stem}calibrated.yaml")


def has_posterior(path: str | Path = DEFAULT_POSTERIOR) -> bool:
    """Return whether a posterior file exists."""
    return Path(path).exists()


def missing_posterior(path: str | Path) -> str:
    """Say why ``path`` gives no posterior: the committed one is made by ``make recalibrate``.

    Any other file is one the user named, so a mistyped name reads as one.
    """
    if Path(path).resolve() == Path(DEFAULT_POSTERIOR).resolve():
        return "no posterior: `make recalibrate` makes the committed one (docs/calibration.md)"
    return "file not found"


def load_posterior(path: str | Path = DEFAULT_POSTERIOR) -> pd.DataFrame:
    """Return the posterior particles (parameter columns and normalised ``weight``).

    Raises:
        ScenarioError: if the file is missing or is not a posterior table.
    """
    path = Path(path)
    if not path.exists():
        raise ScenarioError(path, "", missing_posterior(path))
    if path.is_dir():
        # pandas would read a folder of Parquet files as one table.
        raise ScenarioError(path, "", "is a folder, not a file")
    if not path.is_file():
        # Opening a pipe would wait for a writer.
        raise ScenarioError(path, "", "not a regular file (a device or a pipe?)")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError):
        raise ScenarioError(path, "", "not a readable Parquet posterior") from None
    check_posterior_table(frame, path)
    weights = frame[WEIGHT]
    with np.errstate(over="ignore"):  # an overflowing sum is handled below, without a warning
        total = weights.sum()
    if not np.isfinite(total):
        # Weights near the largest float overflow their sum; they are relative, so scaled
        # by the largest first (only then: it would move other posteriors' last bits).
        weights = weights / weights.max()
        total = weights.sum()
    return frame.assign(**{WEIGHT: weights / total})


def check_posterior_table(frame: pd.DataFrame, source: str | Path = "posterior") -> pd.DataFrame:
    """Return ``frame`` if it is a posterior table; else raise ``ScenarioError`` naming ``source``.

    A posterior needs parameter columns and a ``weight`` column of finite numbers, weights
    at least 0 and not all 0. Checked for the whole table at once: a run that draws a later
    particle would otherwise fail inside a worker, after the first runs. A table built in
    Python is checked as a file is.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ScenarioError(
            source, "", f"must be a table (pandas DataFrame), got {type(frame).__name__}"
        )
    if WEIGHT not in frame.columns or len(frame.columns) < 2 or frame.empty:
        raise ScenarioError(source, WEIGHT, "a posterior needs parameter columns and weights")
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise ScenarioError(source, str(column), f"must hold numbers, not {values.dtype}")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ScenarioError(source, str(column), f"row {row} is not a finite number")
    weights = frame[WEIGHT].to_numpy(dtype=float)
    if (weights < 0).any() or not (weights > 0).any():
        raise ScenarioError(source, WEIGHT, "weights must be at least 0, and not all 0")
    return frame


def parameter_names(posterior: pd.DataFrame) -> list[str]:
    """Return the calibrated parameter names of a posterior table."""
    return [c for c in posterior.columns if c != WEIGHT]


def effective_sample_size(posterior: pd.DataFrame) -> float:
    """Return Kish's effective sample size of the posterior's importance weights."""
    w = posterior[WEIGHT].to_numpy(dtype=float)
    return float(w.sum() ** 2 / (w**2).sum())


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Return the ``q`` quantile of weighted samples (midpoint interpolation of the CDF).

    Raises:
        ScenarioError: naming ``q``, ``values`` or ``weights`` if it cannot give one (numpy
            would interpolate a quantile outside 0-1 to an end value, or return nan).
    """
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if isinstance(q, bool) or not isinstance(q, numbers.Real) or not 0 <= q <= 1:
        raise ScenarioError("q", "", f"must be a number from 0 to 1, got {q!r}")
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
        raise ScenarioError("values", "", "must be a non-empty list of finite numbers")
    if weights.shape != values.shape:
        raise ScenarioError(
            "weights", "", f"need one per value ({values.size}), got {weights.size}"
        )
    if not np.isfinite(weights).all() or (weights < 0).any() or not (weights > 0).any():
        raise ScenarioError("weights", "", "must be finite, at least 0, and not all 0")
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cdf, v))


def posterior_summary(posterior: pd.DataFrame) -> pd.DataFrame:
    """Return the weighted median and 90% interval of each parameter.

    Raises:
        ScenarioError: if ``posterior`` is not a posterior table (``load_posterior``'s checks).
    """
    check_posterior_table(posterior)
    w = posterior[WEIGHT].to_numpy()
    rows = []
    for name in parameter_names(posterior):
        x = posterior[name].to_numpy(dtype=float)
        rows.append(
            {
                "parameter": name,
                "median": weighted_quantile(x, w, 0.5),
                "q05": weighted_quantile(x, w, 0.05),
                "q95": weighted_quantile(x, w, 0.95),
            }
        )
    return pd.DataFrame(rows)


def posterior_median(path: str | Path = DEFAULT_POSTERIOR) -> dict[str, float]:
    """Return ``{parameter: weighted posterior median}``."""
    summary = posterior_summary(load_posterior(path))
    return dict(zip(summary.parameter, summary["median"], strict=True))


def draw_posterior(
    n: int, seed: int, path: str | Path | pd.DataFrame = DEFAULT_POSTERIOR
) -> list[dict[str, float]]:
    """Draw ``n`` parameter sets from the posterior by weighted resampling.

    Args:
        n: Number of draws.
        seed: Seed of the draw (the same seed gives the same draws).
        path: Posterior file, or an already loaded posterior table.
    """
    # Named here: numpy's own errors (negative dimensions, a generator as seed) did not.
    if not is_whole(n, 1):
        raise ScenarioError("n", "", f"must be a whole number from 1, got {n!r}")
    if not is_whole(seed, 0):
        raise ScenarioError("seed", "", f"must be a whole number from 0, got {seed!r}")
    posterior = (
        check_posterior_table(path) if isinstance(path, pd.DataFrame) else load_posterior(path)
    )
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x9057]))
    weights = posterior[WEIGHT].to_numpy()
    picks = rng.choice(len(posterior), size=n, replace=True, p=weights / weights.sum())
    names = parameter_names(posterior)
    values = posterior[names].to_numpy(dtype=float)
    return [dict(zip(names, values[i], strict=True)) for i in picks]


def check_drawn(scenario, params: list[dict[str, float]], source) -> None:
    """Raise ``ScenarioError`` naming ``source`` if ``scenario`` refuses a replicate's values.

    ``params`` are the replicates' overrides read from ``source`` (a posterior's draws or
    median, whose values are finite: ``check_posterior_table``); each parameter's lowest
    and highest value are checked (``check_extremes``).
    """
    sets = [p for p in params if p]
    if not sets:
        return
    low, high = ({n: bound(s[n] for s in sets) for n in sets[0]} for bound in (min, max))
    check_extremes(scenario, low, high, source)


def check_extremes(scenario, low: dict[str, float], high: dict[str, float], source) -> None:
    """Raise ``ScenarioError`` naming ``source`` if ``scenario`` refuses ``low`` or ``high``.

    Each parameter's valid values are an interval (``Scenario.with_params``), so every set
    of values between the two is valid when both ends are: two checks before the first
    run, rather than a failure in a worker at one draw or sample. ``source`` is the file the
    values came from (a posterior, a priors file), which the message names instead of
    ``params``.
    """
    for values in (low, high):
        try:
            scenario.with_params(values)
        except ScenarioError as exc:
            raise ScenarioError(source, exc.field, exc.message) from None


def applies_to(name: str, country: str) -> bool:
    """Return whether a parameter can move a run of ``country``: shared, or the country's."""
    prefix = name.split(".", 1)[0]
    return prefix not in COUNTRIES or prefix == country


def calibrated_lacking(names, countries) -> list[str]:
    """Return the calibrated parameters of ``countries`` that ``names`` lack.

    ``names`` are a posterior's parameters; the calibrated ones of ``countries`` are the
    shared ones and those countries' own in ``calibration/priors.yaml``. A run takes the
    scenario's value for a parameter it is not given: a posterior without ``civic_rate``
    ran with one uncalibrated number and said nothing.
    """
    from calibration.priors import load_priors  # pyabc, only where a posterior is read

    wanted = [p for p in load_priors() if any(applies_to(p, c) for c in countries)]
    return [p for p in wanted if p not in names]


def lacking_note(names, countries) -> str | None:
    """Say which calibrated parameters a posterior lacks, whose runs keep scenario values."""
    lacking = calibrated_lacking(names, countries)
    if not lacking:
        return None
    shown = ", ".join(lacking[:5]) + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
    return (
        f"note: the posterior lacks {len(lacking)} calibrated parameter(s) ({shown}): the "
        "runs keep the scenario's values for them"
    )
