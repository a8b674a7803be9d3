"""Limits on what a user may give: config file size and nesting, years, seeds and counts.

Every number a user gives (in a file or on the command line) has a bound, so that a typo
such as ``draws: 1000000000000`` or a year with hundreds of digits is reported in one line
that names the bound, instead of ending in a MemoryError or an OverflowError after a
while. The bounds are far above any sensible use of the model.
"""

from __future__ import annotations

from typing import Any

# Config files (scenario, behaviour, experiment, targets, priors) are a few kilobytes; the
# largest committed one is about 30 kB.
MAX_CONFIG_BYTES = 1_000_000
# Values (scalars, lists, mappings) of a config once its YAML aliases are expanded: more
# than a file under MAX_CONFIG_BYTES can hold without aliases.
MAX_CONFIG_VALUES = 1_000_000
# The committed configs nest 5 levels deep at most.
MAX_NESTING = 32
# Calendar years anywhere in the inputs (series points, donors, shocks, targets).
MIN_YEAR, MAX_YEAR = 1900, 2200
# A run's years: a scenario's start and end years, and an experiment's end year.
FIRST_RUN_YEAR, LAST_RUN_YEAR = 1980, 2100
# numpy's SeedSequence takes any size; bounded so that seeds fit every table's integers.
MAX_SEED = 2**32 - 1
MAX_REPLICATES = 10_000
MAX_DRAWS = 100_000
# Sobol base samples or Morris trajectories of a sensitivity analysis.
MAX_SAMPLES = 65_536
# Runs of one experiment (scenarios x draws x replicates): each keeps a table in memory.
MAX_RUNS = 1_000_000
MAX_WORKERS = 256
# Particles of an ABC-SMC generation (`calibrate run --population`), not NGOs.
MAX_POPULATION = 100_000
# NGOs taking part in one regional programme a year; the committed programmes have 700 at
# most.
MAX_PARTICIPANTS = 100_000
# Sector weights (priorities, programmes' sectors) are relative, so their scale is the user's
# choice; a cap keeps a weight's product with a count of NGOs finite (1e308 overflowed). The
# committed files' weights are at most 5.
MAX_SECTOR_WEIGHT = 1e6
MAX_GENERATIONS = 1_000
# A counterfactual's name is part of its fan chart's file name (experiments), and file systems cap a
# name at 255 bytes (the figure's temporary file adds a prefix and a suffix).
MAX_NAME = 100
# A display name (a scenario's, a donor's, an experiment's) heads printouts and figures: two
# lines of a terminal at most (the committed files' are under 90 characters).
MAX_TITLE = 160
# A counterfactual's question heads its figures (the committed files' are under 160
# characters, those `mechanisms:` writes up to 210).
MAX_QUESTION = 400
# A State's yearly budget in US dollars: 1e15 is ten times the world's yearly output, and a
# run adds and multiplies such amounts (an inf among them made the founding count NaN).
MAX_DOLLARS = 1e15
# A currency's code labels amounts in tables and figures ("KGS").
MAX_CURRENCY = 16
# A week: beyond that a time limit is a typo, not a plan.
MAX_MINUTES = 7 * 24 * 60


def nesting_path(data: Any, limit: int = MAX_NESTING) -> str | None:
    """Return the top-level key under which data nests deeper than ``limit``, else None.

    Iterative, so that a file nested thousands of levels deep is measured without
    recursion.
    """
    stack: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > limit:
            return path[0]
        if isinstance(node, dict):
            stack.extend((value, (*path, str(key))) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, (*path, str(i))) for i, value in enumerate(node))
    return None
