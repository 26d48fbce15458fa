"""What every adversarial training scheme shares, latent or image-to-image: a generator side
and a discriminator side, each with its own optimizer, and the gradient step
(:meth:`AdversarialModel.descend`) that applies them correctly on either backend
(:mod:`ganzoo.seam`), under ``tf.distribute`` and under mixed precision
(:mod:`ganzoo.models.distributed`).
"""

from __future__ import annotations

from typing import Optional

import keras

from ganzoo.model_registry import check_constructor_arguments
from ganzoo import seam
from ganzoo.models import distributed

__all__ = ["AdversarialModel", "serialize", "deserialize"]


def serialize(obj):
    """A Keras object (network, optimizer, metric) as its serialized dict."""
    return keras.saving.serialize_keras_object(obj)


def deserialize(obj):
    """The inverse of :func:`serialize`; objects (not dicts) pass through."""
    return keras.saving.deserialize_keras_object(obj) if isinstance(obj, dict) else obj


class AdversarialModel(seam.StatefulSteps, keras.Model):
    """What every adversarial training scheme shares, latent or image-to-image: one optimizer
    for the generator side and one for the discriminator side (``compile(g_optimizer=...,
    d_optimizer=...)``), their serialisation (so ``keras.saving.load_model`` gives a model
    that trains on with its optimizer state), and replica/loss-scale-aware gradient steps.

    Subclasses whose "generator side" spans several networks (CycleGAN's two generators)
    override :meth:`generator_variables` / :meth:`discriminator_variables`.

    What data and training need from a class, it declares here (data, training, the CLI and
    the registry ask the class, never compare ``model.cls`` with class names):

    - ``data_kind``: what ``ganzoo.load_dataset`` yields for it, one of
      :data:`ganzoo.model_registry.DATA_KINDS`: ``"latent"`` (single images, with labels for
      a conditional model; the model draws its own latents: every :class:`GANBase`),
      ``"paired_lr_hr"`` (low/high-resolution pairs: SRGAN), ``"unpaired_ab"`` (pictures of
      two domains: CycleGAN). Any kind but ``"latent"`` makes the class image-to-image.
    - :meth:`batches_per_step`: how many minibatches of ``train.batch_size`` one training step
      consumes (the data pipeline batches that many examples per step, the distribution
      check divides that many by the replicas).

    A class joins the zoo with :func:`ganzoo.registry.register_model_class`. The ranges in
    its constructors' annotations (``Annotated[float, Interval(0, 1)]``) hold for every
    construction: :func:`ganzoo.model_registry.check_constructor_arguments` checks them.
    """

    #: One of :data:`ganzoo.model_registry.DATA_KINDS` (declared by each concrete class's base).
    data_kind: Optional[str] = None

    def __new__(cls, *args, **kwargs):
        # Every constructor argument annotated with a ganzoo.constraints range is checked here,
        # once for every class and before any constructor runs (a config's values, a direct
        # call's, keras.saving's from_config): the range is written only in the signature.
        check_constructor_arguments(cls, args, kwargs)
        return super().__new__(cls, *args, **kwargs)

    @classmethod
    def batches_per_step(cls, config) -> int:
        """Minibatches of ``config.train.batch_size`` one ``train_step`` consumes (1; a class that
        splits its batch over several updates, as WassersteinGAN's ``n_critic``, says so)."""
        return 1

    @classmethod
    def examples_per_step(cls, config) -> int:
        """Examples one ``train_step`` consumes: ``train.batch_size`` x :meth:`batches_per_step`."""
        return config.train.batch_size * cls.batches_per_step(config)

    def generator_variables(self) -> list:
        """The trainable variables the generator optimizer updates."""
        return self.generator.trainable_variables

    def discriminator_variables(self) -> list:
        """The trainable variables the discriminator optimizer updates."""
        return self.discriminator.trainable_variables

    # ------------------------------------------------------------------ compile
    def compile(self, g_optimizer=None, d_optimizer=None, jit_compile="auto", steps_per_execution=1, **kwargs):
        """Set both optimizers (instances, names or serialized dicts; Adam(2e-4, 0.5) by
        default). ``jit_compile="auto"`` picks XLA or graph mode by platform."""
        self._jit_setting = jit_compile
        # No Keras optimizer of its own (its default is an RMSprop that JAX's fit would build and every
        # file would then carry): the two optimizers below are the model's.
        kwargs.setdefault("optimizer", None)
        super().compile(jit_compile=distributed.resolve_jit_compile(jit_compile), steps_per_execution=steps_per_execution,
                        **kwargs)
        self.g_optimizer = self._loss_scaled(self._make_optimizer(g_optimizer))
        self.d_optimizer = self._loss_scaled(self._make_optimizer(d_optimizer))
        # Build eagerly: optimizer variables must exist before tracing (and before
        # keras.saving.load_model restores them).
        self.g_optimizer.build(self.generator_variables())
        self.d_optimizer.build(self.discriminator_variables())

    @staticmethod
    def _make_optimizer(spec):
        if spec is None:
            return keras.optimizers.Adam(2e-4, beta_1=0.5)
        if isinstance(spec, dict):
            return keras.optimizers.deserialize(spec)
        return keras.optimizers.get(spec)

    def _loss_scaled(self, optimizer):
        return distributed.loss_scaled(optimizer, self.dtype_policy)

    #: The mixed-precision loss scale of an optimizer (:func:`ganzoo.models.distributed.loss_scale`).
    loss_scale = staticmethod(distributed.loss_scale)

    def get_compile_config(self):
        if getattr(self, "g_optimizer", None) is None:
            return None
        return {
            "g_optimizer": serialize(self.g_optimizer),
            "d_optimizer": serialize(self.d_optimizer),
            "jit_compile": getattr(self, "_jit_setting", "auto"),
            "steps_per_execution": self.steps_per_execution,
        }

    def compile_from_config(self, config):
        if config:
            self.compile(**config)

    # ------------------------------------------------------------------ gradient steps
    #: Per-replica loss -> its share of the global-batch mean (:func:`ganzoo.models.distributed.scale_for_replicas`).
    scale_for_replicas = staticmethod(distributed.scale_for_replicas)

    def descend(self, optimizer, loss_fn, variables):
        """One gradient step of ``optimizer`` on ``variables`` for the loss closure ``loss_fn``;
        returns ``(loss, aux)``.

        ``loss_fn()`` computes the loss (or ``(loss, aux)``, ``aux`` being whatever the rest of
        the step needs from the forward pass: fakes, logits) from the batch and the model. The
        loss is scaled for the replicas and the mixed-precision loss scale before it is
        differentiated (:func:`ganzoo.seam.gradients`, on TensorFlow or JAX); the
        optimizer (Keras's TF optimizer all-reduces per-replica gradients) applies the
        gradients. The returned loss is unscaled.
        """
        loss, aux, grads = seam.gradients(
            loss_fn, variables, scale=lambda value: optimizer.scale_loss(self.scale_for_replicas(value)))
        if distributed.replicas_in_sync() > 1 and isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            grads = distributed.agree_on_finiteness(grads)
        optimizer.apply(grads, variables)
        return loss, aux
