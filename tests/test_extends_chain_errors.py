"""A researcher's own base file and its variants: errors named where they were written.

Sources for every changed input, the country a file extends kept, and the donors' money
in its unit (``model/error_origin.py``, ``model/extends.py``, ``model/scenario.py``;
session 81's audit of scenario writing).
"""

from __future__ import annotations

import pytest

from cli.main import main
from model import ScenarioError, load_scenario
from model.regional_files import load_region

SHOCK = "Second revolution and Osh conflict"


@pytest.fixture
def base(write_yaml, scenario_file):
    """Write a base file of one's own, extending the Kyrgyz scenario with ``text``."""

    def write(text: str, name: str = "base.yaml"):
        return write_yaml(name, f"extends: {scenario_file('kyrgyzstan')}\nname: Base\n{text}")

    return write


def _shock_variant(write_yaml, parent, fields: str):
    """Write a variant of ``parent`` that gives the 2010 shock ``fields``."""
    shock = f"state:\n  shocks:\n    - {{name: {SHOCK}, {fields}}}\n"
    return write_yaml("variant.yaml", f"extends: {parent}\nname: Variant\n{shock}")


def _error(path) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return caught.value


def test_an_unknown_key_in_a_base_file_is_named_in_the_base_not_its_variant(
    base, write_yaml, capsys, clean_error, tmp_path
):
    parent = base("state:\n  registration_burdn: {points: {2010: 0.3}, source: a test}\n")
    child = write_yaml("variant.yaml", f"extends: {parent}\nname: Variant\n")
    err = _error(child)
    assert (err.file, err.field) == (str(parent), "state.registration_burdn")
    # Through the command: one line, in the base file.
    out = tmp_path / "out"
    status = main(["run", str(child), "--out", str(out)])
    line = clean_error(status, out, "base.yaml: state.registration_burdn: unknown key")
    assert "variant.yaml" not in line


def test_new_values_without_a_source_are_named_in_the_file_that_gave_them(base, write_yaml):
    # The variant was told it gave new values (it gave none).
    parent = base("state:\n  grant_budget_local: {points: {2010: 5000000}}\n")
    child = write_yaml("variant.yaml", f"extends: {parent}\nname: Variant\n")
    err = _error(child)
    assert (err.file, err.field) == (str(parent), "state.grant_budget_local.source")
    assert "required with new values" in err.message
    # A variant that gives the source mends it; one that overrides the value is named.
    sourced = "state:\n  grant_budget_local: {source: 'a test: a budget of its own'}\n"
    load_scenario(write_yaml("mended.yaml", f"extends: {parent}\nname: Mended\n{sourced}"))
    bad = write_yaml("bad.yaml", f"extends: {parent}\nname: Bad\nstart_year: 1800\n")
    assert _error(bad).file == str(bad)


def test_a_bad_value_a_variant_overrides_is_the_variants(base, write_yaml):
    parent = base(f"state:\n  shocks:\n    - {{name: {SHOCK}, instability: 0.9, source: a test}}\n")
    child = _shock_variant(write_yaml, parent, "instability: 7, source: a test")
    err = _error(child)
    assert err.file == str(child) and err.field == f"state.shocks[{SHOCK}].instability"


def test_a_missing_behaviour_file_or_a_folder_extended_is_named_in_the_file_naming_it(
    write_yaml, scenario_file, tmp_path
):
    extends = f"extends: {scenario_file('kyrgyzstan')}\nname: X\n"
    own = write_yaml("own.yaml", extends + "behaviour: mine.yaml\n")
    err = _error(own)
    # It named the missing file as if it held the field.
    assert (err.file, err.field) == (str(own), "behaviour")
    assert err.message == f"{tmp_path / 'mine.yaml'}: file not found"
    folder = write_yaml("folder.yaml", f"extends: {scenario_file('kyrgyzstan').parent}\n")
    err = _error(folder)
    assert (err.file, err.field) == (str(folder), "extends")
    assert err.message.endswith("is a folder, not a file")


@pytest.mark.parametrize(
    "change, field",
    [
        (f"state:\n  shocks:\n    - {{name: {SHOCK}, instability: 1.0}}\n", f"shocks[{SHOCK}]"),
        (f"state:\n  shocks:\n    - {{name: {SHOCK}, duration_years: 6}}\n", f"shocks[{SHOCK}]"),
        ("donors:\n  - {name: USAID-type bilateral, entry_year: 2008}\n", "donors[USAID"),
        ("state:\n  grant_budget_local: {interpolation: step}\n", "grant_budget_local"),
    ],
)
def test_every_changed_input_needs_a_source_not_only_values(base, change, field):
    # They kept the source of what they replaced ("size and duration assumed" for a
    # shock of another size and length), and `ngo-abm sources` listed nothing.
    err = _error(base(change))
    assert field in err.field and err.field.endswith(".source")
    assert "required with new values" in err.message
    # With a source of its own it loads; a value repeated unchanged needs none.
    with_source = change.replace("}\n", ", source: 'a test'}\n")
    load_scenario(base(with_source, "sourced.yaml"))
    same = load_scenario(base("", "same.yaml"))
    shock = next(s for s in same.state.shocks if s.name == SHOCK)
    repeated = f"state:\n  shocks:\n    - {{name: {SHOCK}, year: {shock.year}}}\n"
    load_scenario(base(repeated, "repeated.yaml"))


