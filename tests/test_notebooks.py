"""The notebooks in notebooks/: committed without outputs, and executed top to bottom.

Every notebook runs in smoke mode (env ``GANZOO_SMOKE=1``: tiny data, a few steps, offline)
in a fresh Jupyter kernel of *this* interpreter (so CI runs them inside its .venv), with its
own empty working folder and evaluation cache. A notebook checks its own results with
``assert`` cells, so a wrong picture or number fails here, not only an exception.

The smoke budget of all five together is about 4 minutes on a 2-core CPU. Wall-clock time
depends on what else the machine runs, so each notebook's budget is checked on the CPU time
of its kernel (``SMOKE_CPU_SECONDS``); both are printed (``-s``).

To strip outputs before committing::

    python tests/test_notebooks.py --strip notebooks/*.ipynb
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
EXPECTED = [
    "01_quickstart.ipynb",
    "02_train_on_your_art.ipynb",
    "03_evaluate.ipynb",
    "04_photo_to_painting.ipynb",
    "05_distributed_and_tpu.ipynb",
]
#: Upper bound of the CPU seconds (user + system, all threads) of one notebook's kernel in
#: smoke mode (measured: 5, 14, 17, 20 and 33 s; the five together about 90 s, i.e. about
#: 1.5 minutes of an idle 2-core CPU). A notebook that forgets to shrink in smoke mode fails.
SMOKE_CPU_SECONDS = 60
CELL_TIMEOUT = 600
#: Pictures (PNG outputs) each notebook shows in smoke mode. Fewer means plots silently
#: stopped appearing (as when a library call switches matplotlib's backend mid-session).
PICTURES = {"01_quickstart.ipynb": 4, "02_train_on_your_art.ipynb": 5, "03_evaluate.ipynb": 3,
            "04_photo_to_painting.ipynb": 3, "05_distributed_and_tpu.ipynb": 0}
#: Appended to the executed copy (never to the file): the kernel reports its own CPU time.
CPU_PROBE = ("import resource as _r\n_u = _r.getrusage(_r.RUSAGE_SELF)\n"
             "print('KERNEL_CPU_SECONDS', _u.ru_utime + _u.ru_stime)")


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
                       f"`python tests/test_notebooks.py --strip notebooks/{name}`")


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


def _kernel_manager(spec_dir: Path):
    """A kernel manager whose only kernel is this interpreter (e.g. CI's .venv python)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    kernel = spec_dir / "ganzoo-test"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ganzoo test kernel", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir)], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name="ganzoo-test", kernel_spec_manager=specs)


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_top_to_bottom_in_smoke_mode(name, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("GANZOO_SMOKE", "1")
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "cache"))  # nothing reused from earlier runs
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter"))  # connection files
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # history database
    nb = nbformat.read(str(NOTEBOOK_DIR / name), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CPU_PROBE))
    client = NotebookClient(nb, km=_kernel_manager(tmp_path / "kernels"), timeout=CELL_TIMEOUT,
                            resources={"metadata": {"path": str(work)}})
    start = time.time()
    client.execute(cleanup_kc=True)  # shut the kernel down (a kernel manager passed in is not owned)
    seconds = time.time() - start
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors
    pictures = sum(1 for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
                   if out.output_type in ("display_data", "execute_result") and "image/png" in out.get("data", {}))
    assert pictures >= PICTURES[name], f"{name} showed {pictures} pictures, expected {PICTURES[name]}"
    probe = "".join(out.get("text", "") for out in nb.cells[-1].outputs)
    cpu = float(probe.split("KERNEL_CPU_SECONDS")[1].split()[0])
    print(f"\n{name}: {seconds:.1f} s wall, {cpu:.1f} s kernel CPU in smoke mode")
    assert cpu < SMOKE_CPU_SECONDS, (f"{name} used {cpu:.0f} s of CPU in smoke mode (budget "
                                     f"{SMOKE_CPU_SECONDS} s): shrink what it does when GANZOO_SMOKE=1")


if __name__ == "__main__":  # python tests/test_notebooks.py --strip notebooks/*.ipynb
    if sys.argv[1:2] != ["--strip"] or len(sys.argv) < 3:
        sys.exit("usage: python tests/test_notebooks.py --strip NOTEBOOK.ipynb ...")
    for arg in sys.argv[2:]:
        print(("stripped " if strip(Path(arg)) else "clean    ") + arg)
