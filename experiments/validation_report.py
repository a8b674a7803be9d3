"""The text and figures of ``calibration/report/validation.md`` (``experiments.validation``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom

from calibration.plotting import save_figure
from calibration.posterior import parameter_names

from .calibration_report import identification_table, unidentified_section
from .identification import equally_weighted
from .markdown import markdown_table


def rank_figure(ranks: pd.DataFrame, draws: int, path: Path, bins: int = 10) -> Path:
    """Write the rank histogram of every column, with the band a uniform histogram keeps."""
    import matplotlib.pyplot as plt

    cols = list(ranks.columns)
    ncol = 8
    nrow = int(np.ceil(len(cols) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.0 * ncol, 1.6 * nrow), squeeze=False)
    n = len(ranks)
    expected = n / bins
    # 99% band of a bin's count under uniform ranks (normal approximation of a binomial).
    half = 2.576 * np.sqrt(n * (1 / bins) * (1 - 1 / bins))
    for ax, name in zip(axes.flat, cols, strict=False):
        ax.hist(ranks[name], bins=np.linspace(0, draws + 1, bins + 1), color="#4c72b0")
        ax.axhspan(expected - half, expected + half, color="grey", alpha=0.25, lw=0)
        ax.set_title(name, fontsize=7)
        # The two ends say which way a skewed histogram leans: truths ranked low lie
        # below most of their posterior (it sits too high), ranked high above it.
        ax.set_xticks([0, draws])
        ax.tick_params(labelsize=6)
    for ax in axes.flat[len(cols) :]:
        ax.axis("off")
    fig.suptitle(
        f"Ranks of {n} synthetic truths among {draws} posterior draws, in {bins} bins; "
        f"grey: the 99% range of a bin's count if the ranks are uniform",
        fontsize=10,
    )
    fig.supxlabel("rank of the truth among the posterior draws", fontsize=8)
    fig.supylabel("truths", fontsize=8)
    fig.tight_layout()
    path = save_figure(fig, path)
    plt.close(fig)
    return path


def ridges(posterior: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Return the ``top`` parameter pairs with the largest posterior rank correlation."""
    draws = equally_weighted(posterior)
    names = parameter_names(draws)
    rho = draws[names].rank().corr().to_numpy()
    pairs = [
        (names[i], names[j], rho[i, j]) for i in range(len(names)) for j in range(i + 1, len(names))
    ]
    pairs.sort(key=lambda p: -abs(p[2]))
    return pd.DataFrame(pairs[:top], columns=["parameter", "with", "rank correlation"]).round(2)


