"""What an install of this checkout imports, and what a built distribution ships.

Builds run offline with the setuptools of this interpreter (PEP 517/660 hooks of
``setuptools.build_meta``, as ``pip install --no-build-isolation`` calls them) in a copy of the
project, so the checkout is left alone. An install is then reproduced without pip: the built wheel
is unpacked into a folder that plays the part of site-packages, and a fresh interpreter started
with ``-S`` processes that folder's ``.pth`` files exactly as ``site`` does at start-up, with the
interpreter's own site-packages (ganzoo's dependencies) after it and none of their ``.pth`` files
(so no other installed ganzoo takes part).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Not needed to build the package (and possibly large: runs/, a .venv).
NOT_BUILD_INPUTS = {"runs", "build", "dist", "docs", "notebooks", "benchmarks", "tests", "examples", "scripts"}

PROBE = r"""
import json, site, sys
site_dir, deps = sys.argv[1], json.loads(sys.argv[2])
site.addsitedir(site_dir)  # the install under test: its .pth files run as at start-up
sys.path.extend(deps)      # ganzoo's dependencies (yaml, ...)
import ganzoo
got = {"file": getattr(ganzoo, "__file__", None), "path": [str(p) for p in ganzoo.__path__]}
if hasattr(ganzoo, "list_models"):  # what the package reads at run time
    from ganzoo.registry import config_dir
    from ganzoo.weights import PRETRAINED_DIR
    got.update(models=ganzoo.list_models(), configs=str(config_dir()),
               pretrained=sorted(p.name for p in PRETRAINED_DIR.iterdir()))
print(json.dumps(got))
"""


def _copy_project(dest: Path) -> Path:
    """The files a build reads, copied to ``dest`` (tracked or not; caches left out)."""
    dest.mkdir(parents=True)
    for entry in REPO.iterdir():
        if entry.name.startswith(".") or entry.name in NOT_BUILD_INPUTS or entry.name.endswith(".egg-info"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, dest / entry.name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(entry, dest / entry.name, follow_symlinks=False)
    return dest


def _build(project: Path, hook: str, out: Path) -> Path:
    """Run ``setuptools.build_meta.<hook>(out)`` in ``project``; the built file's path."""
    out.mkdir(parents=True, exist_ok=True)
    code = f"import sys; from setuptools import build_meta; print(build_meta.{hook}(sys.argv[1]))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"{hook} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return out / proc.stdout.strip().splitlines()[-1]


def _import_ganzoo(site_dir: Path, cwd: Path) -> dict:
    """``import ganzoo`` in a fresh interpreter whose site-packages is ``site_dir``, run from ``cwd``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["GANZOO_LAZY_IMPORT"] = "1"  # configs only: no TensorFlow
    proc = subprocess.run([sys.executable, "-S", "-c", PROBE, str(site_dir), json.dumps(site.getsitepackages())],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _yaml_names(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml"))


def _same(path, expected: Path) -> bool:
    return path is not None and Path(path).resolve() == expected.resolve()


def _pretrained_names() -> list[str]:
    return sorted(p.name for p in (REPO / "src" / "ganzoo" / "pretrained").iterdir())


def test_editable_install_imports_the_package_from_the_folder_that_holds_the_clone(tmp_path):
    """A clone named ``ganzoo``, installed with ``pip install -e``, and Python started in the
    folder that holds it (a notebook next to the clone): the clone's root is a directory named
    ``ganzoo`` on sys.path (the working directory), which Python takes as a namespace package
    unless a regular ``ganzoo`` package is on sys.path too. Setuptools' import-hook editable
    mode (flat layout, or any package_dir besides ``= src``) puts none there, so ``import
    ganzoo`` gave an empty module (AttributeError: no attribute 'list_models')."""
    clone = _copy_project(tmp_path / "ganzoo")
    wheel = _build(clone, "build_editable", tmp_path / "wheels")
    site_dir = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site_dir)
        pth = "".join(zf.read(n).decode() for n in zf.namelist() if n.endswith(".pth"))
    assert not any(line.startswith("import") for line in pth.splitlines()), (
        f"the editable install is setuptools' import hook ({pth.strip()!r}), which a folder named ganzoo in "
        "the working directory shadows; setup.cfg's package_dir must be only `= src` for a plain .pth")

    got = _import_ganzoo(site_dir, cwd=tmp_path)
    assert _same(got["file"], clone / "src" / "ganzoo" / "__init__.py"), got
    assert got["models"] == _yaml_names(REPO / "zoo_configs")
    assert _same(got["configs"], clone / "zoo_configs")  # read in place
    assert got["pretrained"] == _pretrained_names()


def test_built_distributions_ship_the_configs_and_the_pretrained_files(tmp_path):
    """``python -m build`` (sdist, then a wheel from it; ``pip install .`` builds the same wheel
    from the tree): the wheel holds every module, zoo_configs/*.yaml as ganzoo/zoo_configs/ and
    every bundled file of src/ganzoo/pretrained/, and the installed package finds its registry
    and weights. (The flat layout's wheel had no YAML file: ``list_models()`` was empty.)"""
    project = _copy_project(tmp_path / "project")
    sdist = _build(project, "build_sdist", tmp_path / "dist")
    with tarfile.open(sdist) as tf:
        tf.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    wheel = _build(unpacked, "build_wheel", tmp_path / "wheels")
    with zipfile.ZipFile(wheel) as zf:
        members = {info.filename: info.file_size for info in zf.infolist()}
        zf.extractall(tmp_path / "site-packages")

    package = REPO / "src" / "ganzoo"
    expected = {f"ganzoo/{p.relative_to(package).as_posix()}": p.stat().st_size
                for p in [*package.rglob("*.py"), *(package / "pretrained").iterdir()]
                if "__pycache__" not in p.parts and p.is_file()}
    expected.update({f"ganzoo/zoo_configs/{p.name}": p.stat().st_size
                     for p in [REPO / "zoo_configs" / "__init__.py", *(REPO / "zoo_configs").glob("*.yaml")]})
    assert any(name.startswith("ganzoo/pretrained/") and name.endswith(".weights.h5") for name in expected)
    missing = sorted(set(expected) - set(members))
    assert not missing, f"not in {wheel.name}: {missing}"
    assert {name: members[name] for name in expected} == expected  # same sizes as in the checkout

    (tmp_path / "ganzoo").mkdir()  # the trap: a folder named ganzoo where Python starts
    got = _import_ganzoo(tmp_path / "site-packages", cwd=tmp_path)
    installed = tmp_path / "site-packages" / "ganzoo"
    assert _same(got["file"], installed / "__init__.py"), got
    assert got["models"] == _yaml_names(REPO / "zoo_configs")
    assert _same(got["configs"], installed / "zoo_configs")
    assert got["pretrained"] == _pretrained_names()
