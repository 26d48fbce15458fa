"""The latent GAN skeleton every zoo GAN subclasses: :class:`GANBase`.

It holds the generator and discriminator (two optimizers, from
:class:`~ganzoo.models.adversarial.AdversarialModel`), the EMA generator and its updates, and
the NumPy sampling API (``generate``, ``latents``, ``sampling_choice``). Each training scheme
is its own subclass with its own ``train_step`` (``GAN``, ``ConditionalGAN``,
``WassersteinGAN``, ...), so a reader finds a GAN's algorithm in one ``train_step``. The
rest lives in modules of its own, mixed in here:

* :mod:`ganzoo.models.adversarial`: the two optimizers, compile, gradient steps;
* :mod:`ganzoo.models.distributed`: ``tf.distribute`` and mixed-precision plumbing of a step;
* :mod:`ganzoo.models.sampling`: draws and network inputs inside a traced step;
* :mod:`ganzoo.models.discriminator_view`: augmentation and feature matching;
* :mod:`ganzoo.models.validation`: quality metrics, ``compile(metrics=...)``, ``test_step``;
* :mod:`ganzoo.models.ema`: the EMA schedule and its state.

Conventions (see GUIDE): discriminators return logits, real = 1, fake = 0, images are float
in [-1, 1]; every random draw goes through the model's ``keras.random.SeedGenerator``.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple, Optional

import keras
import numpy as np

from ganzoo import losses
from ganzoo.augment import pipeline_from_config
from ganzoo.constraints import AtLeast, Interval, NonNegative, Positive
from ganzoo.models import distributed
from ganzoo.models.adversarial import AdversarialModel, deserialize, serialize
from ganzoo.models.discriminator_view import DiscriminatorView, feature_model
from ganzoo.models.distributed import logs_for_strategy, resolve_jit_compile
from ganzoo.models.ema import EMA_RAMPUP, EMA_WARM_SHARE, EMAState, batch_norm_layers, ema_beta
from ganzoo.models.sampling import TrainingSampling
from ganzoo.models.validation import QualityValidation

#: ``model.num_classes``'s constraint text (ConditionalGAN declares the setting again).
NUM_CLASSES_MESSAGE = "a conditional model needs at least 2 classes, got {value}"

# Older names, kept for code that imported them from here.
_serialize, _deserialize = serialize, deserialize
_replicas_in_sync = distributed.replicas_in_sync
_agree_on_finiteness = distributed.agree_on_finiteness


class SamplingChoice(NamedTuple):
    """The generator sampling uses (``ema``: the EMA generator, else G) and a one-line
    ``description`` of it and why, for the user and for metadata."""

    ema: bool
    description: str

    def __str__(self) -> str:
        return self.description


class GANBase(QualityValidation, DiscriminatorView, TrainingSampling, AdversarialModel):
    """Shared plumbing of the zoo's GAN models (not trainable by itself: no ``train_step``).

    Args:
        generator: functional ``keras.Model`` mapping ``z`` (and ``label``) to images in [-1, 1].
        discriminator: functional ``keras.Model`` mapping images (and ``label``) to logits.
        latent_dim: size of ``z``; read from the generator when omitted.
        num_classes: number of classes of a conditional model, or None.
        loss: name of the adversarial loss in :mod:`ganzoo.losses`.
        ema_decay: keep an exponential moving average of G's weights (used by ``generate``):
            the decay per generator step once the ramp-up is over (half-life
            ``ln 0.5 / ln ema_decay`` steps). None: no EMA generator.
        ema_rampup: StyleGAN2-ADA's EMA ramp-up: the EMA's half-life is at most ``ema_rampup``
            times the generator steps taken so far (see :func:`ema_beta`); None keeps
            ``ema_decay`` from the first step (the average then still holds
            ``ema_decay ** steps`` of the random initial weights).
        seed: seed of the model's random stream (latents, labels, penalties).
        zoo_config: the ganzoo config dict the model was built from (kept for provenance).
        augment: the config's ``augment`` section as a dict (DiffAugment policy, ADA); every
            image the discriminator sees then passes through :class:`ganzoo.augment.AugmentPipeline`
            (``augment_pipe``), whose ``p`` is a model weight. None or empty: no augmentation.
        feature_matching: weight of the feature-matching term added to G's loss (Salimans et
            al. 2016): squared distance of the batch means of D's penultimate features on real
            and generated images; 0 = off.
    """

    data_kind = "latent"
    #: Constructor arguments that are networks: ganzoo.builders builds each with the builder of its
    #: role (the name's prefix: generator / discriminator) from the config's network sections.
    network_keys = ("generator", "discriminator")
    #: Constructor arguments ganzoo.builders reads from other config sections than ``model``:
    #: argument -> dotted path (a section gives its dict). Every other keyword argument with a
    #: default is a ``model:`` setting (:func:`ganzoo.model_registry.model_settings`).
    config_arguments = {"seed": "train.seed", "augment": "augment"}

    def __init__(self, generator, discriminator, latent_dim: Optional[int] = None,
                 num_classes: Annotated[Optional[int], AtLeast(2, message=NUM_CLASSES_MESSAGE)] = None,
                 loss: str = "non_saturating",
                 ema_decay: Annotated[Optional[float], Interval(0, 1, open_low=True, open_high=True)] = None,
                 seed: Optional[int] = None, zoo_config: Optional[dict] = None, augment: Optional[dict] = None,
                 feature_matching: Annotated[float, NonNegative()] = 0.0,
                 ema_rampup: Annotated[Optional[float], Positive(
                     message="must be > 0 (e.g. 0.05), or null for no ramp-up; got {value}")] = EMA_RAMPUP,
                 **kwargs):
        super().__init__(**kwargs)
        self.generator = deserialize(generator)
        self.discriminator = deserialize(discriminator)
        losses.get_loss(loss)  # fail early on an unknown name
        self.loss_name = loss
        self.latent_dim = int(latent_dim or self._generator_latent_dim())
        self.num_classes = None if num_classes is None else int(num_classes)
        self.ema_decay = ema_decay
        self.seed = seed
        self.zoo_config = zoo_config
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        self.ema_generator = None
        self.ema_rampup = None if ema_rampup is None else float(ema_rampup)
        if ema_decay is not None:
            self.ema_generator = keras.models.clone_model(self.generator)
            self.ema_generator.name = "ema_generator"
            self.ema_generator.set_weights(self.generator.get_weights())
            self.ema_generator.trainable = False
            # The EMA's update count (a weight: saved, restored and resumed with the model).
            self.ema_state = EMAState(float(ema_decay), self.ema_rampup, name="ema_state")
            # Batch-norm statistics of the EMA generator are its own (see update_ema). Keras's
            # BatchNormalization updates them only when the layer is trainable; the EMA
            # generator itself stays frozen (its trainable_weights are empty, no optimizer sees them).
            own_bn = batch_norm_layers(self.ema_generator)
            for layer in own_bn:
                layer.trainable = True
            self._ema_own_statistics = {id(v) for layer in own_bn for v in (layer.moving_mean, layer.moving_variance)}
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.g_optimizer = None
        self.d_optimizer = None
        self._check_networks()
        self.augment = dict(augment) if augment else None
        self.augment_pipe = pipeline_from_config(self.augment)
        self.feature_matching = float(feature_matching)
        self.discriminator_features = feature_model(self.discriminator) if self.feature_matching > 0 else None
        self.built = True

    # ------------------------------------------------------------------ structure
    def _generator_latent_dim(self) -> int:
        z_input = self.generator.inputs[0]
        return int(z_input.shape[-1])

    def _check_networks(self) -> None:
        n_inputs = 2 if self.num_classes else 1
        for net_name, net in (("generator", self.generator), ("discriminator", self.discriminator)):
            if len(net.inputs) != n_inputs:
                kind = "conditional (inputs: z/image and label)" if self.num_classes else "unconditional (one input)"
                raise ValueError(f"{type(self).__name__}: the {net_name} '{net.name}' has {len(net.inputs)} "
                                 f"input(s) but this model is {kind}")
        out_shape = tuple(self.generator.outputs[0].shape[1:])
        in_shape = tuple(self.discriminator.inputs[0].shape[1:])
        if out_shape != in_shape:
            raise ValueError(f"the generator makes images of shape {out_shape} but the discriminator "
                             f"expects {in_shape}")

    @property
    def image_shape(self) -> tuple:
        """``(height, width, channels)`` of the generated images."""
        return tuple(int(d) for d in self.generator.outputs[0].shape[1:])

    @property
    def conditional(self) -> bool:
        """Whether the model is class-conditional (``num_classes`` is set)."""
        return self.num_classes is not None

    def call(self, inputs, training=False):
        """Calling the model runs the generator: ``model(z)`` or ``model([z, labels])``."""
        return self.generator(inputs, training=training)

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config.update({
            "generator": serialize(self.generator),
            "discriminator": serialize(self.discriminator),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "loss": self.loss_name,
            "ema_decay": self.ema_decay,
            "ema_rampup": self.ema_rampup,
            "seed": self.seed,
            "zoo_config": self.zoo_config,
            "augment": self.augment,
            "feature_matching": self.feature_matching,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        # Models saved before the EMA ramp-up existed averaged without one: keep that.
        config.setdefault("ema_rampup", None)
        for key in ("generator", "discriminator"):
            config[key] = deserialize(config[key])
        return cls(**config)

    # ------------------------------------------------------------------ metrics
    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def _metric_results(self) -> dict:
        logs = distributed.logs_for_strategy({m.name: m.result() for m in self.metrics})
        if self.augment_pipe is not None:
            logs.update(self.augment_pipe.logs())  # ADA's p and r_t, in every epoch's logs
        return logs

    def update_ema(self, generator_inputs=None):
        """One update of the EMA generator after a generator step (Karras et al. 2018; Yazici
        et al. 2019), with StyleGAN2-ADA's ramp-up: ``ema = beta * ema + (1 - beta) * G`` for
        G's trainable weights, ``beta = ema_beta(updates so far, ema_decay, ema_rampup)``.

        Batch-norm moving statistics are the EMA generator's own: it runs forward in training
        mode on ``generator_inputs`` (the step's latents, and labels), so its statistics track
        the activations of its averaged weights, as G's track G's (copying G's statistics pairs
        averaged weights with statistics of other weights). Other non-trainable weights (fixed
        noise maps, ...) are copied from G, as StyleGAN2-ADA copies buffers. Generators without
        batch norm need no ``generator_inputs`` and pay no extra forward pass.
        """
        if self.ema_generator is None:
            return
        beta = self.ema_state.beta()
        for ema_w, w in zip(self.ema_generator.weights, self.generator.weights):
            if w.trainable:
                b = keras.ops.cast(beta, ema_w.dtype)
                ema_w.assign(b * ema_w.value + (1.0 - b) * keras.ops.cast(w.value, ema_w.dtype))
            elif id(ema_w) not in self._ema_own_statistics:
                ema_w.assign(w)
        self.ema_state.updates.assign_add(1)
        if self._ema_own_statistics:
            if generator_inputs is None:
                raise ValueError(f"{type(self).__name__}.update_ema: the EMA generator has batch norm; pass the "
                                 "step's generator inputs so that it tracks its own statistics")
            self.ema_generator(generator_inputs, training=True)

    def reestimate_batch_norm(self, batches: int = 64, batch_size: int = 256, seed: int = 0,
                              use_ema: Optional[bool] = None) -> int:
        """Re-estimate the batch-norm moving statistics of the sampling generator from scratch:
        the average over ``batches`` batches of latents z ~ N(0, I) (labels uniform for a
        conditional model) of its own batch statistics in training mode, i.e. what its moving
        averages converge to, without their memory of older weights. Returns the number of
        batch-norm layers updated (0 for generators without batch norm; nothing changes).

        Use it on EMA weights whose statistics came from elsewhere: weights trained while the
        EMA generator copied G's statistics, such as the bundled ``pretrained`` ones::

            model = ganzoo.load("cgan_mnist", weights="pretrained")
            model.reestimate_batch_norm()
        """
        if isinstance(batches, bool) or not isinstance(batches, (int, np.integer)) or batches < 1:
            raise ValueError(f"batches must be a positive integer, got {batches!r}")
        batch_size = check_image_count(batch_size)
        net = self.sampling_generator(use_ema)
        layers = batch_norm_layers(net)
        if not layers:
            return 0
        rng = np.random.default_rng(seed)
        momenta = [layer.momentum for layer in layers]
        try:
            for i in range(int(batches)):
                for layer in layers:  # cumulative average: moving = (i * moving + batch) / (i + 1)
                    layer.momentum = i / (i + 1.0)
                z = rng.standard_normal((batch_size, self.latent_dim)).astype(np.float32)
                labels = (rng.integers(0, self.num_classes, batch_size).astype(np.int32)
                          if self.conditional else None)
                net(self.generator_inputs(keras.ops.convert_to_tensor(z),
                                          None if labels is None else keras.ops.convert_to_tensor(labels)),
                    training=True)
        finally:
            for layer, momentum in zip(layers, momenta):
                layer.momentum = momentum
        return len(layers)

    # ------------------------------------------------------------------ sampling
    def _latent_numpy(self, n: int, seed: Optional[int], truncation: Optional[float]):
        if truncation is None:
            z = keras.random.normal((n, self.latent_dim), seed=seed if seed is not None else self.seed_generator)
        else:
            # BigGAN-style truncation: a normal truncated at 2 sigma, scaled by psi (psi=0 is
            # the mean latent, psi=1 the truncated prior).
            z = truncation * keras.random.truncated_normal(
                (n, self.latent_dim), seed=seed if seed is not None else self.seed_generator)
        return keras.ops.convert_to_numpy(z).astype("float32")

    def latents(self, n: int, seed: Optional[int] = None, truncation: Optional[float] = None) -> np.ndarray:
        """The latent vectors ``generate(n, seed=seed, truncation=...)`` uses."""
        n = check_image_count(n)
        if truncation is not None and not 0.0 <= float(truncation) <= 2.0:
            raise ValueError(f"truncation must be between 0 and 2 (psi; 1 = no truncation beyond 2 sigma), "
                             f"got {truncation}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        return self._latent_numpy(n, None if seed is None else int(seed), truncation)

    def resolve_labels(self, n: int, labels) -> Optional[np.ndarray]:
        """Validate ``labels`` for ``n`` samples: None (conditional: 0, 1, 2, ... cycling), an
        int for all, or a sequence of n ints in [0, num_classes)."""
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"this model is unconditional and takes no labels; use a conditional entry "
                                 f"(e.g. cgan_mnist) to choose classes")
            return None
        if labels is None:
            return np.arange(n, dtype=np.int32) % self.num_classes
        arr = np.asarray(labels)
        if arr.ndim == 0:
            arr = np.full((n,), arr)
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(np.mod(arr, 1) == 0):
                arr = arr.astype(np.int64)
            else:
                raise ValueError(f"labels must be integers in [0, {self.num_classes}), got {labels!r}")
        if arr.shape != (n,):
            raise ValueError(f"got {arr.size} labels for {n} images: give one label per image or a single label")
        bad = arr[(arr < 0) | (arr >= self.num_classes)]
        if bad.size:
            raise ValueError(f"label {int(bad[0])} is out of range: this model knows classes 0..{self.num_classes - 1}")
        return arr.astype(np.int32)

    def ema_updates(self) -> Optional[int]:
        """EMA updates done (one per generator step); None without an EMA generator. For a file
        saved before ganzoo counted them: the generator optimizer's step count when the file
        holds it, else None (unknown)."""
        if self.ema_generator is None:
            return None
        if self.ema_state.counted:
            return int(self.ema_state.updates.numpy())
        steps = int(self.g_optimizer.iterations.numpy()) if getattr(self, "g_optimizer", None) is not None else 0
        return steps or None

    def ema_is_warm(self) -> bool:
        """Whether the EMA generator is warm: after :attr:`EMAState.warm_updates` updates, when
        the random initial weights make up less than :data:`EMA_WARM_SHARE` of its average
        (with the default ramp-up: after the first update). False without an EMA generator;
        True when the update count is unknown (a file from before ganzoo counted them, which
        always sampled from the EMA generator)."""
        if self.ema_generator is None:
            return False
        updates = self.ema_updates()
        return updates is None or updates >= self.ema_state.warm_updates

    def sampling_choice(self, use_ema: Optional[bool] = None) -> "SamplingChoice":
        """Which generator sampling uses, and why (one line for the user).

        ``use_ema``: None (default) the EMA generator once it is warm (:meth:`ema_is_warm`),
        else the raw generator G; True the EMA generator even before (ValueError when the model
        keeps none); False the raw generator G.
        """
        if use_ema is not None and not isinstance(use_ema, (bool, np.bool_)):
            raise ValueError(f"use_ema must be None (EMA generator once warm), True or False, got {use_ema!r}")
        if self.ema_generator is None:
            if use_ema:
                raise ValueError(f"{self.name} keeps no EMA generator (model.ema_decay is null); sample with "
                                 "use_ema=None or False")
            return SamplingChoice(False, "generator (the model keeps no EMA generator)")
        if use_ema is False:
            return SamplingChoice(False, "raw generator (asked for; the model also keeps an EMA generator)")
        updates = self.ema_updates()
        if updates is None:
            return SamplingChoice(True, "EMA generator (its update count is unknown: a file from an older ganzoo)")
        share = self.ema_state.initial_share(updates)
        state = (f"{updates:,} update(s), {share:.0%} of its average still the random initial weights"
                 if share >= EMA_WARM_SHARE or self.ema_state.rampup is None else f"{updates:,} update(s)")
        if self.ema_is_warm():
            return SamplingChoice(True, f"EMA generator (warm: {state})")
        if use_ema:
            return SamplingChoice(True, f"EMA generator (asked for; not warm yet: {state})")
        return SamplingChoice(False, f"raw generator (the EMA generator is not warm yet: {state}; warm after "
                                     f"{self.ema_state.warm_updates:,})")

    def sampling_generator(self, use_ema: Optional[bool] = None):
        """The network sampling uses (see :meth:`sampling_choice`): by default the EMA generator
        once it is warm, else G; ``use_ema=True`` / ``False`` picks the EMA generator / G."""
        return self.ema_generator if self.sampling_choice(use_ema).ema else self.generator

    def serving_images(self, net, inputs):
        """Images of the generator ``net`` (G or the EMA generator) for ``inputs`` (``z``, or
        ``[z, labels]``) as ``generate`` makes them, in a traced function: what an export serves.
        Subclasses whose sampling is more than one call of ``net`` override it."""
        return net(inputs, training=False)

    def generate_from_latents(self, z, labels=None, batch_size: int = 256,
                              use_ema: Optional[bool] = None) -> np.ndarray:
        """Images (float32 numpy in [-1, 1]) for given latent vectors (and labels)."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"latents must have shape (n, {self.latent_dim}), got {z.shape}")
        labels = self.resolve_labels(len(z), labels)
        net = self.sampling_generator(use_ema)
        out = []
        for start in range(0, len(z), batch_size):
            chunk = z[start:start + batch_size]
            inputs = chunk if labels is None else [chunk, labels[start:start + batch_size]]
            out.append(keras.ops.convert_to_numpy(net(inputs, training=False)))
        return np.concatenate(out, axis=0).astype(np.float32)

    def generate(self, n: int, labels=None, seed: Optional[int] = None, truncation: Optional[float] = None,
                 batch_size: int = 256, use_ema: Optional[bool] = None) -> np.ndarray:
        """Generate ``n`` images as a float32 array in [-1, 1] of shape (n, H, W, C).

        The same ``seed`` gives the same images on every run (stateless draws); ``seed=None``
        draws from the model's own random stream. ``labels`` choose classes of a
        conditional model; ``truncation`` (psi in [0, 2]) trades variety for fidelity.
        ``use_ema`` picks the generator (see :meth:`sampling_choice`): by default the EMA
        generator once it is warm (:meth:`ema_is_warm`), else the raw G; True / False force one.
        """
        n = check_image_count(n)
        labels = self.resolve_labels(n, labels)
        z = self.latents(n, seed=seed, truncation=truncation)
        return self.generate_from_latents(z, labels, batch_size=batch_size, use_ema=use_ema)


def check_image_count(n) -> int:
    """``n`` as an int if it is a positive integer number of images, else a ValueError naming it."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"the number of images must be a positive integer, got {n!r}")
    return int(n)


__all__ = ["AdversarialModel", "EMAState", "EMA_RAMPUP", "EMA_WARM_SHARE", "GANBase", "SamplingChoice",
           "batch_norm_layers", "ema_beta", "logs_for_strategy", "resolve_jit_compile"]
