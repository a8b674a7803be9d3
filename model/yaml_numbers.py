"""The YAML loader of the config files: ``yaml.SafeLoader`` reading ``1e6`` as a number.

PyYAML follows YAML 1.1, where a float needs a dot and a signed exponent, so ``1e3`` and
``5E6`` are text, and a config's ``value: 1e3`` was refused as "not a valid number". YAML
1.2 (and JSON) read them as the numbers they are written as; so does this loader, with
PyYAML's own underscores between digits (``1_000e3``), as its other numbers take them.
Nothing else of ``yaml.SafeLoader`` changes, and it is not modified itself.
"""

from __future__ import annotations

import re

import yaml


class ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads an exponent without a dot or a sign as a float."""


ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    # A digit first, or a dot and a digit ("._e3" is no number and stays text).
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
