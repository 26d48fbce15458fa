"""Config -> networks + model class -> compiled ``keras.Model``.

``ganzoo.load(name)`` is the user's entry point; ``build_model`` and ``make_optimizers``
are separate so tests, benchmarks and custom pipelines can use the pieces.
"""

from __future__ import annotations

from typing import Optional, Union

import keras

from ganzoo.config import Config, model_kwargs
from ganzoo.model_registry import class_signature, model_class, network_spec
from ganzoo.network_registry import BUILDERS, CONTEXT_ARGUMENTS
import ganzoo.networks  # noqa: F401 (importing it registers ganzoo's own builders)
from ganzoo.registry import get_config

__all__ = ["build_model", "build_generator", "build_discriminator", "make_optimizers", "compile_model", "load"]


def _config_value(config: Config, path: str):
    section, key = path.split(".", 1)
    if section == "model":  # num_classes of a class that takes none: None (unconditional)
        return config.model.get(key)
    return getattr(getattr(config, section), key)


def _build_section(role: str, config: Config):
    """The ``role`` network (``generator`` / ``discriminator``): the builder registered for its
    ``arch`` (ganzoo.network_registry), called with the section's keys, the context it takes
    (image size, channels, number of classes) and its config arguments (``model.latent_dim``)."""
    net = getattr(config, role)
    spec = network_spec(role, net.arch)
    kwargs = {name: _config_value(config, CONTEXT_ARGUMENTS[name]) for name in spec.context}
    kwargs.update({name: _config_value(config, path) for name, path in spec.config_arguments.items()})
    kwargs.update({name: getattr(net, name) for name in spec.options})
    return BUILDERS[role][net.arch](**kwargs)


def build_generator(config: Config):
    """Build the generator described by a :class:`ganzoo.config.Config`."""
    return _build_section("generator", config)


def build_discriminator(config: Config):
    """Build the discriminator described by a :class:`ganzoo.config.Config`."""
    return _build_section("discriminator", config)


def build_model(config: Config):
    """An uncompiled model of the entry's class with freshly initialised networks, built
    under the dtype policy ``config.train.precision`` (see :mod:`ganzoo.precision`), after
    applying ``config.train.cpu_threads`` if TensorFlow has not run anything yet."""
    from ganzoo.precision import configure_cpu_threads, policy_scope  # noqa: PLC0415

    configure_cpu_threads(config.train.cpu_threads, config.train.precision, config.train.jit_compile)
    with policy_scope(config.train.precision):
        return _build_model(config)


def build_network(role: str, config: Config):
    """The network a model class's constructor argument ``role`` (one of its ``network_keys``)
    takes, built from the config: a ``generator...`` argument from the ``generator`` section, a
    ``discriminator...`` one from the ``discriminator`` section, ``feature_extractor`` the VGG19
    features of a VGG content loss (None for another content loss: the class builds none)."""
    if role.startswith("generator"):
        return build_generator(config)
    if role.startswith("discriminator"):
        return build_discriminator(config)
    if role == "feature_extractor":
        if config.model.content_loss != "vgg":
            return None
        from ganzoo.networks.srresnet import build_vgg19_features, resolve_vgg19_weights  # noqa: PLC0415

        return build_vgg19_features(config.model.vgg_layer, resolve_vgg19_weights(config.model.vgg_weights))
    raise ValueError(f"{config.model.cls}.network_keys names '{role}', which no ganzoo builder makes; network "
                     "arguments are generator..., discriminator... or feature_extractor")


def _build_model(config: Config):
    """The one way a config becomes a model: the class's networks (its ``network_keys``), then
    its settings and config arguments (:func:`ganzoo.config.model_kwargs`). A fixed feature
    extractor is built first, then the trained networks in order (the order draws initial
    weights from the seeded stream: it is the one models of the same seed were always built in)."""
    keras.utils.set_random_seed(config.train.seed)
    cls = model_class(config.model.cls)
    roles = class_signature(config.model.cls).network_keys
    order = sorted(roles, key=lambda r: r.startswith(("generator", "discriminator")))
    networks = {role: build_network(role, config) for role in order}
    return cls(**networks, **model_kwargs(config))


def _learning_rate(lr: float, config: Config):
    t = config.train
    if t.lr_schedule == "linear" and t.decay_start:
        from ganzoo.schedules import ConstantThenLinearDecay  # noqa: PLC0415

        return ConstantThenLinearDecay(lr, t.decay_start, t.decay_steps)
    if t.lr_schedule == "linear":
        return keras.optimizers.schedules.PolynomialDecay(lr, t.decay_steps, end_learning_rate=0.0, power=1.0)
    if t.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, t.decay_steps)
    return lr


def make_optimizers(config: Config):
    """(g_optimizer, d_optimizer) from the ``train`` section (Adam or RMSprop, schedules).

    A model class with lazy regularisation (StyleGAN's separate R1 steps) gives a ratio c per
    optimizer (``optimizer_ratios(config)``): the learning rate is multiplied by c and the
    moment decays (Adam's betas, RMSprop's rho) raised to the power c, as the official
    StyleGAN2 code does; the config holds the uncorrected values.
    """
    t = config.train
    cls = model_class(config.model.cls)
    ratios = cls.optimizer_ratios(config) if hasattr(cls, "optimizer_ratios") else (1.0, 1.0)
    optimizers = []
    for lr, c in zip((t.learning_rate, t.d_learning_rate or t.learning_rate), ratios):
        lr = _learning_rate(lr * c, config)
        if t.optimizer == "rmsprop":
            optimizers.append(keras.optimizers.RMSprop(lr) if c == 1.0 else keras.optimizers.RMSprop(lr, rho=0.9 ** c))
        else:
            optimizers.append(keras.optimizers.Adam(lr, beta_1=t.beta_1 ** c, beta_2=t.beta_2 ** c))
    return tuple(optimizers)


def compile_model(model, config: Config, jit_compile=None, steps_per_execution=None):
    """Compile ``model`` with the optimizers of ``config.train`` (see :func:`make_optimizers`) and its
    XLA / steps-per-execution settings (the arguments override them); return the model.
    """
    g_opt, d_opt = make_optimizers(config)
    model.compile(g_optimizer=g_opt, d_optimizer=d_opt,
                  jit_compile=config.train.jit_compile if jit_compile is None else jit_compile,
                  steps_per_execution=steps_per_execution or config.train.steps_per_execution)
    return model


def load(name: Union[str, Config], weights: Optional[str] = None, compile: bool = True, **overrides):
    """Build (and compile) a zoo entry: ``ganzoo.load("cgan_mnist", learning_rate=1e-4)``.

    Args:
        name: registry name (see :func:`ganzoo.list_models`), a path to a YAML file, or a Config.
        weights: None for fresh weights, ``"pretrained"`` for the weights bundled with ganzoo,
            or a path to a ``.keras`` / ``.weights.h5`` file of the same architecture.
        compile: compile with the entry's optimizers so ``fit`` works at once.
        **overrides: config overrides (``learning_rate=1e-4``, ``train={"batch_size": 32}``,
            ``**{"data.image_size": 32}``); None values are ignored.
    """
    config = get_config(name, **overrides)
    model = build_model(config)
    if compile:
        compile_model(model, config)
    if weights is not None:
        from ganzoo.weights import load_weights  # noqa: PLC0415 (optional, heavy)

        load_weights(model, weights, config)
    return model
