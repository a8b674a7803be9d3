"""The fingerprint of the model's code: what stored runs and tables are keyed by."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent


def model_fingerprint() -> str:
    """Return a SHA-256 of the model's source files and the numpy version.

    Two processes with the same fingerprint produce the same runs from the same tasks.
    """
    digest = hashlib.sha256(metadata.version("numpy").encode())
    for path in sorted(MODEL_DIR.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
