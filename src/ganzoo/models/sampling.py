"""Sampling inside a traced step: what a ``train_step`` / ``test_step`` draws and feeds.

:class:`TrainingSampling` is mixed into :class:`ganzoo.models.base.GANBase`. Every draw comes
from the model's ``seed_generator`` and is made for the global batch and sliced per replica
(:func:`ganzoo.models.distributed.replica_rows`), so a run under ``tf.distribute`` draws what
one device draws. The NumPy sampling API (``generate``, ``latents``) is on ``GANBase``.
"""

from __future__ import annotations

import keras
from keras import ops

from ganzoo import seam
from ganzoo.models import distributed

__all__ = ["TrainingSampling", "unpack"]


def unpack(data):
    """Split a batch into (images, labels-or-None); accepts ``x``, ``(x,)``, ``(x, y)``
    and ``{"image": ..., "label": ...}``."""
    if isinstance(data, dict):
        return data["image"], data.get("label")
    if isinstance(data, (tuple, list)):
        images = data[0]
        labels = data[1] if len(data) > 1 else None
        return images, labels
    return data, None


class TrainingSampling:
    """Draws and network inputs of a latent GAN's steps (needs ``latent_dim``, ``num_classes``,
    ``seed_generator``, ``generator``, ``ema_generator``, ``ema_state``, ``g_optimizer``)."""

    unpack = staticmethod(unpack)
    #: ``draw(n)`` for the global batch, this replica's rows of it (:func:`ganzoo.models.distributed.replica_rows`).
    replica_rows = staticmethod(distributed.replica_rows)

    def sample_latent(self, batch_size):
        """A batch of latents z ~ N(0, I) from the model's seed generator (this replica's rows under a strategy)."""
        return self.replica_rows(
            lambda n: keras.random.normal((n, self.latent_dim), seed=self.seed_generator), batch_size)

    def sample_labels(self, batch_size):
        """A batch of class labels drawn uniformly from the model's seed generator (this replica's rows)."""
        return self.replica_rows(lambda n: keras.random.randint(
            (n,), 0, self.num_classes, seed=self.seed_generator, dtype="int32"), batch_size)

    def sample_interpolation_weights(self, batch_size, rank: int = 4):
        """U[0, 1] of shape ``[batch, 1, ..., 1]`` (the gradient penalty's alpha)."""
        return self.replica_rows(
            lambda n: keras.random.uniform([n] + [1] * (rank - 1), seed=self.seed_generator), batch_size)

    def generator_inputs(self, z, labels=None):
        """What the generator takes: ``z``, or ``[z, labels]`` for a conditional model."""
        return [z, labels] if self.conditional else z

    def discriminator_inputs(self, images, labels=None):
        """What the discriminator takes: ``images``, or ``[images, labels]`` for a conditional model."""
        return [images, labels] if self.conditional else images

    def _check_labels(self, labels):
        if self.conditional and labels is None:
            raise ValueError(f"{type(self).__name__} is conditional: the dataset must yield (images, labels) "
                             "batches (ganzoo.load_dataset does this for conditional entries)")
        return None if labels is None else ops.cast(ops.reshape(labels, [-1]), "int32")

    def sample_with(self, make):
        """``make(net)`` with the generator ``sampling_generator()`` picks by default, inside a
        traced step too (``test_step``): a ``keras.ops.cond`` on the EMA's update count."""
        if self.ema_generator is None:
            return make(self.generator)
        if not seam.is_traced(self.ema_state.updates.value):
            return make(self.sampling_generator())
        if self.ema_state.counted:
            warm = self.ema_state.updates.value >= self.ema_state.warm_updates
        elif getattr(self, "g_optimizer", None) is not None:
            steps = ops.cast(self.g_optimizer.iterations.value, seam.COUNTER_DTYPE)
            warm = ops.logical_or(steps == 0, steps >= self.ema_state.warm_updates)
        else:
            return make(self.ema_generator)
        return ops.cond(warm, lambda: make(self.ema_generator), lambda: make(self.generator))
