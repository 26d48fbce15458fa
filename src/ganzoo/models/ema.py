"""The EMA generator's schedule and state (Karras et al. 2018; Yazici et al. 2019), with
StyleGAN2-ADA's ramp-up: :func:`ema_beta` gives the decay of each update, :class:`EMAState`
counts the updates (a model weight, so saving, checkpoints and resumed runs continue the
ramp-up exactly). :class:`ganzoo.models.base.GANBase` owns the EMA generator and applies the
updates (``update_ema``); sampling asks it whether the average is warm.
"""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np
from keras import ops

from ganzoo.seam import COUNTER_DTYPE

__all__ = ["EMA_RAMPUP", "EMA_WARM_SHARE", "EMAState", "batch_norm_layers", "ema_beta"]


#: Default of ``ema_rampup`` (StyleGAN2-ADA's ``--cfg auto`` and ``cifar``): the EMA's
#: half-life is at most 5% of the training done so far.
EMA_RAMPUP = 0.05

#: The EMA generator is *warm* (``generate`` samples from it) once the random initial weights
#: make up less than this share of its average: the product of the betas of the updates done.
#: With the ramp-up the first update has beta 0, so one update suffices; without it the share
#: is ``ema_decay ** updates`` (decay 0.999: warm after 4,603 updates; at 1,000 updates 37%
#: of the average is still the random initialisation, and its images are noise).
EMA_WARM_SHARE = 0.01


def ema_beta(updates, decay: float, rampup: Optional[float] = EMA_RAMPUP):
    """Weight of the old average in EMA update number ``updates`` (0-based): float32 tensor.

    StyleGAN2-ADA's schedule (``training_loop.py``: ``ema_nimg = min(ema_nimg, cur_nimg *
    ema_rampup)``, ``beta = 0.5 ** (batch / ema_nimg)``) counted in steps: the half-life
    ``h = ln 0.5 / ln decay`` steps is capped at ``rampup * updates``, so
    ``beta = 0.5 ** (1 / min(h, rampup * updates))``. The first update copies G (beta 0)
    and the random initial weights leave the average at once; from ``h / rampup`` updates
    on, ``beta = decay``. ``rampup`` None: ``decay`` throughout (no ramp-up).
    """
    decay_t = ops.convert_to_tensor(decay, "float32")
    if rampup is None:
        return decay_t
    ramped = rampup * ops.cast(updates, "float32")
    return ops.minimum(decay_t, ops.power(0.5, 1.0 / ops.maximum(ramped, 1e-8)))


@keras.saving.register_keras_serializable(package="ganzoo")
class EMAState(keras.layers.Layer):
    """The EMA generator's schedule and its state: ``updates``, the number of EMA updates
    done (int64 weight, so ``model.save`` / ``keras.saving.load_model``, checkpoints and
    resumed runs continue the ramp-up exactly)."""

    def __init__(self, decay: float, rampup: Optional[float] = EMA_RAMPUP, **kwargs):
        super().__init__(**kwargs)
        self.decay = float(decay)
        self.rampup = None if rampup is None else float(rampup)
        self.updates = self.add_weight(shape=(), dtype=COUNTER_DTYPE, initializer="zeros", trainable=False,
                                       name="updates", aggregation="only_first_replica")
        #: False after loading a file saved before ganzoo counted EMA updates (``updates`` then
        #: holds a stand-in, not the count; see :meth:`GANBase.ema_updates`).
        self.counted = True
        self.built = True

    def beta(self):
        """The decay of the next update (float32 tensor)."""
        return ema_beta(self.updates, self.decay, self.rampup)

    @property
    def rampup_steps(self) -> int:
        """Updates after which the ramp-up is over (``beta = decay``); 0 without ramp-up."""
        if self.rampup is None:
            return 0
        return int(np.ceil(np.log(0.5) / np.log(self.decay) / self.rampup))

    def initial_share(self, updates: int) -> float:
        """Share of the random initial weights left in the average after ``updates`` updates:
        the product of their betas (0 after the first update with the ramp-up, whose first
        beta is 0; ``decay ** updates`` without it; 1 before any update)."""
        if updates <= 0:
            return 1.0
        return 0.0 if self.rampup is not None else float(self.decay) ** int(updates)

    @property
    def warm_updates(self) -> int:
        """Updates after which the average is warm: :meth:`initial_share` below
        :data:`EMA_WARM_SHARE` (1 with the ramp-up; decay 0.999 without: 4,603)."""
        if self.rampup is not None:
            return 1
        return int(np.floor(np.log(EMA_WARM_SHARE) / np.log(self.decay))) + 1

    def load_own_variables(self, store):
        if not len(store.keys()):
            # A file saved before ganzoo counted EMA updates: its average ran without ramp-up
            # for an unknown number of steps; continue it at the full decay.
            self.updates.assign(self.rampup_steps)
            self.counted = False
            return
        super().load_own_variables(store)

    def get_config(self):
        return {**super().get_config(), "decay": self.decay, "rampup": self.rampup}


def batch_norm_layers(net) -> list:
    """Every ``BatchNormalization`` layer inside ``net`` (nested models included)."""
    return [layer for layer in net._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, keras.layers.BatchNormalization)]
