"""A run's refusals of a bad name or a bad ``--out``: one line, and nothing else printed.

Bad input is one clear line naming the file and field (exit status 2, nothing written);
a run's notes for its log come only once its output folder is accepted.
"""

from __future__ import annotations

import pytest
from cli_helpers import one_line, run_cli


@pytest.mark.parametrize("scenario", ["kyrgyzstan.yaml", "central_asia.yaml"])
def test_a_run_into_a_file_prints_the_error_alone(scenario, repo, write_yaml, tmp_path):
    # An edited file has a note on what it changes; it is printed only for a run that goes on.
    edited = write_yaml("edited.yaml", f"extends: {repo / 'scenarios' / scenario}\n")
    taken = write_yaml("taken.txt", "a file, not a folder\n")
    status, out, err = run_cli(["run", edited, "--replicates", 1, "--out", taken])
    one_line(status, err, "--out: is a file, not a folder")
    assert out == ""


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('name: ""\n', "name"),
        ('name: "   "\n', "name"),
        ("state:\n  shocks:\n    - {name: '', year: 2000, instability: 0.1, source: a test}\n",
         "state.shocks.1.name"),
    ],
)  # fmt: skip
def test_a_blank_name_is_refused(text, field, repo, write_yaml, tmp_path):
    edited = write_yaml("blank.yaml", f"extends: {repo / 'scenarios' / 'kyrgyzstan.yaml'}\n{text}")
    status, _, err = run_cli(["run", edited, "--replicates", 1, "--out", tmp_path / "out"])
    one_line(status, err, "blank.yaml", field, "at least 1 character")
    assert not (tmp_path / "out").exists()
