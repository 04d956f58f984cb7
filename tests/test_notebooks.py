"""Every notebook runs top to bottom (small settings), from the notebooks folder."""
import os

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NB = os.path.join(ROOT, "notebooks")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n in os.listdir(NB) if n.endswith(".ipynb")))
def test_notebook_executes(name, monkeypatch):
    monkeypatch.setenv("BARPO_NB_STEPS", "20000")
    nb = nbformat.read(os.path.join(NB, name), as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs must be stripped in git"
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": NB}}).execute()
