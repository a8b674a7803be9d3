"""The versions of Python and of installed packages, as run records and estimators note them.

A run folder's manifest (``experiments.runs``) and a trained estimator's description
(``calibration.npe``) record them, so that a result that a later rebuild does not repeat
can be traced to what ran it (docs/calibration.md, "Rebuilt again, not bit for bit").
``constraints.txt`` at the repository's root pins every package that ``make setup``
installs: jax and jaxlib 0.12.0 and 0.12.1 train other flows from the same rows and seed
(session 64; docs/calibration.md, "The libraries' versions move the weights"), so only
the pinned versions rebuild the estimators bit for bit. The lock is read from a checkout
(the repository's folder); an installed copy of the package has none beside it.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

LOCK_FILE = Path(__file__).resolve().parent.parent / "constraints.txt"
# A pin of the lock file: "name==version", nothing else on the line but a comment; and a
# package pinned to a file or repository ("name @ URL", as pip freeze writes one installed
# from a wheel file or git), which pins no version number.
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(?!=)([^\s#;]+)\s*(#.*)?$")
_URL_PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*@\s*\S+\s*(#.*)?$")


def installed_versions(names: Iterable[str]) -> dict[str, str]:
    """Return Python's version and each named package's ("not installed" if it is not)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def locked_versions(path: Path = LOCK_FILE) -> dict[str, str]:
    """Return the lock file's version pins by canonical package name (empty without a file).

    A package pinned to a URL has no version to compare, so it is left out.

    Raises:
        ValueError: on a line that is neither a pin, a comment nor blank, naming the file
            and the line.
    """
    if not path.is_file():
        return {}
    pins = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#") or _URL_PIN.match(text):
            continue
        match = _PIN.match(text)
        if match is None:
            raise ValueError(f"{path}: line {number} is not a pin 'name==version': {text!r}")
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def unlocked(versions: dict[str, str], path: Path = LOCK_FILE) -> dict[str, tuple[str, str]]:
    """Return the packages of ``versions`` not at the lock's version: name -> (installed, locked).

    Python itself and the packages that the lock does not name are left out.
    """
    pins = locked_versions(path)
    locked = {name: pins.get(canonicalize_name(name)) for name in versions}
    return {
        name: (version, locked[name])
        for name, version in versions.items()
        if locked[name] is not None and locked[name] != version
    }
