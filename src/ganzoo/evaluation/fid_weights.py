"""The FID Inception's weights: find, check, convert, cache (offline first).

The standard weights are pytorch-fid's port of the 2015 graph,
``pt_inception-2015-12-05-6726825d.pth`` (the 8 hex digits are the start of its SHA-256,
PyTorch hub's convention). ganzoo converts that file once into a Keras weights file,
``fid_inception-2015-12-05-6726825d.weights.h5``, in its cache folder and loads that.

Where the weights come from, first match wins:

1. a path given (``ganzoo eval --fid-weights PATH``, ``FIDInceptionExtractor(weights=PATH)``) or
   env ``GANZOO_FID_WEIGHTS``: the ``.pth`` (converted into the cache) or a converted ``.weights.h5``;
2. the cache folder ``$GANZOO_CACHE_DIR/weights/`` (default ``~/.cache/ganzoo/weights/``): the
   converted file, or the ``.pth`` placed there;
3. PyTorch hub's cache (``$TORCH_HOME/hub/checkpoints/``, default ``~/.cache/torch/...``), where
   pytorch-fid leaves the ``.pth`` after its own download;
4. a download of the ``.pth`` from pytorch-fid's release address, when the network is reachable
   and env ``GANZOO_OFFLINE`` is not set.

Otherwise :class:`FIDWeightsError` is raised at once, saying which file to put where. A ``.pth``
must have the published SHA-256 (``6726825d0af5...``); a converted file carries the SHA-256 of the ``.pth`` it
came from and a digest of its arrays, both checked when it is loaded, so a wrong or damaged
file fails instead of giving silently different numbers. Conversion needs no PyTorch
(:mod:`ganzoo.evaluation.torch_file`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ganzoo.evaluation.paths import cache_dir, sha256_file

__all__ = ["FIDWeightsError", "PTH_NAME", "PTH_URL", "PTH_SHA256_PREFIX", "PTH_SHA256", "is_standard", "KERAS_NAME", "FID_WEIGHTS_ENV",
           "resolve_fid_weights", "convert_pth", "weights_digest", "read_provenance", "standard_locations"]

PTH_NAME = "pt_inception-2015-12-05-6726825d.pth"
PTH_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{PTH_NAME}"
PTH_SHA256_PREFIX = "6726825d"
#: The published file's full SHA-256 (95,628,359 bytes), as pinned by other ports of it.
PTH_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
KERAS_NAME = "fid_inception-2015-12-05-6726825d.weights.h5"
#: Environment variable naming the weights (.pth or converted .weights.h5).
FID_WEIGHTS_ENV = "GANZOO_FID_WEIGHTS"

_ATTR_SOURCE = "ganzoo_fid_source_sha256"
_ATTR_DIGEST = "ganzoo_fid_weights_digest"


class FIDWeightsError(FileNotFoundError):
    """The FID Inception weights are missing, or a file is not the standard one."""


def weights_cache_dir(cache: Optional[Union[str, Path]] = None) -> Path:
    """``$GANZOO_CACHE_DIR/weights`` (default ``~/.cache/ganzoo/weights``)."""
    return cache_dir(cache) / "weights"


def _torch_hub_dir() -> Path:
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"


def standard_locations(cache: Optional[Union[str, Path]] = None) -> list[Path]:
    """The files looked for, in order (converted file first)."""
    folder = weights_cache_dir(cache)
    return [folder / KERAS_NAME, folder / PTH_NAME, _torch_hub_dir() / PTH_NAME]


def weights_digest(arrays) -> str:
    """SHA-256 over the network's weights as float32 (shape and bytes of each, in order): the
    same for the same numbers whatever file format held them."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(np.asarray(array, np.float32))
        digest.update(repr(tuple(array.shape)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def is_standard(sha256: Optional[str]) -> bool:
    """Whether ``sha256`` is the published file's (:data:`PTH_SHA256`)."""
    return sha256 == PTH_SHA256


def _check_pth(path: Path) -> str:
    sha = sha256_file(path)
    if not is_standard(sha):
        raise FIDWeightsError(
            f"{path}: SHA-256 {sha} is not {PTH_SHA256} (does not start with {PTH_SHA256_PREFIX}), so it is not "
            f"pytorch-fid's FID Inception {PTH_NAME} (or the download is damaged). Download that file from {PTH_URL} "
            "(or call convert_pth(..., check=False) to use another port knowingly)")
    return sha


def convert_pth(pth: Union[str, Path], out: Union[str, Path], check: bool = True) -> Path:
    """Convert pytorch-fid's ``.pth`` state dict into a Keras weights file ``out`` (``.weights.h5``).

    The file's SHA-256 must be the published one (:data:`PTH_SHA256`) unless ``check`` is
    False (other ports, tests with random weights). The Keras file records the ``.pth``'s
    SHA-256 and the digest of its arrays (checked by :func:`read_provenance` at load). Written
    atomically.
    """
    pth = Path(pth).expanduser()
    return _write_converted(pth, out, _check_pth(pth) if check else sha256_file(pth))


def _write_converted(pth: Path, out: Union[str, Path], source_sha: str) -> Path:
    """Convert ``pth``, whose SHA-256 the caller has computed (and checked), into ``out``."""
    from ganzoo.evaluation.fid_inception import build_fid_inception, torch_to_keras_weights  # noqa: PLC0415
    from ganzoo.evaluation.torch_file import load_state_dict  # noqa: PLC0415

    out = Path(out).expanduser()
    if not str(out).endswith(".weights.h5"):
        raise ValueError(f"{out}: the Keras weights file must end in .weights.h5")
    model = build_fid_inception()
    weights = torch_to_keras_weights(load_state_dict(pth), model)
    for layer in model.layers:
        if layer.name in weights:
            layer.set_weights(weights[layer.name])
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".weights.h5", dir=out.parent, prefix=".converting-")
    os.close(fd)
    try:
        model.save_weights(tmp)
        import h5py  # noqa: PLC0415 (Keras's own dependency)

        with h5py.File(tmp, "a") as f:
            f.attrs[_ATTR_SOURCE] = source_sha
            f.attrs[_ATTR_DIGEST] = weights_digest(model.get_weights())
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return out


def read_provenance(path: Union[str, Path]) -> dict:
    """``{"source_sha256", "digest"}`` recorded in a converted file (None where absent)."""
    import h5py  # noqa: PLC0415

    with h5py.File(path, "r") as f:
        source, digest = f.attrs.get(_ATTR_SOURCE), f.attrs.get(_ATTR_DIGEST)
    text = lambda v: None if v is None else (v.decode() if isinstance(v, bytes) else str(v))  # noqa: E731
    return {"source_sha256": text(source), "digest": text(digest)}


def _missing_message(searched: list[Path], reason: str) -> str:
    folder = searched[0].parent
    return (
        f"the FID Inception weights (the 2015 Inception graph as ported by pytorch-fid) are not available: no file at "
        f"{', '.join(str(p) for p in searched)}, no --fid-weights PATH, env {FID_WEIGHTS_ENV} is not set, {reason}.\n"
        f"To provide them, on a machine with internet download\n  {PTH_URL}\n(SHA-256 {PTH_SHA256}, "
        f"95,628,359 bytes) and either copy it to {folder}/ here, or pass `--fid-weights PATH` (env {FID_WEIGHTS_ENV}=PATH). "
        f"ganzoo converts it once into {folder / KERAS_NAME}, without PyTorch.\n"
        "Without them: `--inception keras` scores with Keras' ImageNet InceptionV3 (numbers comparable between ganzoo "
        "runs only), and --metrics fcd,coverage needs no Inception at all (MNIST-like data)."
    )


def _offline() -> bool:
    from ganzoo.network import network_reachable  # noqa: PLC0415

    return not network_reachable()


def _from_pth(pth: Path, cache: Optional[Union[str, Path]], check: bool) -> Path:
    """The converted file of ``pth`` in the cache (converted now unless already there for this very file)."""
    source_sha = _check_pth(pth) if check else sha256_file(pth)
    target = weights_cache_dir(cache) / (KERAS_NAME if is_standard(source_sha)
                                         else f"fid_inception-{source_sha[:12]}.weights.h5")
    if target.is_file() and read_provenance(target)["source_sha256"] == source_sha:
        return target
    return _write_converted(pth, target, source_sha)  # hashed once above, not again


def resolve_fid_weights(weights: Optional[Union[str, Path]] = None, cache: Optional[Union[str, Path]] = None,
                        download: Optional[bool] = None, check: bool = True) -> Path:
    """The converted Keras weights file to load (see the module docstring for the search order).

    ``weights``: a ``.pth`` or ``.weights.h5`` path, or None (env, cache, torch hub, download).
    ``download``: None = when the network is reachable and ``GANZOO_OFFLINE`` is unset.
    ``check``: require the standard file's SHA-256 (False: other ports, random-weight tests).
    """
    given = weights if weights is not None else (os.environ.get(FID_WEIGHTS_ENV, "").strip() or None)
    if given is not None:
        path = Path(given).expanduser()
        origin = "--fid-weights" if weights is not None else f"env {FID_WEIGHTS_ENV}"
        if not path.is_file():
            raise FIDWeightsError(f"{origin}: '{given}' is not a file (expected {PTH_NAME} or its converted "
                                  f"{KERAS_NAME})")
        if str(path).endswith(".weights.h5"):
            return path
        if path.suffix in (".pth", ".pt"):
            return _from_pth(path, cache, check)
        raise FIDWeightsError(f"{origin}: '{given}' is neither a .pth state dict nor a .weights.h5 file")
    searched = standard_locations(cache)
    converted, *pths = searched
    if converted.is_file():
        return converted
    for pth in pths:
        if pth.is_file():
            return _from_pth(pth, cache, check)
    if download is None:
        download = not _offline()
    if not download:
        raise FIDWeightsError(_missing_message(searched, "and they cannot be downloaded (no network, or env "
                                                         "GANZOO_OFFLINE=1)"))
    import keras  # noqa: PLC0415

    folder = weights_cache_dir(cache)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fetched = keras.utils.get_file(PTH_NAME, PTH_URL, cache_dir=str(folder), cache_subdir=".")
    except Exception as err:  # noqa: BLE001 - any download failure gets the same instructions
        raise FIDWeightsError(_missing_message(searched, f"and the download failed ({err})")) from None
    return _from_pth(Path(fetched), cache, check)
