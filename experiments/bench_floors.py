"""The benchmark's floors: the least a one-step-per-agent Mesa model, or numpy, can cost.

- ``mesa_floor``: a plain Mesa model with as many agents per year as the benchmark run
  (created as the run registers NGOs, removed as it strikes them off), every agent stepped
  each year with ``model.agents.shuffle_do("step")``, one random draw and one attribute
  update per step. Only Mesa's public API is used (``Agent``, ``Model``, ``create_agents``,
  ``remove``, ``AgentSet.shuffle_do``).
- ``numpy_floor``: the same trivial work as one numpy update per year.

Both follow a run's ``Profile`` (its register year by year). Used by
``experiments.benchmark``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mesa import Agent, Model

SEED = 1


@dataclass(frozen=True)
class Profile:
    """A run's register per year: what the floors must reproduce."""

    initial: int
    new: np.ndarray
    struck: np.ndarray
    registered: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Profile:
        """Read the profile from a run's yearly table."""
        new = frame["new_registrations"].to_numpy(dtype=np.int64)
        struck = frame["deregistered"].to_numpy(dtype=np.int64)
        registered = frame["registered"].to_numpy(dtype=np.int64)
        initial = int(registered[0] - new[0] + struck[0])
        return cls(initial, new, struck, registered)

    @property
    def agent_years(self) -> int:
        """Sum over years of the NGOs on the register."""
        return int(self.registered.sum())

    @property
    def founded(self) -> int:
        """NGOs that were ever on the register."""
        return self.initial + int(self.new.sum())


class FloorAgent(Agent):
    """An agent whose step is one random draw and one attribute update."""

    def __init__(self, model: Model):
        super().__init__(model)
        self.value = 0.0

    def step(self) -> None:
        """Add one uniform draw to the agent's value."""
        self.value += self.random.random()


class FloorModel(Model):
    """A plain Mesa model whose register follows a run's profile, year by year.

    Each year it creates the year's new agents, removes as many of the oldest as the run
    struck off, then steps every agent once in random order.
    """

    def __init__(self, profile: Profile, seed: int):
        super().__init__(rng=seed)
        self.profile = profile
        self.index = 0
        self.stepped = 0
        self.alive: deque[FloorAgent] = deque()
        self._found(profile.initial)

    def _found(self, count: int) -> None:
        self.alive.extend(FloorAgent.create_agents(self, count))

    def step(self) -> None:
        """Register, strike off, then step every agent once."""
        i = self.index
        self._found(int(self.profile.new[i]))
        for _ in range(int(self.profile.struck[i])):
            self.alive.popleft().remove()
        self.agents.shuffle_do("step")
        self.stepped += len(self.agents)
        self.index += 1


def mesa_floor(profile: Profile, seed: int = SEED) -> int:
    """Run the Mesa floor over ``profile``; return the agent-years stepped."""
    model = FloorModel(profile, seed)
    model.run_for(len(profile.registered))
    return model.stepped


def numpy_floor(profile: Profile, seed: int = SEED) -> int:
    """Do the floor's work as one numpy update per year; return the agent-years updated."""
    rng = np.random.default_rng(seed)
    state = np.zeros(int(profile.registered.max()))
    for count in profile.registered:
        state[:count] += rng.random(count)
    return int(profile.registered.sum())