def heldback_figure(table: pd.DataFrame, path: Path) -> Path:
    """Write each held-back figure's error: the model's median beside the curve baselines."""
    import matplotlib.pyplot as plt

    names = [c[: -len("_error")] for c in table.columns if c.endswith("_error")]
    # Signed, so that a forecast above the figure reads apart from one below it.
    errors = 100 * table[[f"{n}_error" for n in names]].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(table) + 1.2))
    height = 0.8 / len(names)
    y = np.arange(len(table))
    for k, name in enumerate(names):
        ax.barh(y + k * height, errors[:, k], height, label=name.replace("_", " "))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y + 0.4 - height / 2, table["target"], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(
        "error of the forecast's median, % of the reported figure (0 inside a bound);\n"
        "the curves forecast the Kyrgyz register and its growth only"
    )
    ax.set_title("Forecasts of the figures after 2010, calibrated on those up to 2010", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = save_figure(fig, path)
    plt.close(fig)
    return path


def _verdict(frame: pd.DataFrame, what: str, bars: dict) -> str:
    ok = int(frame["within_bars"].sum())
    said = "; ".join(
        f"{lv:.0%}: {lo:.2f} to {hi:.2f}" for lv, (lo, hi) in sorted(bars.items())[::-1]
    )
    return f"{ok} of {len(frame)} {what} have both coverages within the bars ({said})."


def _truths(truths: int, emulated: bool) -> str:
    """Return the sentences that say where the truths come from and what ranks them."""
    if emulated:
        return (
            f"{truths} rows of the prior's table after the emulator's training rows are the "
            "truths (the emulated posterior's prior is the prior itself); each truth's "
            "figures get the observation model's noise, and the emulated posterior's draws "
            "given them rank the truth's parameters. "
        )
    return (
        f"{truths} table rows kept out of training are the truths, from the prior's table "
        "and each truncated round in the proportions the estimator was trained on; each "
        "truth's figures get the observation model's noise, and the posterior estimator's "
        "draws given them rank the truth's parameters. "
    )


def _joint(joint: pd.DataFrame, truths: int) -> str:
    """Return the paragraph on the highest-density regions' coverage (all parameters)."""
    verdict = "within" if joint["within_bars"].iloc[0] else "outside"
    return (
        f"All parameters jointly: for the same {truths} truths and draws, the level of the "
        "smallest highest-density region of the posterior that holds the truth "
        "(the share of its draws denser than the truth; Hermans et al. 2022). Under a "
        "correct posterior a region of level L holds the truth a fraction L of the time; "
        f"the coverages are {verdict} the bars (`hpd_coverage.csv`). The ranks above check "
        "one parameter at a time; this checks the joint shape, though not every direction "
        "of it: a posterior too wide in some directions and too narrow in others can pass."
    )


def _dependence(pcov: pd.DataFrame, mcov: pd.DataFrame) -> str:
    """Return the paragraph comparing the predictions of joint and shuffled draws."""
    joint, shuffled = pcov["coverage_50"].mean(), mcov["coverage_50"].mean()
    wide = mcov["coverage_50"] - pcov["coverage_50"]
    return (
        "Dependence: the same truths, runs and seeds, with each parameter's draws shuffled "
        "among themselves (the product of the posterior's marginals; "
        "`predictive_coverage_marginals.csv`). Mean coverage of the 50% intervals: "
        f"{joint:.2f} from the joint draws, {shuffled:.2f} from the shuffled ones (0.50 is "
        f"right); {int((wide > 0).sum())} of {len(wide)} statistics are covered more often "
        "by the shuffled draws. How far the joint draws stand from 0.50, against how far "
        "the shuffled ones do, shows whether the posterior carries the dependence between "
        "parameters that narrows the predictions."
    )


def _reference(rcov: pd.DataFrame, predictive_truths: int, bars: dict) -> str:
    """Return the paragraph on the predictive check's reference (the prior as posterior)."""
    low, high = rcov["coverage_50"].min(), rcov["coverage_50"].max()
    chance = len(rcov) * chance_outside(predictive_truths, bars)
    return (
        "The check's own reference: the same check with the prior in place of the posterior "
        f"(`PriorSampler`), on the first {predictive_truths} rows of the prior's table after "
        "the training rows as truths (`predictive_reference.csv`). A new run of a truth and "
        "the runs of the prior's draws then come from the same distribution, so the ranks "
        "are uniform whatever the model, and only chance moves the coverages from 0.50 and "
        f"0.90 (with {predictive_truths} truths, about {chance:.1f} of {len(rcov)} statistics "
        "outside a bar, if they were independent): "
        + _verdict(rcov, "statistics", bars)
        + f" Mean coverage {rcov['coverage_50'].mean():.2f} and "
        f"{rcov['coverage_90'].mean():.2f} (50% intervals: {low:.2f} to {high:.2f} over the "
        "statistics). The prior ignores the figures, so this does not check how they "
        "condition the draws; it checks the rest of the check (the truths' new runs and the "
        "draws' runs, their seeds, ranks and ties), whose errors would move the posterior's "
        "coverages as well."
    )


def chance_outside(truths: int, bars: dict) -> float:
    """Return the chance that a right statistic's coverage falls outside a bar.

    Summed over the levels: a statistic's count of truths inside an interval of level L is
    binomial (``truths``, L), compared with the bars as ``with_verdict`` compares them.
    """
    share = np.arange(truths + 1) / truths
    return float(
        sum(
            binom.pmf(np.arange(truths + 1), truths, level)[(share < lo) | (share > hi)].sum()
            for level, (lo, hi) in bars.items()
        )
    )


def report_sections(
    coverages, bars, held, spread, posterior, stable, cost, truths, predictive_truths, emulated
) -> list:
    """Return the Markdown sections of the validation report.

    ``coverages`` are the parameters', the highest-density regions', the predictions', the
    predictions' from shuffled draws (``experiments.truth_draws.marginal_draws``) and the
    predictive check's reference (``experiments.truth_draws.PriorSampler``);
    ``held`` is the held-back check's section and ``spread`` the paragraph on its spread
    over trainings (empty without a held-back posterior); ``bars`` maps each interval's
    level to the coverages it must lie between; ``emulated``: whether the emulated
    posterior drew the checked posterior (else the estimator's flows).
    """
    sbc, joint, pcov, mcov, rcov = coverages
    ident = identification_table(posterior)
    worst = stable.sort_values("difference", ascending=False)
    return [
        "# Validation of the committed calibration",
        "Written by `ngo-abm validate` (`experiments/validation.py`); what each check means "
        "and costs is in `docs/calibration.md`.",
        "## 1. Coverage on synthetic truths",
        _truths(truths, emulated) + _verdict(sbc, "parameters", bars),
        markdown_table(sbc.round(3)),
        "![ranks](sbc.png)",
        _joint(joint, truths),
        markdown_table(joint.round(3)),
        f"Predictive coverage: for the first {predictive_truths} truths, a new run of the "
        "truth (its own seed) ranked among runs of its posterior draws, per target "
        "statistic. " + _verdict(pcov, "statistics", bars),
        markdown_table(pcov.round(3)),
        _dependence(pcov, mcov),
        _reference(rcov, predictive_truths, bars),
        held.replace("## Held-back check", "## 2. Held-back check", 1),
        "![held-back forecasts](heldback.png)",
        spread,
        "## 3. Identification",
        markdown_table(ident),
        *unidentified_section(ident, posterior),
        "Pairs that trade off (largest rank correlations in the posterior):",
        markdown_table(ridges(posterior)),
        "## 4. Stability",
        f"Largest difference between the predictive medians of two independent sets of "
        f"draws: {worst['difference'].iloc[0]:.1%} ({worst['target'].iloc[0]}); "
        f"{int((stable['difference'] < 0.03).sum())} of {len(stable)} statistics differ by "
        "less than 3%. `noise_floor` is the half-width of a median's 90% confidence interval "
        "(order statistics of its set's runs) relative to the median, averaged over the two "
        f"sets: {int((stable['noise_floor'] < 0.03).sum())} of {len(stable)} statistics have "
        "a floor under 3%. Where the floor is above it, independent sets of this size "
        "disagree by more than 3% often by chance alone, whatever the sampler: their medians "
        "need more draws, or a narrower posterior.",
        markdown_table(stable.round(4)),
        "## Cost on this machine",
        "\n".join(f"- {k}: {v / 60:.1f} min" for k, v in cost.items()),
    ]
