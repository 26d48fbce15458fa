"""Divergence guard: stop at the first non-finite loss, warn about a collapsed discriminator.

A GAN that produces NaN keeps "training" on NaN weights for hours, and every checkpoint
written after that point is worthless. :class:`DivergenceGuard` checks every logged value
after every step (``fit``'s per-batch logs: ``d_loss``, ``g_loss``, ``gp``, ...) and raises
:class:`TrainingDiverged` naming the step and the loss at the first NaN or Inf. Put it
*before* any checkpointing callback: Keras calls callbacks in order, so the exception stops
the run before a diverged model is saved, and the last good checkpoint stays the newest.
``ganzoo train`` exits with status 3.

Optionally it also warns (once) when the discriminator's loss stays near zero for many
steps: D separates real from fake perfectly and G's gradients vanish (mode collapse or a
too-strong D). The check uses the running epoch mean that ``fit`` logs, so it reacts a
little late; it is a warning, not a stop, and is skipped for the Wasserstein loss (whose
critic loss is not bounded below by 0).
"""

from __future__ import annotations

import logging
import math
from typing import Callable, Optional

import keras
import numpy as np

__all__ = ["TrainingDiverged", "DivergenceGuard", "StepCallback"]

logger = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """A loss became NaN or Inf; ``step``, ``name``, ``value`` and the last good checkpoint."""

    def __init__(self, step: int, name: str, value: float, logs: dict, checkpoint=None):
        self.step, self.name, self.value, self.logs, self.checkpoint = step, name, value, logs, checkpoint
        others = ", ".join(f"{k}={v:.4g}" for k, v in logs.items() if k != name)
        kept = (f"the last good checkpoint is {checkpoint} (it is kept; nothing after step {step - 1} was saved)"
                if checkpoint else "no checkpoint was written before it")
        super().__init__(
            f"training diverged at step {step}: {name} is {value}" + (f" ({others})" if others else "")
            + f". Training stopped; {kept}. Lower train.learning_rate (or d_learning_rate), add a penalty "
              "(model.r1_gamma, model.gradient_penalty) or check the data for NaN values, then train again")


class StepCallback(keras.callbacks.Callback):
    """Counts optimizer steps across epochs and ``fit`` calls (with ``steps_per_execution``,
    Keras reports every k-th batch); ``self.step`` is the number of steps done.

    On JAX, Keras keeps the training state outside the variables during an epoch; reading
    ``self.model`` syncs it back (``model.jax_state_sync()``), which a callback must do before
    it reads or saves weights mid-epoch, and should not do on every step for anything else
    (``self._model`` is the model without the sync)."""

    def __init__(self, start_step: int = 0):
        super().__init__()
        self.step = int(start_step)
        self._last_batch = -1

    def on_epoch_begin(self, epoch, logs=None):
        self._last_batch = -1

    def _advance(self, batch: int) -> int:
        self.step += batch - self._last_batch
        self._last_batch = batch
        return self.step


def _non_finite(logs: dict):
    for key, value in (logs or {}).items():
        try:
            number = float(np.asarray(value))
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number):
            return key, number
    return None


def _floats(logs: dict) -> dict:
    out = {}
    for key, value in (logs or {}).items():
        try:
            out[key] = float(np.asarray(value))
        except (TypeError, ValueError):
            pass
    return out


class DivergenceGuard(StepCallback):
    """Raise :class:`TrainingDiverged` at the first NaN/Inf logged value.

    Args:
        start_step: steps already done (a resumed run) so messages name the global step.
        last_checkpoint: a callable returning the newest checkpoint's path (or None), for the message.
        collapse_threshold: warn when the logged ``d_loss`` stays below this ...
        collapse_patience: ... for this many consecutive steps (None disables the warning).
    """

    def __init__(self, start_step: int = 0, last_checkpoint: Optional[Callable[[], Optional[str]]] = None,
                 collapse_threshold: float = 1e-3, collapse_patience: Optional[int] = 500):
        super().__init__(start_step)
        self.last_checkpoint = last_checkpoint or (lambda: None)
        self.collapse_threshold = float(collapse_threshold)
        self.collapse_patience = collapse_patience
        self._low_since: Optional[int] = None
        self.collapse_warned_at: Optional[int] = None

    def on_train_batch_end(self, batch, logs=None):
        step = self._advance(batch)
        self._check(step, logs)
        self._check_loss_scales(step, logs)
        self._watch_collapse(step, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._check(self.step, logs)

    def _check(self, step: int, logs) -> None:
        bad = _non_finite(logs)
        if bad is not None:
            name, value = bad
            self.model.stop_training = True
            raise TrainingDiverged(step, name, value, _floats(logs), self.last_checkpoint())

    #: Below this, a dynamic loss scale has been halved on (nearly) every step since it started
    #: at 2**15: the gradients are non-finite even unscaled, which is divergence.
    min_loss_scale = 1.0

    def _check_loss_scales(self, step: int, logs) -> None:
        """Mixed float16: a LossScaleOptimizer skips steps with non-finite gradients instead of
        applying them, so a diverged model shows up as a collapsing loss scale, not a NaN loss."""
        for name in ("g_optimizer", "d_optimizer"):
            if not isinstance(getattr(self._model, name, None), keras.optimizers.LossScaleOptimizer):
                continue
            # self.model syncs the JAX state into the variables first (the scale is read only here).
            optimizer = getattr(self.model, name)
            if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                scale = float(keras.ops.convert_to_numpy(optimizer.dynamic_scale))
                if scale < self.min_loss_scale:
                    self.model.stop_training = True
                    raise TrainingDiverged(step, f"the loss scale of {name}", scale, _floats(logs),
                                           self.last_checkpoint())

    def _watch_collapse(self, step: int, logs) -> None:
        if self.collapse_patience is None or self.collapse_warned_at is not None:
            return
        # self._model, not self.model: on JAX the property syncs the whole training state into the
        # variables, which per step would cost every step a pass over the model's variables.
        # These are Python attributes, the same before and after a sync.
        if getattr(self._model, "loss_name", None) == "wasserstein" or "d_loss" not in (logs or {}):
            return
        d_loss = float(np.asarray(logs["d_loss"]))
        if d_loss >= self.collapse_threshold:
            self._low_since = None
            return
        # e.g. SRGAN's pixel pre-training; it reads a variable (D's step count), so self.model
        # (synced), and only on a low d_loss.
        if not getattr(self.model, "discriminator_training", True):
            return
        if self._low_since is None:
            self._low_since = step
        if step - self._low_since + 1 >= self.collapse_patience:
            self.collapse_warned_at = step
            logger.warning(
                "possible discriminator collapse: d_loss has stayed below %g for %d steps (steps %d-%d, now "
                "%.3g). D rejects every fake with certainty and G learns little; consider a lower "
                "d_learning_rate, label smoothing, R1 or a gradient penalty, or inspect the samples",
                self.collapse_threshold, step - self._low_since + 1, self._low_since, step, d_loss)
