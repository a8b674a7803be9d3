"""NGO-sector agent-based model of Central Asia (Mesa): public interface.

Source: Jaysanov (2023), "The Dynamics of Non-Governmental Organizations and Their
Development in Central Asia (In the Case of Kazakhstan and Kyrgyzstan)", CAJOTAS 4(6).
"""

from .agents import NGO, Donor, State
from .config_files import ScenarioError
from .founding import RunawayError, runaway_names
from .metrics import COLUMN_DOCS, OUTPUT_COLUMNS
from .model import NGOModel, simulate
from .parameters import Behaviour
from .scenario import COUNTRIES, SECTORS, Scenario, load_scenario

__all__ = [
    "Behaviour",
    "COLUMN_DOCS",
    "COUNTRIES",
    "Donor",
    "NGO",
    "NGOModel",
    "OUTPUT_COLUMNS",
    "RunawayError",
    "SECTORS",
    "Scenario",
    "ScenarioError",
    "State",
    "load_scenario",
    "runaway_names",
    "simulate",
]
