"""Mesa's agent-level data collection of the NGO agents (``NGOModel(ngo_reporters=...)``).

Found by an audit of the Python calls (session 82): Mesa users expect the DataCollector's
agent table, and the model collected none.
"""

from __future__ import annotations

import pytest

from model import NGO, NGOModel, load_scenario


def test_ngo_reporters_collect_every_registered_ngo_and_change_no_output(repo):
    scenario = load_scenario(repo / "scenarios" / "kyrgyzstan.yaml")
    model = NGOModel(scenario, rng=2, ngo_reporters={"sector": "sector", "status": "status"})
    model.run_for(12)
    frame = model.datacollector.get_agenttype_vars_dataframe(NGO)
    assert list(frame.columns) == ["sector", "status"]
    last = frame.xs(frame.index.get_level_values(0).max(), level=0)
    assert len(last) == model.results()["registered"].iloc[-1]
    plain = NGOModel(scenario, rng=2)
    plain.run_for(12)
    assert model.results().equals(plain.results())
    with pytest.raises(ValueError, match="^ngo_reporters: read the NGO agents"):
        NGOModel(scenario, rng=2, agents=False, ngo_reporters={"sector": "sector"})
