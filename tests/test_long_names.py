"""Paths longer than the system allows: one line naming the option, never a traceback.

``Path.exists`` and ``Path.glob`` raise the system's refusal (error 36, "File name too
long") where other options already said "cannot be checked" (``model.extends.path_exists``,
``experiments.output_paths.check_folder``). The same refusal for ``extends:`` and for
``compare``'s source is tested with those (``test_extends.py``, ``test_compare_command.py``).
"""

from __future__ import annotations

from cli_helpers import one_line, run_cli

from model.limits import MAX_TITLE


def test_a_posterior_name_too_long_for_the_system_is_one_line(tmp_path):
    # Path.exists raised the system's refusal ("File name too long") as a traceback.
    out = tmp_path / "out"
    named = tmp_path / f"{'a' * 300}.parquet"
    status, _, err = run_cli(["sensitivity", "--posterior", str(named), "--out", str(out)])
    one_line(status, err, f"{named}: --posterior: cannot be checked: File name too long")
    assert not out.exists()


def test_a_regional_experiments_out_too_long_for_the_system_is_one_line(repo, tmp_path):
    out = tmp_path / ("a" * 300)
    regional = repo / "experiments" / "regional" / "central_asia_counterfactuals.yaml"
    status, _, err = run_cli(["regional-experiment", str(regional), "--out", str(out)])
    one_line(status, err, f"{out}: --out: cannot be checked: File name too long")


def test_a_display_name_longer_than_two_lines_is_refused(scenario_file, write_yaml, tmp_path):
    # A regional experiment's name of 100,000 characters was echoed whole.
    name = "x" * (MAX_TITLE + 1)
    bad = write_yaml("long.yaml", f"extends: {scenario_file('kyrgyzstan')}\nname: {name}\n")
    out = tmp_path / "out"
    status, _, err = run_cli(["run", str(bad), "--out", str(out)])
    one_line(status, err, f"{bad}: name: String should have at most {MAX_TITLE} characters")
    assert not out.exists()
