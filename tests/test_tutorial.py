"""The tutorial notebook (docs/tutorial.ipynb): committed without outputs, and it runs.

The notebook is executed from start to end in a fresh kernel of this environment
(nbclient), from its own folder as Jupyter would; any cell that raises fails the test.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "docs" / "tutorial.ipynb"
CELL_SECONDS = 600


def _notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_the_tutorial_is_committed_without_outputs():
    notebook = _notebook()
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code
    assert [c.outputs for c in code] == [[] for _ in code]
    assert {c.execution_count for c in code} == {None}


def test_the_tutorial_runs_from_start_to_end():
    nbclient = pytest.importorskip("nbclient")
    notebook = _notebook()
    nbclient.NotebookClient(
        notebook,
        timeout=CELL_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 5
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "kyrgyzstan:" in text and "targets within tolerance" in text
    assert "no-2010-shock: What did the 2010 revolution and Osh conflict cost the sector?" in text
    assert "['no-legitimation', 'no-ngo-scramble', 'no-voluntary-closure']" in text
