"""Bad command-line values: one line naming the option, exit 2, nothing written."""

from __future__ import annotations

import pytest
from cli_helpers import one_line, run_cli


def test_a_seed_whose_replicates_pass_the_largest_seed_is_refused(repo, tmp_path, monkeypatch):
    # the manifest recorded seed 4294967296, above the documented largest seed
    monkeypatch.chdir(repo)
    out = tmp_path / "o"
    argv = ["run", "scenarios/kyrgyzstan.yaml", "--seed", "4294967295", "--replicates", "2"]
    status, _, err = run_cli([*argv, "--out", str(out)])
    # named as the two options, not as a field "seed" of no file
    one_line(status, err, "--replicates: 2 runs from --seed 4,294,967,295 would end at seed")
    assert not out.exists()


@pytest.mark.parametrize("text", ["1_0", " 3", "٣", "3.0", "+3", "1e1"])
def test_a_whole_number_option_takes_ascii_digits_only(repo, tmp_path, monkeypatch, text):
    # int() read "1_0" as 10, " 3" as 3 and an Arabic-Indic three as 3
    monkeypatch.chdir(repo)
    argv = ["run", "scenarios/kyrgyzstan.yaml", "--replicates", text, "--out", str(tmp_path / "o")]
    status, _, err = run_cli(argv)
    one_line(status, err, f"expected a whole number, got {text!r}")
    assert not (tmp_path / "o").exists()
