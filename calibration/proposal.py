"""ABC-SMC proposal: one multivariate Student t fitted to the last generation (a pyabc Transition).

pyabc's default proposal is a kernel density estimate: each new parameter set is an old
particle plus a Gaussian step. With 200 particles in 21 dimensions (the calibration's
count when this was measured; 27 now) the kernels do not overlap (particles lie about
sqrt(2 x 21) = 6.5 standard deviations apart, the steps are under one), so a particle's
proposal density is its parent's kernel alone and varies with the length of its own
random step, by a factor of about exp(chi2_21 / 2). The importance weights (prior over
proposal) inherit that spread and collapse onto a few particles: in this project's
calibrations the effective sample size fell to 1-15 of 200.

One smooth distribution fitted to the whole weighted population has no such spread: its
density at a new parameter set does not depend on which particle it came from. It is a
Student t, heavier-tailed than the population, so that weights stay bounded where the
population is only roughly Gaussian (the usual importance-sampling choice: Geweke 1989,
Econometrica 57: 1317-1339). Its shape is the weighted covariance shrunk towards its
diagonal: with a few dozen effective particles in 21 dimensions the smallest eigenvalues
of a sample covariance come out several times too small, the proposal is then too narrow
in those directions and the few particles that land there take all the weight. The
shape is 1.3 times that covariance: as the threshold falls the posterior narrows onto
ridges (e.g. founding rate against donor budget) that the shrunk covariance makes too
short, and without the margin the last generation's weights collapsed again.

The t is mixed with the prior, a small share of proposals being prior draws (defensive
importance sampling: Hesterberg 1995, Technometrics 37: 185-194). Where the posterior is
still about as wide as the prior, which it is for the parameters the figures do not
identify, a t fitted to a few dozen effective particles is narrower than the prior in
some of the 27 directions, and the rare particle accepted out there took most of the
weight: generations 6-7 of the first calibration with 27 parameters had an effective
sample size of 8-13 of 200 while the population was still nearly as wide as the prior.
With a prior share ``a`` every weight (prior over proposal) is at most ``1 / a``. pyabc
samples each parameter as a normal score with a standard normal prior
(``calibration/abc.py``), so the prior component is the standard normal.

pyabc keeps everything else (sampling, weights, thresholds, history, resumption); it has
no such Transition, so this is one, through its extension point (``fit``, ``rvs_single``,
``pdf``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats
from pyabc.parameters import Parameter
from pyabc.transition import NotEnoughParticles, Transition


class CollapsedPopulation(RuntimeError):
    """The weights sit on a single particle, so there is no covariance to fit."""


class StudentTProposal(Transition):
    """Multivariate Student t with the population's weighted mean and covariance.

    Args:
        df: Degrees of freedom; lower is heavier-tailed.
        scaling: Multiplies the (shrunk) population covariance to give the t's shape.
        shrinkage: Weight of the covariance's diagonal against the full covariance
            (0: full covariance, 1: variances only).
        prior_share: Share of proposals drawn from the prior (standard normal in every
            parameter) instead of the t; it bounds every importance weight by
            ``1 / prior_share``.
    """

    def __init__(
        self,
        df: float = 10.0,
        scaling: float = 1.3,
        shrinkage: float = 0.8,
        prior_share: float = 0.1,
    ):
        self.df = df
        self.scaling = scaling
        self.shrinkage = shrinkage
        self.prior_share = prior_share
        self._dist = None

    def fit(self, X: pd.DataFrame, w: np.ndarray) -> None:
        """Fit the t to the weighted particles ``X`` (pyabc stores them as ``self.X``)."""
        if len(X) < 2:
            raise NotEnoughParticles("a t proposal needs at least two particles")
        values = X.to_numpy(dtype=float)
        share = np.asarray(w, dtype=float) / np.sum(w)
        # The weighted covariance divides by 1 - sum(share**2), which is 0 when one
        # particle holds all the weight: no spread to fit a proposal to.
        if 1.0 - np.sum(share**2) <= 0:
            raise CollapsedPopulation("all the weight is on one particle")
        mean = np.average(values, axis=0, weights=w)
        cov = np.atleast_2d(np.cov(values, aweights=w, rowvar=False))
        cov = (1 - self.shrinkage) * cov + self.shrinkage * np.diag(np.diag(cov))
        self._dist = scipy.stats.multivariate_t(
            loc=mean, shape=cov * self.scaling, df=self.df, allow_singular=True
        )

    def rvs_single(self) -> Parameter:
        """Draw one parameter set (numpy's global generator, which pyabc seeds per worker)."""
        # Seeded from numpy's global generator at each draw: the frozen distribution's own
        # generator would be copied, state and all, wherever pyabc pickles this object
        # (dask workers), and every copy would then propose the same parameter sets.
        if np.random.random() < self.prior_share:
            draw = np.random.standard_normal(len(self.X.columns))
        else:
            seed = np.random.randint(0, 2**32 - 1, dtype=np.uint64)
            draw = np.atleast_1d(self._dist.rvs(random_state=int(seed)))
        return Parameter(pd.Series(draw, index=self.X.columns))

    def pdf(self, x: Parameter | pd.Series | pd.DataFrame) -> float | np.ndarray:
        """Return the proposal density at one parameter set or at each row of a table."""
        if isinstance(x, pd.DataFrame):
            return np.atleast_1d(self._mixture_pdf(x[self.X.columns].to_numpy(dtype=float)))
        point = np.array([x[key] for key in self.X.columns], dtype=float)
        return float(self._mixture_pdf(point))

    def _mixture_pdf(self, points: np.ndarray) -> np.ndarray:
        prior = np.exp(scipy.stats.norm.logpdf(points).sum(axis=-1))
        return (1 - self.prior_share) * self._dist.pdf(points) + self.prior_share * prior
