"""The notebooks are committed with their outputs (notebooks/execute.py); here each one
must (1) hold outputs made by its current cells: every code cell's recorded source hash
matches its source, and (2) still run top to bottom at small settings, producing the same
kinds of output per cell (text, figure, table) as the committed copy. Numbers differ at
the small settings, so they are not compared; figures are not compared either."""
import importlib.util
import os

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NB = os.path.join(ROOT, "notebooks")
NAMES = sorted(n for n in os.listdir(NB) if n.endswith(".ipynb"))

_spec = importlib.util.spec_from_file_location("nb_execute", os.path.join(NB, "execute.py"))
nb_execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nb_execute)


def _kinds(cell) -> list:
    """The kinds of output of a code cell: stream names and MIME types, in order, once each."""
    kinds = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            kind = out.name
        elif out.output_type == "error":
            kind = "error"
        else:
            kind = "image/png" if "image/png" in out.get("data", {}) else "text"
        if kind not in kinds:
            kinds.append(kind)
    return kinds


@pytest.mark.parametrize("name", NAMES)
def test_committed_outputs_come_from_the_current_cells(name):
    nb = nbformat.read(os.path.join(NB, name), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    stale = [i for i, c in enumerate(code)
             if c.metadata.get("barpo", {}).get("source_sha") != nb_execute.source_sha(c.source)]
    assert not stale, (f"{name}: code cells {stale} changed since the notebook was executed: run "
                       f"`python notebooks/execute.py {name}` and commit it")
    assert any(c.get("outputs") for c in code), f"{name} is committed without outputs"
    assert not any(o.output_type == "error" for c in code for o in c.get("outputs", [])), f"{name} has an error"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_still_runs_with_the_same_kinds_of_output(name, monkeypatch):
    monkeypatch.setenv("BARPO_NB_SMALL", "1")
    committed = nbformat.read(os.path.join(NB, name), as_version=4)
    fresh = nbformat.read(os.path.join(NB, name), as_version=4)
    NotebookClient(fresh, timeout=900, kernel_name="python3", resources={"metadata": {"path": NB}}).execute()
    # A notebook with sizes reads BARPO_NB_SMALL and says which sizes it ran (03 only reads committed tables).
    if any("BARPO_NB_SMALL" in c.source for c in fresh.cells):
        said = "".join(o.get("text", "") for c in fresh.cells if c.cell_type == "code" for o in c.get("outputs", []))
        assert "small (test) sizes" in said, f"{name} ran at full size under BARPO_NB_SMALL=1"
    else:
        assert name.startswith("03_"), f"{name} has sizes but does not read BARPO_NB_SMALL"
    for i, (a, b) in enumerate(zip(committed.cells, fresh.cells)):
        if a.cell_type == "code":
            assert "image/png" not in _kinds(a) or "image/png" in _kinds(b), f"{name} cell {i}: no figure now"
            assert ("stdout" in _kinds(a)) == ("stdout" in _kinds(b)), f"{name} cell {i}: printed text changed"
