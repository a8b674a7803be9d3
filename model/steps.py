"""Calendar years as Mesa steps: a run refuses, before it steps, a year its inputs lack.

Mesa 3.5's ``Model`` keeps ``time`` in steps and runs ``run_for(duration)`` and
``run_until(end_time)`` over continuous time, with ``step`` scheduled every 1.0 (the
``mesa.model`` source). Here one step is one calendar year, and the inputs (a scenario, a
region) end at a year: a fraction of a year would run a whole step or none, and a step
past the inputs' end would make its rows up. Mesa counts a step before it runs it, so a
step refused from inside the model leaves ``steps`` one ahead of the rows and the step
schedule stopped; these checks refuse before Mesa is asked to step.
"""

from __future__ import annotations

import numbers


def refuse_step_past(year: int, end_year: int, what: str) -> None:
    """Refuse a step after ``end_year``, whose inputs end there (``what``: the model's input).

    Mesa's ``run_for`` does not stop at ``running``: the rows after it would be made up.

    Raises:
        ValueError: naming ``year``.
    """
    if year >= end_year:
        raise ValueError(f"year: the {what} ends in {end_year}: no year after it to step")


def is_whole_year(value) -> bool:
    """Return whether ``value`` is a whole number (``5`` or ``5.0``; a bool is not one)."""
    whole = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and float(value).is_integer()
    )
    return whole and not isinstance(value, bool)


def whole_years(value, name: str) -> int:
    """Return ``value`` as a whole number of years >= 0 (``5`` or ``5.0``), naming ``name``.

    Raises:
        ValueError: for a fraction, a negative number, a bool or what is no number.
    """
    if not is_whole_year(value) or value < 0:
        raise ValueError(f"{name}: a whole number of years >= 0 (one step a year), got {value!r}")
    return int(value)


class CalendarSteps:
    """Mixin for a Mesa model whose step is the next calendar year, up to ``last_year``.

    The model keeps ``year``, the last year simulated, and calls ``guard_steps`` after
    Mesa's ``Model.__init__`` (which replaces ``step`` with its scheduled step).
    """

    year: int

    def guard_steps(self, last_year: int, inputs_name: str) -> None:
        """Check every call of ``step`` before Mesa counts and schedules it.

        Args:
            last_year: The last calendar year the model's inputs give.
            inputs_name: What ends there, for the refusals (``scenario``, ``region``).
        """
        self.last_year, self.inputs_name = last_year, inputs_name
        self._scheduled_step = self.step
        self.step = self._checked_step

    def run_for(self, duration: float | int) -> None:
        """Simulate the next ``duration`` calendar years (a whole number).

        Raises:
            ValueError: for a fraction of a year, or more years than the inputs have left
                (before any is simulated).
        """
        years = whole_years(duration, "duration")
        self._refuse_beyond(years, "duration")
        if years:
            super().run_for(years)

    def run_until(self, end_time: float | int) -> None:
        """Simulate until Mesa's ``time`` is ``end_time``: steps, one a year, not a year.

        As Mesa's, it returns at once (with Mesa's warning) if ``time`` is past ``end_time``.

        Raises:
            ValueError: for a fraction, or a time past the inputs' last year, which names
                the time that reaches it (before any year is simulated).
        """
        target = whole_years(end_time, "end_time")
        if target > self.time:
            self._refuse_beyond(target - int(self.time), "end_time", target)
        super().run_until(target)

    def step_past_end(self) -> None:
        """What a step after ``last_year`` does: refuse it (``refuse_step_past``)."""
        refuse_step_past(self.year, self.last_year, self.inputs_name)

    def _checked_step(self) -> None:
        if self.year >= self.last_year:
            self.step_past_end()
            return
        self._scheduled_step()

    def _refuse_beyond(self, years: int, name: str, time: int | None = None) -> None:
        left = self.last_year - self.year
        if years <= left:
            return
        asked = f"{_years(years)} from {self.year}" if time is None else f"time {time}"
        reach = int(self.time) + left
        raise ValueError(
            f"{name}: {asked} would step past {self.last_year}, where the {self.inputs_name} "
            f"ends: {_years(left)} left (Mesa's time counts steps, one a year: "
            f"run_until({reach}) reaches {self.last_year})"
        )


def _years(count: int) -> str:
    return f"{count} year" if count == 1 else f"{count} years"
