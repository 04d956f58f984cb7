"""Execute every notebook in place, so the committed copies show their outputs.

    python notebooks/execute.py            # all notebooks
    python notebooks/execute.py 01_quickstart.ipynb

Each code cell's metadata gets `barpo.source_sha` (a hash of its source when it was run):
tests/test_notebooks.py fails when a cell was edited without re-executing the notebook,
and re-runs every notebook at small settings to check it still runs with the same kinds of
output. Run from anywhere; the notebooks run from this folder (as Jupyter would)."""
from __future__ import annotations

import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def source_sha(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def execute(path: str, timeout: int = 3600) -> None:
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": HERE}}).execute()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata.setdefault("barpo", {})["source_sha"] = source_sha(cell.source)
            cell.metadata.pop("execution", None)  # timestamps: noise in diffs
    nbformat.write(nb, path)
    print(f"executed {os.path.basename(path)} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(n for n in os.listdir(HERE) if n.endswith(".ipynb"))
    for name in names:
        execute(os.path.join(HERE, os.path.basename(name)))