def test_a_file_cannot_make_the_country_it_extends_another(base):
    # It ran Kazakhstan's calibrated parameters on Kyrgyz currency, donors and policy,
    # titled "Kyrgyzstan baseline".
    err = _error(base("country: kazakhstan\n"))
    assert err.field == "country"
    assert err.message.startswith("'kazakhstan' in a file that extends kyrgyzstan's scenario")


def test_donor_money_in_dollars_for_millions_is_refused(base):
    # 20,000,000 (dollars for millions) ran: a register three times the baseline's.
    err = _error(base("donor_budget_scale: {value: 20000000, source: a test}\n"))
    assert err.field == "donor_budget_scale"
    assert err.message.startswith("must be from 0 to 100,000 million US$ a year, got 2e+07")
    assert err.message.endswith("(dollars given for millions?)")
    assert load_scenario(base("donor_budget_scale: {value: 100000, source: a test}\n"))


def _regional_variant_error(write_yaml, repo, text: str) -> tuple:
    """Return a regional base file of ``text`` and the error loading a variant of it gives."""
    region = repo / "scenarios" / "central_asia.yaml"
    parent = write_yaml("ca_base.yaml", f"extends: {region}\nname: Mine\n{text}")
    child = write_yaml("ca_variant.yaml", f"extends: {parent}\nname: Variant\n")
    with pytest.raises(ScenarioError) as caught:
        load_region(child)
    return parent, caught.value


def test_an_unknown_key_in_a_regional_base_is_named_in_it(write_yaml, repo):
    parent, err = _regional_variant_error(write_yaml, repo, "regionl: 1\n")
    assert (err.file, err.field) == (str(parent), "regionl")


def test_a_bad_point_is_named_with_its_year_in_the_file_that_wrote_it(base, write_yaml):
    # The point's check named the whole series, so a variant that restated another year
    # was blamed for its base's point.
    burden = "state:\n  registration_burden: {points: {%s}, source: a test}\n"
    parent = base(burden % "2010: 1.5")
    child = write_yaml("variant.yaml", f"extends: {parent}\nname: Variant\n" + burden % "2016: 0.3")
    err = _error(child)
    assert (err.file, err.field) == (str(parent), "state.registration_burden.points.2010")
    assert err.message == "value 1.5 is outside [0, 1]"


def test_a_missing_field_is_named_in_the_file_that_wrote_the_item_without_it(base, write_yaml):
    # Named in the committed baseline, which gives the shock's year, when a base file had
    # removed the shock and its variant wrote it again without one.
    parent = base(f"state:\n  shocks:\n    - {{name: {SHOCK}, remove: true}}\n")
    child = _shock_variant(write_yaml, parent, "instability: 0.5, source: a test")
    err = _error(child)
    assert (err.file, err.field) == (str(child), f"state.shocks[{SHOCK}].year")
    # A donor a base file adds without its weight is the base's, whatever its variant sets.
    donor = "donors:\n  - {name: New donor, entry_year: 2000, mean_grant_usd: {value: 5000, "
    donor += "source: a test}, priorities: {weights: {youth: 1}, source: a test}, source: a test}\n"
    parent = base(donor, "donor.yaml")
    child = write_yaml(
        "later.yaml",
        f"extends: {parent}\nname: Later\n"
        "donors:\n  - {name: New donor, exit_year: 2010, source: a test}\n",
    )
    err = _error(child)
    assert (err.file, err.field) == (str(parent), "donors[New donor].weight")


def test_a_behaviour_named_in_a_base_file_and_a_file_reached_through_a_link(
    write_yaml, scenario_file, tmp_path
):
    parent = write_yaml(
        "own.yaml", f"extends: {scenario_file('kyrgyzstan')}\nname: Own\nbehaviour: mine.yaml\n"
    )
    child = write_yaml("variant.yaml", f"extends: {parent}\nname: Variant\n")
    err = _error(child)
    assert (err.file, err.field) == (str(parent), "behaviour")
    # A scenario reached through a symbolic link extends the files beside its target (the
    # chain read for naming errors followed the link's folder, and every load failed).
    link = tmp_path / "linked" / "kg.yaml"
    link.parent.mkdir()
    link.symlink_to(scenario_file("kyrgyzstan"))
    assert load_scenario(link) == load_scenario(scenario_file("kyrgyzstan"))
    bad = write_yaml("bad_link.yaml", f"extends: {link}\nname: Bad\ncolour: blue\n")
    assert _error(bad).file == str(bad)


def test_regional_lists_changed_need_a_source_and_a_countrys_file_is_named_where_written(
    write_yaml, repo, tmp_path
):
    region = repo / "scenarios" / "central_asia.yaml"
    # A regional donors' list or a programme's countries kept the source of the old ones.
    changed = write_yaml(
        "ca_lists.yaml",
        f"extends: {region}\nname: Lists\nregional_donors:\n  names: [UNDP]\n",
    )
    with pytest.raises(ScenarioError) as caught:
        load_region(changed)
    assert caught.value.field == "regional_donors.source"
    gone = f"countries:\n  kyrgyzstan: {tmp_path / 'gone.yaml'}\n"
    parent, err = _regional_variant_error(write_yaml, repo, gone)
    assert (err.file, err.field) == (str(parent), "countries.kyrgyzstan")
    assert err.message.endswith("gone.yaml: file not found")
