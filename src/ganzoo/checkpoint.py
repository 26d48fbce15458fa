"""Atomic, verified training checkpoints that a run resumes from exactly.

A checkpoint is one file, ``checkpoints/ckpt-<step, 8 digits>.keras``: the full Keras model
(generator, discriminator, EMA generator, both optimizers with their slots, iteration
counts and loss scale, model variables such as a progressive-growing phase) plus a
``ganzoo_state.json`` member with what Keras does not save:

* ``step`` (train steps done) and ``epoch`` (epochs completed), ``entry`` and
  ``identity`` (a hash of the run's config without ``train.epochs``), so a checkpoint from
  another entry or config is refused;
* the state of every ``keras.random.SeedGenerator`` in the model (latents, labels, penalty
  weights, dropout), so the resumed run draws the numbers the uninterrupted one would have;
* the metric accumulators (the running epoch means of the losses).

Because the file is a valid ``.keras`` archive, ``keras.saving.load_model`` and
``ganzoo sample RUN`` read it directly.

Writes are atomic: the file is written under a hidden temporary name in the same folder,
flushed to disk (fsync), and renamed over the final name with ``os.replace``; the folder is
fsync'ed too. A crash or a full disk mid-write leaves at most a hidden temporary file
(removed on the next start), never a damaged ``ckpt-*.keras``; the previous checkpoints are
deleted (beyond the ``keep`` newest) only after the new one is complete.

Loading verifies before trusting: the zip's CRC-32 of every member, the state member, then
Keras's own loading. A checkpoint that fails is reported (file and reason) and the previous
one is used.
"""

from __future__ import annotations

import datetime
import errno
import json
import logging
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ganzoo.config import dict_digest, drop_legacy_values

__all__ = [
    "CheckpointError",
    "CheckpointWriteError",
    "CheckpointMismatchError",
    "Checkpoint",
    "CheckpointManager",
    "config_identity",
    "atomic_write_text",
]

logger = logging.getLogger(__name__)

STATE_MEMBER = "ganzoo_state.json"
FORMAT_VERSION = 1
_NAME = re.compile(r"^ckpt-(\d{8,})\.keras$")


