"""The versions of Python and of installed packages, as run records and estimators note them.

A run folder's manifest (``experiments.runs``) and a trained estimator's description
(``calibration.npe``) record them, so that a result that a later rebuild does not repeat
can be traced to what ran it (docs/calibration.md, "Rebuilt again, not bit for bit").
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata


def installed_versions(names: Iterable[str]) -> dict[str, str]:
    """Return Python's version and each named package's ("not installed" if it is not)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
