"""The notebooks in notebooks/: committed without outputs, and executed top to bottom.

Every notebook runs in smoke mode (env ``GANZOO_SMOKE=1``: tiny data, a few steps, offline)
in a fresh Jupyter kernel of *this* interpreter (so CI runs them inside its .venv), with its
own empty working folder and evaluation cache. A notebook checks its own results with
``assert`` cells, so a wrong picture or number fails here, not only an exception.

Each run's wall time and kernel CPU seconds are printed (``-s``), never asserted: both depend
on the processor and its load. ``python -m benchmarks.notebooks`` measures them against the
smoke budget; a hang still fails here through the per-cell timeout.

To strip outputs before committing::

    python tests/integration/test_notebooks.py --strip notebooks/*.ipynb
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks.notebooks import NOTEBOOK_DIR, run_smoke, smoke_environment

EXPECTED = [
    "01_quickstart.ipynb",
    "02_train_on_your_art.ipynb",
    "03_evaluate.ipynb",
    "04_photo_to_painting.ipynb",
    "05_distributed_and_tpu.ipynb",
]
#: Pictures (PNG outputs) each notebook shows in smoke mode. Fewer means plots silently
#: stopped appearing (as when a library call switches matplotlib's backend mid-session).
PICTURES = {"01_quickstart.ipynb": 4, "02_train_on_your_art.ipynb": 5, "03_evaluate.ipynb": 3,
            "04_photo_to_painting.ipynb": 3, "05_distributed_and_tpu.ipynb": 0}


def notebook_paths():
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def strip(path: Path) -> bool:
    """Remove outputs and execution counts in place; True if the file changed."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code":
            if cell.outputs or cell.execution_count is not None:
                changed = True
            cell.outputs, cell.execution_count = [], None
        if "execution" in cell.metadata:
            del cell.metadata["execution"]
            changed = True
    if changed:
        nbformat.write(nb, str(path))
    return changed


def test_the_five_notebooks_exist():
    assert [p.name for p in notebook_paths()] == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_notebook_has_no_outputs(name):
    raw = json.loads((NOTEBOOK_DIR / name).read_text())
    dirty = [i for i, cell in enumerate(raw["cells"]) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{name}: code cells {dirty} hold outputs or execution counts; strip them with "
                       f"`python tests/integration/test_notebooks.py --strip notebooks/{name}`")


@pytest.mark.parametrize("name", EXPECTED)
def test_first_code_cell_installs_ganzoo_only_when_missing(name):
    import nbformat

    nb = nbformat.read(str(NOTEBOOK_DIR / name), as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code").source
    assert "pip" in first and "install" in first and "git+" in first, f"{name}: the first code cell must install ganzoo"
    assert 'find_spec("ganzoo") is None' in first, f"{name}: the install must be skipped when ganzoo is importable"
    assert "GANZOO_SMOKE" in "".join(c.source for c in nb.cells), f"{name}: no smoke mode"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_uses_only_public_names(name):
    """Notebooks show the public API: no ``ganzoo...._private`` name, no ``from ganzoo... import _x``
    (dunder names such as ``__version__`` are public)."""
    import re

    import nbformat

    nb = nbformat.read(str(NOTEBOOK_DIR / name), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    private = re.findall(r"ganzoo(?:\.\w+)*\._(?!_)\w+|from ganzoo[\w.]* import .*\b_(?!_)\w+", code)
    assert not private, f"{name} uses private names: {private}"


@pytest.mark.slow  # an end-to-end run in a subprocess: the slow CI phase, beside the long proofs
@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_top_to_bottom_in_smoke_mode(name, tmp_path, monkeypatch):
    for key, value in smoke_environment(tmp_path).items():
        monkeypatch.setenv(key, value)
    run = run_smoke(NOTEBOOK_DIR / name, tmp_path)
    nb = run.notebook
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors
    pictures = sum(1 for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
                   if out.output_type in ("display_data", "execute_result") and "image/png" in out.get("data", {}))
    assert pictures >= PICTURES[name], f"{name} showed {pictures} pictures, expected {PICTURES[name]}"
    print(f"\n{name}: {run.wall_seconds:.1f} s wall, {run.cpu_seconds:.1f} s kernel CPU in smoke mode "
          f"(python -m benchmarks.notebooks compares it with the smoke budget)")


if __name__ == "__main__":  # python tests/integration/test_notebooks.py --strip notebooks/*.ipynb
    if sys.argv[1:2] != ["--strip"] or len(sys.argv) < 3:
        sys.exit("usage: python tests/integration/test_notebooks.py --strip NOTEBOOK.ipynb ...")
    for arg in sys.argv[2:]:
        print(("stripped " if strip(Path(arg)) else "clean    ") + arg)
