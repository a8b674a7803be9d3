"""ABC-SMC weights in 21 dimensions: pyabc with the t proposal versus its default kernels.

A toy problem with the calibration's shape when it was tuned (21 normal scores, 27 now;
10 of them identified by noisy data, 200 particles, median thresholds) run by pyabc
itself. The default kernel proposal lets the importance weights collapse; the t proposal
keeps a usable effective sample size. The toy runs in seconds, so it guards the sampler
set-up without the model.
"""

import logging

import numpy as np
import pyabc
import pytest

from calibration.proposal import StudentTProposal

DIM, IDENTIFIED, PARTICLES, GENERATIONS = 21, 10, 200, 4
_setup = np.random.default_rng(0)
MIXING = np.eye(IDENTIFIED, DIM) + 0.3 * _setup.normal(size=(IDENTIFIED, DIM)) * (
    _setup.random((IDENTIFIED, DIM)) < 0.15
)
OBSERVED = {"y": MIXING @ _setup.normal(0, 0.7, DIM)}
NAMES = [f"z{i}" for i in range(DIM)]


def toy_model(params):
    theta = np.array([params[n] for n in NAMES])
    return {"y": MIXING @ theta + np.random.normal(0, 0.15, IDENTIFIED)}


def toy_distance(x, x0):
    return float(np.sqrt(np.mean(((x["y"] - x0["y"]) / 0.3) ** 2)))


def effective_sizes(transition) -> list[float]:
    np.random.seed(1)
    abc = pyabc.ABCSMC(
        toy_model,
        pyabc.Distribution(**{n: pyabc.RV("norm", 0, 1) for n in NAMES}),
        toy_distance,
        population_size=PARTICLES,
        transitions=transition,
        sampler=pyabc.sampler.SingleCoreSampler(),
        eps=pyabc.MedianEpsilon(initial_epsilon=np.inf),
    )
    abc.new("sqlite://", OBSERVED)
    history = abc.run(max_nr_populations=GENERATIONS)
    sizes = []
    for t in range(1, history.max_t + 1):
        _, w = history.get_distribution(t=t)
        sizes.append(1 / np.sum(w**2))
    return sizes


@pytest.fixture(autouse=True)
def quiet_pyabc():
    logger = logging.getLogger("ABC")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


# pyabc compares the first threshold (inf) with the previous one: inf - inf.
@pytest.mark.filterwarnings("ignore:invalid value encountered in scalar subtract")
def test_the_t_proposal_keeps_the_effective_sample_size_where_kernels_collapse():
    kernels = effective_sizes(pyabc.MultivariateNormalTransition())
    t_proposal = effective_sizes(StudentTProposal())
    assert len(kernels) == len(t_proposal) == GENERATIONS - 1
    assert max(kernels) < 0.1 * PARTICLES
    assert min(t_proposal) > 0.25 * PARTICLES
