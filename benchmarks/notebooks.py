"""The notebooks' smoke-mode cost: wall time and kernel CPU seconds of each notebook run top
to bottom with ``GANZOO_SMOKE=1``, printed beside the smoke budget.

    python -m benchmarks.notebooks [NAME.ipynb ...] [--json OUT.json]

The budget is a guide for whoever edits a notebook (a notebook that forgets to shrink in smoke
mode shows up here as several times its usual cost), not a test: CPU time depends on the
processor, so tests/integration/test_notebooks.py only prints it. The executor below is the one that test
uses, so what is measured here is what CI runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
#: Smoke-mode CPU seconds (user + system, all threads) one notebook's kernel should stay under
#: on a 2-core CPU. Measured on the development machine: 5, 14, 17, 20 and 33 s (the five
#: together about 90 s); an AMD EPYC without AVX-512 ran notebook 05 at 61 s.
SMOKE_CPU_SECONDS = 60
CELL_TIMEOUT = 600
#: Appended to the executed copy (never to the file): the kernel reports its own CPU time.
CPU_PROBE = ("import resource as _r\n_u = _r.getrusage(_r.RUSAGE_SELF)\n"
             "print('KERNEL_CPU_SECONDS', _u.ru_utime + _u.ru_stime)")


@dataclass
class SmokeRun:
    """One executed notebook (outputs included), its wall time and its kernel's CPU seconds."""
    notebook: object
    wall_seconds: float
    cpu_seconds: float


def smoke_environment(tmp: Path) -> dict:
    """The variables a smoke run sets: smoke mode, offline, and fresh caches and Jupyter
    folders under ``tmp`` (nothing is reused from earlier runs); the kernel imports this
    checkout's ganzoo (``src/``) whichever one the interpreter has installed."""
    pythonpath = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": pythonpath, "GANZOO_SMOKE": "1", "GANZOO_OFFLINE": "1", "GANZOO_CACHE_DIR": str(tmp / "cache"),
            "TF_CPP_MIN_LOG_LEVEL": "2", "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter"),
            "IPYTHONDIR": str(tmp / "ipython")}


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


def run_smoke(path: Path, tmp: Path) -> SmokeRun:
    """Execute notebook ``path`` top to bottom in a fresh kernel of this interpreter, in its own
    empty working folder under ``tmp``. The caller sets :func:`smoke_environment` (the kernel
    inherits this process's environment)."""
    import nbformat
    from nbclient import NotebookClient

    work = tmp / "work"
    work.mkdir(parents=True)
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CPU_PROBE))
    client = NotebookClient(nb, km=_kernel_manager(tmp / "kernels"), timeout=CELL_TIMEOUT,
                            resources={"metadata": {"path": str(work)}})
    start = time.time()
    client.execute(cleanup_kc=True)  # shut the kernel down (a kernel manager passed in is not owned)
    wall = time.time() - start
    probe = "".join(out.get("text", "") for out in nb.cells[-1].outputs)
    cpu = float(probe.split("KERNEL_CPU_SECONDS")[1].split()[0]) if "KERNEL_CPU_SECONDS" in probe else float("nan")
    nb.cells.pop()  # the probe is not part of the notebook
    return SmokeRun(nb, wall, cpu)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", help="notebook file names (default: all in notebooks/)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    paths = [NOTEBOOK_DIR / n for n in args.notebooks] or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    rows = []
    for path in paths:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update(smoke_environment(Path(tmp)))
            run = run_smoke(path, Path(tmp))
        rows.append({"notebook": path.name, "wall_s": round(run.wall_seconds, 1), "cpu_s": round(run.cpu_seconds, 1),
                     "over_budget": run.cpu_seconds > SMOKE_CPU_SECONDS})
        print(f"{path.name:34} {run.wall_seconds:7.1f} s wall {run.cpu_seconds:7.1f} s CPU"
              f"{'   OVER the smoke budget of %d s' % SMOKE_CPU_SECONDS if rows[-1]['over_budget'] else ''}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"budget_cpu_s": SMOKE_CPU_SECONDS, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
