"""The posterior's pair plot: pyabc's KDE matrix of every calibrated parameter's draws.

Written by ``ngo-abm calibrate report`` as ``calibration/report/pairs.png``, within each
parameter's prior bounds (``calibration/priors.yaml``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .plotting import plt, save_figure
from .posterior import WEIGHT, parameter_names
from .priors import load_priors

# The pair plot's resolution, and the joint draws it is drawn from (its KDEs' cost grows
# with them).
PAIRS_DPI = 50
PAIRS_PARTICLES = 500


def pair_plot(posterior: pd.DataFrame, path: Path) -> Path:
    """Write pyabc's KDE pair-plot matrix of the posterior."""
    from pyabc.visualization import plot_kde_matrix

    names = parameter_names(posterior)
    priors = load_priors()
    limits = {n: (priors[n].low, priors[n].high) for n in names if n in priors}
    # The KDEs' cost grows with the particles: a posterior of thousands of joint draws is
    # drawn from a weighted resample of PAIRS_PARTICLES of them.
    if len(posterior) > PAIRS_PARTICLES:
        posterior = posterior.sample(
            PAIRS_PARTICLES, replace=True, weights=WEIGHT, random_state=0, ignore_index=True
        ).assign(**{WEIGHT: 1.0 / PAIRS_PARTICLES})
    arr = plot_kde_matrix(posterior[names], posterior[WEIGHT].to_numpy(), limits=limits)
    fig = np.asarray(arr).flat[0].figure
    fig.set_size_inches(2.0 * len(names), 2.0 * len(names))
    plt.setp(fig.axes, xlabel="", ylabel="")
    # 50 dots per inch keeps a 40 x 40 matrix near 4,000 pixels a side: at the figures'
    # usual 150 the file was 22 MB.
    return save_figure(fig, path, dpi=PAIRS_DPI)
