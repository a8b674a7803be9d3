"""Where a run's behavioural parameters come from: the committed posterior or the scenario.

``--params`` of ``ngo-abm run`` and ``compare`` (and the regional runs, through
``experiments.regional_runs``): ``median`` (the committed posterior's medians),
``posterior`` (one draw per replicate), ``scenario`` (the scenario's own values) or
``auto`` (``median`` once a posterior is committed). Source: the calibration's posterior
(``calibration.posterior``; docs/calibration.md).
"""

from __future__ import annotations

from pathlib import Path

from calibration.posterior import DEFAULT_POSTERIOR, draw_posterior, has_posterior, posterior_median
from model import ScenarioError

from .runner import replicate_seeds

PARAM_MODES = ("auto", "median", "posterior", "scenario")


def check_mode(mode: str) -> None:
    """Refuse a mode that is not one of ``PARAM_MODES`` (one ran the median without a word)."""
    if mode not in PARAM_MODES:
        raise ScenarioError("params", "", f"{mode!r} is none of {', '.join(PARAM_MODES)}")


def replicate_params(mode: str, replicates: int, seed: int) -> tuple[list[dict], str]:
    """Return each replicate's parameter overrides and a description of their source.

    Args:
        mode: ``median`` (the committed posterior's medians), ``posterior`` (one posterior
            draw per replicate), ``scenario`` (the scenario's own behaviour values) or
            ``auto`` (``median`` when a committed posterior exists, else ``scenario``).
        replicates: Number of replicates.
        seed: Seed of the posterior draws.
    """
    # Checked first: a bad count or seed failed inside numpy's draws, without a name.
    replicate_seeds(seed, replicates)
    file = params_file(mode)
    if file is None:
        return [{} for _ in range(replicates)], "scenario behaviour values"
    if mode == "posterior":
        return draw_posterior(replicates, seed, file), f"posterior draws ({file.name})"
    # One dict a replicate: a caller changing one replicate's values changed them all.
    median = posterior_median(file)
    return [dict(median) for _ in range(replicates)], f"{MEDIAN_SOURCE} ({file.name})"


# What a manifest's ``params_source`` begins with (after "regional ", for the regional
# posterior) when every replicate ran the posterior median: ``compare`` reads it back.
MEDIAN_SOURCE = "posterior median"


def median_intervals_note(manifest: dict) -> str | None:
    """Say that a run folder's replicates of the posterior median spread by noise only.

    ``median_spread_note`` says it when the runs are made; this, when a folder is compared.
    """
    source = manifest.get("params_source") or ""
    if manifest.get("replicates", 1) < 2 or MEDIAN_SOURCE not in source:
        return None
    return (
        "note: every replicate ran the posterior median, so the 90% intervals are the runs' "
        "noise only; runs with --params posterior carry the parameters' uncertainty too"
    )


def median_spread_note(mode: str, replicates: int, file: Path | None) -> str | None:
    """Say that replicates run on the posterior median spread by the runs' noise only.

    ``file`` is the posterior read (``params_file``, or the regional one). The median's
    runs are not the calibrated prediction either (README, "How well it fits").
    """
    if replicates < 2 or file is None or mode not in ("auto", "median"):
        return None
    return (
        "note: every replicate ran the posterior median, so their spread is the runs' noise "
        "only; --params posterior draws the parameters too (the calibrated prediction)"
    )


def params_file(mode: str) -> Path | None:
    """Return the posterior file ``replicate_params`` reads in ``mode`` (``None``: none).

    The one place that decides it, for the parameters and for the manifest that records
    the file and its hash.
    """
    check_mode(mode)
    if mode == "auto":
        mode = "median" if has_posterior() else "scenario"
    return None if mode == "scenario" else DEFAULT_POSTERIOR
