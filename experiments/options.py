"""Bounds of the studies' whole-number options (``python -m experiments.<study>``).

A study checks its options before any run, so that a bad ``--draws`` or ``--workers``
costs one line naming the option (exit 2) rather than a traceback after the computing.
The ``ngo-abm`` commands check theirs as argparse types (``cli.arguments.whole_number``).
"""

from __future__ import annotations

import argparse

from model import ScenarioError


def check_bounds(args: argparse.Namespace, bounds: dict[str, tuple[int, int | None]]) -> None:
    """Raise ``ScenarioError`` for an option outside its ``(low, high)`` (``None``: no top)."""
    for name, (low, high) in bounds.items():
        value = getattr(args, name)
        if value < low or (high is not None and value > high):
            within = f"at least {low}" if high is None else f"from {low} to {high}"
            raise ScenarioError(f"--{name.replace('_', '-')}", "", f"{value}: {within}")
