"""The fingerprint of the model's code: what stored runs and tables are keyed by."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent
# The regional layer's modules. A country run never imports them (tested), so the tables
# of country runs (the calibration's reference table) are keyed without them: a change to
# the regional layer does not make the country calibration's simulations stale.
REGIONAL_MODULES = frozenset(
    {"regional.py", "regional_files.py", "regional_scenario.py", "tie_arrays.py", "ties.py"}
)


def model_fingerprint(regional: bool = True) -> str:
    """Return a SHA-256 of the model's source files and the numpy version.

    Two processes with the same fingerprint produce the same runs from the same tasks.
    With ``regional=False`` the regional layer's modules are left out: the fingerprint of
    what a country run executes.
    """
    digest = hashlib.sha256(metadata.version("numpy").encode())
    for path in sorted(MODEL_DIR.glob("*.py")):
        if not regional and path.name in REGIONAL_MODULES:
            continue
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
