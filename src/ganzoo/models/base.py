"""What every ganzoo model shares: networks, config, compile, sampling, EMA.

Each training scheme is its own subclass with its own ``train_step`` (``GAN``,
``ConditionalGAN``, ``WassersteinGAN``); this base holds only the plumbing that all of them
need, so that a reader finds a GAN's algorithm in one ``train_step``.

Conventions (see GUIDE): discriminators return logits, real = 1, fake = 0, images are float
in [-1, 1]; every random draw goes through the model's ``keras.random.SeedGenerator``.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, Union

import keras
import numpy as np
import tensorflow as tf

from ganzoo import losses
from ganzoo.augment import pipeline_from_config


def _serialize(obj):
    return keras.saving.serialize_keras_object(obj)


def _deserialize(obj):
    return keras.saving.deserialize_keras_object(obj) if isinstance(obj, dict) else obj


def resolve_jit_compile(value: Union[bool, str]) -> bool:
    """``"auto"`` means what measured faster on this platform: XLA on GPU/TPU, plain graph
    mode on CPU (benchmarks/train_throughput.py measured XLA slower for the small
    MNIST/CIFAR networks on a 2-core CPU; see the README's benchmark table)."""
    if value == "auto":
        if tf.distribute.has_strategy() and not isinstance(tf.distribute.get_strategy(), tf.distribute.TPUStrategy):
            # Keras XLA-compiles the function that calls strategy.run; like Keras's own "auto",
            # no XLA under MirroredStrategy / MultiWorkerMirroredStrategy (TPUs compile anyway).
            return False
        return bool(tf.config.list_physical_devices("GPU") or tf.config.list_logical_devices("TPU"))
    return bool(value)


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
    decay_t = tf.constant(decay, tf.float32)
    if rampup is None:
        return decay_t
    ramped = rampup * tf.cast(updates, tf.float32)
    return tf.minimum(decay_t, tf.pow(0.5, 1.0 / tf.maximum(ramped, 1e-8)))


@keras.saving.register_keras_serializable(package="ganzoo")
class EMAState(keras.layers.Layer):
    """The EMA generator's schedule and its state: ``updates``, the number of EMA updates
    done (int64 weight, so ``model.save`` / ``keras.saving.load_model``, checkpoints and
    resumed runs continue the ramp-up exactly)."""

    def __init__(self, decay: float, rampup: Optional[float] = EMA_RAMPUP, **kwargs):
        super().__init__(**kwargs)
        self.decay = float(decay)
        self.rampup = None if rampup is None else float(rampup)
        self.updates = self.add_weight(shape=(), dtype="int64", initializer="zeros", trainable=False,
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


class SamplingChoice(NamedTuple):
    """The generator sampling uses (``ema``: the EMA generator, else G) and a one-line
    ``description`` of it and why, for the user and for metadata."""

    ema: bool
    description: str

    def __str__(self) -> str:
        return self.description


class AdversarialModel(keras.Model):
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

    A class joins the zoo with :func:`ganzoo.registry.register_model_class`.
    """

    #: One of :data:`ganzoo.model_registry.DATA_KINDS` (declared by each concrete class's base).
    data_kind: Optional[str] = None

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
        super().compile(jit_compile=resolve_jit_compile(jit_compile), steps_per_execution=steps_per_execution,
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
        """Under a ``mixed_float16`` policy, wrap in ``LossScaleOptimizer`` (as Keras's own
        ``compile`` does for its single optimizer): float16 gradients underflow unscaled."""
        if self.dtype_policy.name == "mixed_float16" and not isinstance(
                optimizer, keras.optimizers.LossScaleOptimizer):
            return keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    @staticmethod
    def loss_scale(optimizer):
        """The mixed-precision loss scale of ``optimizer`` (None without loss scaling). Inner
        gradients that feed that optimizer (a gradient penalty's) must be scaled by it too."""
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return optimizer.dynamic_scale
        return None

    def get_compile_config(self):
        if getattr(self, "g_optimizer", None) is None:
            return None
        return {
            "g_optimizer": _serialize(self.g_optimizer),
            "d_optimizer": _serialize(self.d_optimizer),
            "jit_compile": getattr(self, "_jit_setting", "auto"),
            "steps_per_execution": self.steps_per_execution,
        }

    def compile_from_config(self, config):
        if config:
            self.compile(**config)

    # ------------------------------------------------------------------ gradient steps
    @staticmethod
    def scale_for_replicas(loss):
        """Per-replica loss -> share of the global-batch mean, so summed gradients across
        replicas equal the single-device gradient (tf.distribute convention)."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return loss / tf.cast(replicas, loss.dtype) if replicas > 1 else loss

    def apply_gradients(self, optimizer, tape, loss, variables):
        """Scale (replicas, mixed-precision loss scale), differentiate and apply.

        The scaling is recorded on ``tape`` (re-entered): scaling after the tape has closed is
        invisible to it and gives ``None`` gradients under a strategy or a loss scale. Keras's
        TF optimizer then all-reduces (sums) the per-replica gradients.
        """
        with tape:
            scaled = optimizer.scale_loss(self.scale_for_replicas(loss))
        grads = tape.gradient(scaled, variables)
        # Label-embedding gradients come as IndexedSlices with repeated rows (a batch repeats
        # labels). Keras's Adam squares such slices row by row (sum of squares, not the square
        # of the summed gradient), and under tf.distribute their size differs between replicas,
        # which breaks the packed all-reduce. The tables are small: make them dense.
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        if _replicas_in_sync() > 1 and isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            grads = _agree_on_finiteness(grads)
        optimizer.apply(grads, variables)


class GANBase(AdversarialModel):
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

    def __init__(self, generator, discriminator, latent_dim: Optional[int] = None,
                 num_classes: Optional[int] = None, loss: str = "non_saturating",
                 ema_decay: Optional[float] = None, seed: Optional[int] = None,
                 zoo_config: Optional[dict] = None, augment: Optional[dict] = None,
                 feature_matching: float = 0.0, ema_rampup: Optional[float] = EMA_RAMPUP, **kwargs):
        super().__init__(**kwargs)
        self.generator = _deserialize(generator)
        self.discriminator = _deserialize(discriminator)
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
        if self.ema_rampup is not None and not self.ema_rampup > 0:
            raise ValueError(f"ema_rampup must be > 0 (or None for no ramp-up), got {ema_rampup}")
        if ema_decay is not None:
            if not 0.0 < float(ema_decay) < 1.0:
                raise ValueError(f"ema_decay must be in (0, 1), got {ema_decay}")
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
        if float(feature_matching) < 0:
            raise ValueError(f"feature_matching must be >= 0, got {feature_matching}")
        self.feature_matching = float(feature_matching)
        self.discriminator_features = self._feature_model() if self.feature_matching > 0 else None
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
            "generator": _serialize(self.generator),
            "discriminator": _serialize(self.discriminator),
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
            config[key] = _deserialize(config[key])
        return cls(**config)

    # ------------------------------------------------------------------ metrics
    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def _metric_results(self) -> dict:
        logs = logs_for_strategy({m.name: m.result() for m in self.metrics})
        if self.augment_pipe is not None:
            logs.update(self.augment_pipe.logs())  # ADA's p and r_t, in every epoch's logs
        return logs

    # ------------------------------------------------------------------ the discriminator's view
    def augment_images(self, images):
        """What D sees of ``images`` (real or fake): augmented by ``augment_pipe`` when the
        model has one (differentiable, draws from the model's seed generator), else unchanged.
        Only train steps call this; sampling never does."""
        if self.augment_pipe is None:
            return images
        return self.augment_pipe.apply(images, seed=self.seed_generator)

    def observe_real_logits(self, real_logits) -> None:
        """ADA: feed D's logits of (augmented) real images to the p controller."""
        if self.augment_pipe is not None:
            self.augment_pipe.observe(real_logits)

    def _feature_model(self):
        """D with two outputs, (penultimate features, logits), sharing D's layers: the input of
        the final logit layer (of its linear part for a projection discriminator)."""
        D = self.discriminator
        op = D.outputs[0]._keras_history.operation
        if isinstance(op, keras.layers.Add):  # projection head: Dense(h) + <embed(y), h>
            op = op.input[0]._keras_history.operation
        features = op.input
        if isinstance(features, (list, tuple)) or len(features.shape) != 2:
            raise ValueError(f"feature matching needs a discriminator whose logit is a Dense layer on a feature "
                             f"vector; '{D.name}' ends in {type(op).__name__}")
        return keras.Model(D.inputs, [features, D.outputs[0]], name="discriminator_features")

    def generator_view(self, fake, fake_labels=None, real=None, real_labels=None):
        """G's step through D: ``(fake_logits, feature_matching_loss)`` for generated images
        (augmented as D sees them). With ``feature_matching`` > 0 the second term compares
        D's mean penultimate features of ``real`` (constants) and of ``fake``; else it is 0."""
        fake_in = self.discriminator_inputs(self.augment_images(fake), fake_labels)
        if self.discriminator_features is None:
            return self.discriminator(fake_in, training=True), tf.constant(0.0)
        fake_features, fake_logits = self.discriminator_features(fake_in, training=True)
        real_features, _ = self.discriminator_features(
            self.discriminator_inputs(self.augment_images(real), real_labels), training=True)
        fm = losses.feature_matching_loss(tf.stop_gradient(real_features), fake_features)
        return fake_logits, fm

    # ------------------------------------------------------------------ image-quality metrics (validation)
    #: Set by ``compile(metrics=[...])``; kept apart from ``metrics`` (the loss trackers) so
    #: training logs stay losses and validation logs stay quality.
    quality_metrics = ()

    def compile(self, *args, metrics=None, **kwargs):
        """``metrics``: image-quality metrics for ``fit(validation_data=...)``/``evaluate`` (names
        such as ``"fcd"``, ``"coverage"``, ``"label_accuracy"``, ``"fid"`` or
        :mod:`ganzoo.evaluation.keras_metrics` objects); everything else as the base compile."""
        super().compile(*args, **kwargs)
        if metrics:
            from ganzoo.evaluation.keras_metrics import get_quality_metrics  # noqa: PLC0415 (TF-heavy, optional)

            self.quality_metrics = get_quality_metrics(metrics, self.zoo_config)

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None and self.quality_metrics:
            config["metrics"] = [_serialize(m) for m in self.quality_metrics]
        return config

    def reset_metrics(self):
        """Reset the loss trackers and the image-quality metrics (Keras calls it at each epoch start)."""
        super().reset_metrics()
        for metric in self.quality_metrics:
            metric.reset_state()

    def test_step(self, data):
        """Validation: one fake per real image of the batch (with the batch's labels when
        conditional) from the sampling generator; updates and returns the quality metrics."""
        if not self.quality_metrics:
            return {}
        real, labels = self.unpack(data)
        labels = self._check_labels(labels) if self.conditional else None
        z = self.sample_latent(tf.shape(real)[0])
        fake = self.sample_with(lambda net: net(self.generator_inputs(z, labels), training=False))
        for metric in self.quality_metrics:
            metric.update_state(real, fake, labels)
        return logs_for_strategy({m.name: m.result() for m in self.quality_metrics})

    # ------------------------------------------------------------------ training helpers
    @staticmethod
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

    @staticmethod
    def replica_rows(draw, batch_size):
        """``draw(n)`` for the whole global batch, and this replica's rows of it.

        Replicas share the seed-generator state, so each would otherwise draw the *same*
        numbers. Drawing for all and keeping its slice gives replica r exactly what a
        one-device run draws for rows r*b..(r+1)*b of the global batch, the rows
        ``tf.distribute`` gives it (tests/test_distribute.py checks the weights match).
        """
        replicas = _replicas_in_sync()
        if replicas == 1:
            return draw(batch_size)
        ctx = tf.distribute.get_replica_context()
        start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * tf.cast(batch_size, tf.int32)
        return draw(batch_size * replicas)[start:start + batch_size]

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
        return None if labels is None else tf.cast(tf.reshape(labels, [-1]), tf.int32)

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
                b = tf.cast(beta, ema_w.dtype)
                ema_w.assign(b * ema_w + (1.0 - b) * tf.cast(w, ema_w.dtype))
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
        batch_size = _check_count(batch_size)
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
                net(self.generator_inputs(tf.constant(z), None if labels is None else tf.constant(labels)),
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
        n = _check_count(n)
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

    def sample_with(self, make):
        """``make(net)`` with the generator :meth:`sampling_generator` picks by default, inside a
        traced step too (``test_step``): a ``tf.cond`` on the EMA's update count."""
        if self.ema_generator is None:
            return make(self.generator)
        if tf.executing_eagerly():
            return make(self.sampling_generator())
        if self.ema_state.counted:
            warm = self.ema_state.updates >= self.ema_state.warm_updates
        elif getattr(self, "g_optimizer", None) is not None:
            steps = tf.cast(self.g_optimizer.iterations, tf.int64)
            warm = tf.logical_or(steps == 0, steps >= self.ema_state.warm_updates)
        else:
            return make(self.ema_generator)
        return tf.cond(warm, lambda: make(self.ema_generator), lambda: make(self.generator))

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
        n = _check_count(n)
        labels = self.resolve_labels(n, labels)
        z = self.latents(n, seed=seed, truncation=truncation)
        return self.generate_from_latents(z, labels, batch_size=batch_size, use_ema=use_ema)


def _agree_on_finiteness(grads):
    """Make every replica see a non-finite gradient if any replica has one.

    ``LossScaleOptimizer`` checks finiteness on each replica's *local* gradients (Keras 3
    all-reduces later, inside the inner optimizer) and under MirroredStrategy acts on replica
    0's answer alone, so an overflow on another replica would be applied (and without merge
    calls the replicas could disagree). With one all-reduced flag all skip the step and halve
    the loss scale together. Called in a replica context with dense gradients.
    """
    ctx = tf.distribute.get_replica_context()
    finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads if g is not None])
    bad = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.logical_not(finite), tf.float32))
    poison = tf.where(bad > 0, float("nan"), 0.0)
    return [None if g is None else g + tf.cast(poison, g.dtype) for g in grads]


def logs_for_strategy(logs: dict) -> dict:
    """Metric results of one replica -> the global values, in a shape ``fit`` can reduce.

    Each replica's loss trackers hold the mean over *its* examples. They are averaged over
    the replicas here (equal replica batches: the global mean), because Keras reduces step
    outputs differently per strategy: the mean under Mirrored, replica 0's value under TPU.
    Keras 3 (3.15) reduces them under MultiWorkerMirroredStrategy with
    ``strategy.reduce("MEAN", value, axis=0)``, which fails on scalars ("Invalid reduction
    dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388); 1-element
    vectors reduce to the scalar. Unchanged on one replica.
    """
    ctx = tf.distribute.get_replica_context()
    if not logs or ctx is None or ctx.num_replicas_in_sync == 1:
        return logs
    keys = list(logs)
    values = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, [tf.cast(logs[k], tf.float32) for k in keys])
    logs = dict(zip(keys, values))
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        logs = {key: tf.reshape(value, [1]) for key, value in logs.items()}
    return logs


def _replicas_in_sync() -> int:
    """Replicas of the enclosing replica context (1 outside tf.distribute or cross-replica)."""
    ctx = tf.distribute.get_replica_context()
    return ctx.num_replicas_in_sync if ctx is not None else 1


def _check_count(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"the number of images must be a positive integer, got {n!r}")
    return int(n)


__all__ = ["AdversarialModel", "EMAState", "EMA_RAMPUP", "EMA_WARM_SHARE", "GANBase", "SamplingChoice", "batch_norm_layers", "ema_beta",
           "logs_for_strategy", "resolve_jit_compile"]