class CheckpointError(ValueError):
    """There is no usable checkpoint (none yet, or every one is unreadable)."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint belongs to another entry or config than the run being resumed."""


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed (disk full, no permission...); earlier ones are intact."""


@dataclass
class Checkpoint:
    """One verified checkpoint file and its state."""

    path: Path
    step: int
    epoch: int
    state: dict = field(default_factory=dict)


def config_identity(config) -> str:
    """Hash of everything in a config that a resumed run must share with its checkpoints:
    the whole config except ``train.epochs`` (resuming may extend a run) and the texts.

    Not :meth:`ganzoo.config.Config.hash`, on purpose: that hash keeps ``train.epochs`` (more
    epochs learn something else) and leaves out the name, the speed-only keys and keys at their
    legacy values, so that published weights keep their hash; this identity is written into
    every checkpoint, and defining it through that hash would make the checkpoints of existing
    runs stop matching. Both digest the same way (:func:`ganzoo.config.dict_digest`).
    """
    d = config.hash_dict()  # the model section in its legacy shape, as when the runs started
    d.get("train", {}).pop("epochs", None)
    for key in ("description", "paper", "source"):
        d.pop(key, None)
    return dict_digest(drop_legacy_values(d, defaults_only=True))  # keys added at a default that changes nothing


def seed_generators(model) -> list:
    """Every ``keras.random.SeedGenerator`` owned by the model or its layers, in a fixed order."""
    found, seen = [], set()
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for generator in getattr(layer, "_seed_generators", []):
            if id(generator) not in seen:
                seen.add(id(generator))
                found.append(generator)
    return found


def metric_variables(model) -> list:
    """The state variables of every metric the model tracks (loss means, quality metrics), in a fixed order."""
    return [v for m in model.metrics for v in m.variables]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_copy(src: Path, dst: Path) -> None:
    """Copy ``src`` over ``dst`` atomically (temporary file in ``dst``'s folder, then rename)."""
    import shutil  # noqa: PLC0415

    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp" + dst.suffix, dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        _fsync_file(Path(tmp))
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(dst.parent)


def _write_model_file(model, path: Path, state: dict) -> None:
    """The model as a ``.keras`` archive at ``path``, with the state member appended."""
    model.save(str(path))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(STATE_MEMBER, json.dumps(state, indent=1))


def read_state(path: Path) -> dict:
    """Verify a checkpoint file's archive (CRC of every member) and return its state;
    raise ``CheckpointError`` saying what is wrong."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise CheckpointError(f"member {bad} fails its CRC check (the file is corrupt)")
            names = set(archive.namelist())
            missing = {STATE_MEMBER, "config.json", "model.weights.h5"} - names
            if missing:
                raise CheckpointError(f"incomplete archive: {', '.join(sorted(missing))} missing")
            state = json.loads(archive.read(STATE_MEMBER).decode("utf-8"))
    except CheckpointError:
        raise
    except zipfile.BadZipFile as err:
        raise CheckpointError(f"not a valid .keras archive ({err}; truncated or overwritten?)") from None
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise CheckpointError(f"unreadable ({type(err).__name__}: {err})") from None
    for key in ("format", "step", "epoch", "entry", "identity"):
        if key not in state:
            raise CheckpointError(f"its state has no '{key}'")
    if state["format"] > FORMAT_VERSION:
        raise CheckpointError(f"written by a newer ganzoo (state format {state['format']})")
    return state


class CheckpointManager:
    """Checkpoints of one run folder's ``checkpoints/`` (see the module docstring).

    Args:
        directory: the ``checkpoints`` folder (created on the first save).
        keep: how many of the newest checkpoints to keep (older ones are deleted after a
            successful save); at least 2 so that a corrupt newest one has a fallback.
        chief: False on non-chief workers of a multi-worker run: they write (saving involves
            collective ops every worker must join) into a temporary file that is deleted.
    """

    def __init__(self, directory, keep: int = 3, chief: bool = True):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = Path(directory)
        self.keep = int(keep)
        self.chief = chief
        self.reports: list[str] = []

    # ------------------------------------------------------------------ listing
    def paths(self) -> list[Path]:
        """Checkpoint files, oldest first (by step)."""
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir() if (m := _NAME.match(p.name))]
        return [p for _, p in sorted(found)]

    def stale_temporaries(self) -> list[Path]:
        """Temporary files (``.ckpt-*.tmp*``) left in the folder by a write that never finished."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.startswith(".ckpt-") and ".tmp" in p.name)

    def remove_stale_temporaries(self) -> int:
        """Delete temporary files left by a write that crashed; return how many."""
        stale = self.stale_temporaries()
        for p in stale:
            p.unlink(missing_ok=True)
        if stale:
            logger.warning("removed %d unfinished checkpoint write(s) in %s (a crash during a save); "
                           "finished checkpoints are unaffected", len(stale), self.directory)
        return len(stale)

    @staticmethod
    def step_of(path: Path) -> int:
        """The training step encoded in a checkpoint's file name (``ckpt-00000500.keras`` -> 500)."""
        return int(_NAME.match(path.name).group(1))

    def path_for(self, step: int) -> Path:
        """The file name the checkpoint of ``step`` gets in this folder."""
        return self.directory / f"ckpt-{step:08d}.keras"

    # ------------------------------------------------------------------ saving
    def save(self, model, step: int, epoch: int, config, extra: Optional[dict] = None) -> Optional[Path]:
        """Write the checkpoint of ``step`` atomically; return its path (None off the chief).

        Raises:
            CheckpointWriteError: the write failed (disk full, permissions...). Nothing of it
                is left behind and every earlier checkpoint is intact.
        """
        state = {
            "format": FORMAT_VERSION,
            "step": int(step),
            "epoch": int(epoch),
            "entry": config.name,
            "identity": config_identity(config),
            "model_class": type(model).__name__,
            "seed_generators": [_to_list(g.state) for g in seed_generators(model)],
            "metrics": [_to_list(v) for v in metric_variables(model)],
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "pid": os.getpid(),
        }
        state.update(extra or {})
        if not self.chief:
            tmp_dir = Path(tempfile.mkdtemp(prefix="ganzoo-worker-ckpt-"))
            try:
                _write_model_file(model, tmp_dir / "ckpt.keras", state)
            finally:
                import shutil  # noqa: PLC0415

                shutil.rmtree(tmp_dir, ignore_errors=True)
            return None

        final = self.path_for(step)
        tmp = self.directory / f".ckpt-{step:08d}.{os.getpid()}.tmp.keras"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_model_file(model, tmp, state)
            _fsync_file(tmp)
            os.replace(tmp, final)
            _fsync_dir(self.directory)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            previous = [p for p in self.paths() if p != final]
            kept = f"the previous checkpoint {previous[-1]} is intact" if previous else "no earlier checkpoint exists"
            reason = "the disk is full" if err.errno in (errno.ENOSPC, errno.EDQUOT) else (err.strerror or str(err))
            raise CheckpointWriteError(err.errno, f"could not write the checkpoint of step {step} to "
                                       f"{self.directory}: {reason}; {kept}") from err
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._prune()
        return final

    def _prune(self) -> None:
        paths = self.paths()
        for old in paths[:-self.keep] if len(paths) > self.keep else []:
            try:
                old.unlink()
            except OSError as err:  # pragma: no cover - e.g. a read-only snapshot
                logger.warning("could not delete the old checkpoint %s: %s", old, err)

    # ------------------------------------------------------------------ loading
    def latest(self, config=None) -> Checkpoint:
        """The newest checkpoint that verifies; earlier ones are tried when a newer one is
        corrupt (each failure is logged and kept in ``self.reports``).

        Raises:
            CheckpointError: no checkpoint, or none readable.
            CheckpointMismatchError: the newest readable one is from another entry/config.
        """
        paths = self.paths()
        if not paths:
            raise CheckpointError(f"no checkpoint in {self.directory}: nothing to resume. Start the run "
                                  "without --resume (a checkpoint is written every --checkpoint-every steps "
                                  "and at the end of every epoch)")
        for path in reversed(paths):
            try:
                state = read_state(path)
            except CheckpointError as err:
                self._report(path, str(err))
                continue
            if config is not None:
                _check_identity(path, state, config)
            return Checkpoint(path=path, step=int(state["step"]), epoch=int(state["epoch"]), state=state)
        raise CheckpointError(f"every checkpoint in {self.directory} is unreadable: " + "; ".join(self.reports))

    def load_latest(self, config=None, strategy=None):
        """``(model, Checkpoint)``: the newest good checkpoint loaded into a compiled model
        (under ``strategy.scope()`` when given) with its seed-generator state restored.

        A checkpoint that fails verification or that Keras cannot load is reported, renamed
        to ``*.corrupt`` (kept for inspection, never tried again) and the previous one is used.
        """
        import contextlib  # noqa: PLC0415

        import keras  # noqa: PLC0415

        import ganzoo.models  # noqa: F401,PLC0415  (registers the classes)

        if not self.paths():
            self.latest(config)  # raises the "nothing to resume" error
        for path in reversed(self.paths()):
            try:
                state = read_state(path)
            except CheckpointError as err:
                self._report(path, str(err))
                self._quarantine(path)
                continue
            if config is not None:
                _check_identity(path, state, config)
            ckpt = Checkpoint(path=path, step=int(state["step"]), epoch=int(state["epoch"]), state=state)
            try:
                with strategy.scope() if strategy is not None else contextlib.nullcontext():
                    model = keras.saving.load_model(str(path))
                    restore_state(model, state)
            except Exception as err:  # noqa: BLE001 - any failure to load means "unusable"
                self._report(path, f"Keras could not load it ({type(err).__name__}: {_first_line(err)})")
                self._quarantine(path)
                continue
            return model, ckpt
        raise CheckpointError(f"no usable checkpoint in {self.directory}: " + "; ".join(self.reports))

    def _report(self, path: Path, reason: str) -> None:
        message = f"checkpoint {path} is unusable: {reason}"
        self.reports.append(message)
        logger.warning("%s; falling back to the previous checkpoint", message)

    def _quarantine(self, path: Path) -> None:
        """Rename an unloadable checkpoint to ``*.corrupt`` (kept for inspection, out of the way);
        only the chief changes the run folder."""
        if not self.chief:
            return
        try:
            os.replace(path, path.with_name(path.name + ".corrupt"))
        except OSError:  # pragma: no cover
            pass


def _check_identity(path: Path, state: dict, config) -> None:
    if state["entry"] != config.name or state["identity"] != config_identity(config):
        raise CheckpointMismatchError(
            f"checkpoint {path} was written by a run of '{state['entry']}' with a different config "
            f"(identity {state['identity']}), but this run is '{config.name}' (identity "
            f"{config_identity(config)}): it belongs to another run. Resume the run folder it came from, "
            "or move it out of this run's checkpoints/")


def restore_state(model, state: dict) -> None:
    """Put the seed-generator states saved in a checkpoint back into ``model``."""
    generators = seed_generators(model)
    saved = state.get("seed_generators", [])
    if len(saved) != len(generators):
        raise CheckpointError(f"the checkpoint holds {len(saved)} random-number generator states but the model "
                              f"has {len(generators)}")
    for generator, value in zip(generators, saved):
        generator.state.assign(value)


def restore_metrics(model, state: dict) -> None:
    """Put the saved metric accumulators back (call after Keras resets them for the epoch)."""
    variables = metric_variables(model)
    saved = state.get("metrics", [])
    if len(saved) == len(variables):
        for variable, value in zip(variables, saved):
            variable.assign(value)


def _to_list(variable):
    import numpy as np  # noqa: PLC0415

    value = np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)
    return value.tolist()


def _first_line(err) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else ""
