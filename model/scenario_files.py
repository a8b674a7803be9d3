"""A country's scenario file that another file names (an experiment, a regional file).

The naming file's field is the mistake when the file is missing, a folder, or a file of
another kind (an experiment or regional file): the error names that field. Any other
problem is the scenario's own, named by its own file and field (``load_scenario``).
"""

from __future__ import annotations

from pathlib import Path

from .config_files import OtherKindError, ScenarioError, named_file
from .scenario import Scenario, load_scenario


def load_named_scenario(owner: Path, field: str, file: Path) -> Scenario:
    """Return the scenario ``file`` that ``owner``'s ``field`` names."""
    try:
        return load_scenario(named_file(owner, field, file))
    except OtherKindError as exc:
        raise ScenarioError(owner, field, f"{file}: {exc.found()}") from None
