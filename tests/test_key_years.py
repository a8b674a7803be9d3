"""An experiment's key years: in order, each once (country and regional experiments alike).

A year listed twice was passed over silently, where it is most likely a typo for another
(session 82); the country experiments' case is among ``test_mechanisms``'s bad fields.
"""

from __future__ import annotations

import yaml
from cli_helpers import run_cli
from test_regional_experiment import EXPERIMENT, REPO

from experiments.regional_experiment import RegionalExperimentSpec


def test_a_key_year_listed_twice_is_refused_and_the_others_sorted(tmp_path):
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    data["baseline"] = str(REPO / "scenarios" / "central_asia.yaml")
    data["key_years"] = [2020, 2010, 2020]
    path = tmp_path / "twice.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    status, _, stderr = run_cli(["regional-experiment", str(path), "--out", str(tmp_path / "o")])
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert f"{path}: key_years: " in stderr and "year 2020 is listed twice" in stderr, stderr
    assert not (tmp_path / "o").exists()
    data["key_years"] = [2020, 2010]
    assert RegionalExperimentSpec.model_validate(data).key_years == [2010, 2020]
