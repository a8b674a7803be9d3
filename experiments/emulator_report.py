"""The text of the emulated posterior's check (``experiments.emulator_check``).

Formats what the check measured (coverage on synthetic truths, the fit at the article's
figures, held-back forecasts, the emulator's scatter) as ``emulator_check.md``; computes
nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calibration.abc import HOLDOUT_LAST_YEAR

from .calibration_report import heldback_view
from .markdown import markdown_table


def report_text(args, training, scales, cost, coverages, per_target, fits, identified, held) -> str:
    """Return the check's report (``calibration/report/emulator_check.md``)."""
    sbc_prior, sbc, joint, pcov, stages = coverages
    within = per_target.groupby("posterior")["within_tolerance"].sum()
    lines = [
        "# The emulated posterior beside the committed one",
        "",
        "Written by `python -m experiments.emulator_check` (`experiments/emulator_check.py`); "
        "the method is in `calibration/emulator.py` and `calibration/emulated_posterior.py`, "
        "its reading in `docs/calibration.md`.",
        "",
        f"Emulator trained on {training['rows']:,} rows (the committed estimator's) in "
        f"{training['training_seconds']:.0f} s; held-out loss {training['held_out_loss']}. "
        + (
            f"Each data set's posterior refined by {args.refine_runs} model runs at its first "
            "draws (`calibration/refined_posterior.py`)."
            if args.refine_runs
            else "No refinement by model runs (`--refine-runs 0`)."
        ),
        "",
        "Its scatter against the residuals of rows it was not fitted to (mean squares in "
        "units of the emulated standard deviation: one where it is right):",
        "",
        markdown_table(scales),
        "",
        "## At the article's figures",
        "",
        f"Fresh runs of {args.fit_runs} draws of each posterior. Sum over the figures of the "
        "squared errors in tolerance units (0 inside a figure's band), per run:",
        "",
        markdown_table(fits),
        "",
        "Medians within tolerance: "
        + ", ".join(f"{k} {int(v)} of {per_target.target.nunique()}" for k, v in within.items())
        + "; parameters identified (90% width under 0.6 of the prior's): "
        + ", ".join(f"{k} {int(v)}" for k, v in identified.items())
        + ".",
        "",
        markdown_table(_side_by_side(per_target)),
        "",
        "## Coverage on synthetic truths",
        "",
        f"{args.draws} draws of the emulated posterior per truth, the particles of a "
        f"tempered sequential Monte Carlo that took {np.median(stages):.0f} stages (median; "
        f"{stages.min()}-{stages.max()}) at the truths from the prior. The truths drawn from the "
        "prior are the test of a posterior whose prior is the prior; most of the truths of "
        "`ngo-abm validate` come from the truncated rounds, the committed estimator's "
        "prior, and are shown for comparison with it.",
        "",
        _coverage_line(f"{args.prior_truths} truths from the prior", sbc_prior),
        _coverage_line(f"{args.truths} truths of `ngo-abm validate`", sbc),
        "",
        "All parameters jointly (highest-density regions):",
        "",
        markdown_table(joint),
        "",
        markdown_table(_sbc_side_by_side(sbc_prior, sbc)),
        "",
        f"Predictions, first {args.predictive_truths} truths from the prior, 39 draws each: "
        f"{int(pcov.within_bars.sum())} of {len(pcov)} statistics within both bars (50% "
        f"coverage mean {pcov.coverage_50.mean():.3f}, 90% mean {pcov.coverage_90.mean():.3f}).",
        "",
        markdown_table(pcov),
        "",
        "## Held-back forecasts",
        "",
        "The emulator trained on the held-back estimator's rows, given the figures up to "
        f"{HOLDOUT_LAST_YEAR}; 1,000 draws, one run each (as `heldback.csv`; errors relative "
        "to the reported figure, 0 inside a bound):",
        "",
        markdown_table(heldback_view(held)),
        "",
        "## Cost",
        "",
        *[f"- {k}: {v / 60:.1f} min" for k, v in cost.items()],
        "",
    ]
    return "\n".join(lines)


def _coverage_line(truths: str, sbc: pd.DataFrame) -> str:
    return (
        f"- {truths}: {int(sbc.within_bars.sum())} of {len(sbc)} parameters within both "
        f"bars (50% coverage {sbc.coverage_50.min():.2f}-{sbc.coverage_50.max():.2f}, mean "
        f"{sbc.coverage_50.mean():.3f}; 90% {sbc.coverage_90.min():.2f}-"
        f"{sbc.coverage_90.max():.2f}, mean {sbc.coverage_90.mean():.3f})."
    )


def _sbc_side_by_side(sbc_prior: pd.DataFrame, sbc: pd.DataFrame) -> pd.DataFrame:
    columns = ["quantity", "coverage_50", "coverage_90", "within_bars"]
    return sbc_prior[columns].merge(sbc[columns], on="quantity", suffixes=(" prior", " validate"))


def _side_by_side(per_target: pd.DataFrame) -> pd.DataFrame:
    wide = per_target.pivot(index="target", columns="posterior")
    order = per_target.target.drop_duplicates()
    out = pd.DataFrame(index=order)
    for name in per_target.posterior.unique():
        out[f"{name} median (90%)"] = [
            f"{wide.loc[t, ('median', name)]:.4g} ({wide.loc[t, ('q05', name)]:.4g}-"
            f"{wide.loc[t, ('q95', name)]:.4g})"
            for t in order
        ]
        out[f"{name} error"] = [
            f"{wide.loc[t, ('error_tolerance_units', name)]:+.2f}" for t in order
        ]
    return out.rename_axis("target").reset_index()
