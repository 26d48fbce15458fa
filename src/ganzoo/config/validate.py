"""The checks of a config's values (:meth:`ganzoo.config.Config.validate`): choices, ranges
(a setting's annotation), the keys nothing reads, the rules of the data pipelines and of
augmentation, and the rules across keys of the entry's class and networks (their
``check_config`` / ``check``)."""

from __future__ import annotations


from ganzoo.config.keys import check_keys_are_used, data_kind, model_keys_read, used_keys
from ganzoo.config.schema import (ADA_LOSSES, CPU_THREADS_HELP, DATA_SOURCES, DIFF_AUGMENT_OPS, LOSS_NAMES,
                                  LR_SCHEDULES, NETWORK_MODEL_SETTINGS, OPTIMIZERS, PRECISIONS, UCI_DIGITS_SPLITS,
                                  UCI_RESIZE_METHODS, ConfigError, did_you_mean, valid_cpu_threads)
from ganzoo.config.sections import all_network_options, network_options
from ganzoo.constraints import OneOf, first_problem, split_annotated
from ganzoo.model_registry import (class_signature, image_to_image_class_names, model_class_info, model_class_names,
                                   model_settings, network_arch_names, network_spec)
from ganzoo.network_registry import ROLES


def validate_config(config, origin: str = "<config>") -> None:
    """Check the values of ``config`` that are well-typed but impossible; raise ConfigError
    naming the key (and ``origin``, the file or the overrides)."""
    m, g, d, data, t = config.model, config.generator, config.discriminator, config.data, config.train

    def fail(key: str, message: str) -> None:
        raise ConfigError(f"{origin}: {key}: {message}")

    def choice(key: str, value: str, options: tuple) -> None:
        if value not in options:
            hint = did_you_mean(str(value), options)
            fail(key, f"'{value}' is not one of {', '.join(options)}{hint}")

    def positive(key: str, value, allow_none: bool = False) -> None:
        if value is None and allow_none:
            return
        if value is None or value <= 0:
            fail(key, f"must be > 0, got {value}")

    choice("model.cls", m.cls, model_class_names())
    for role in ROLES:
        choice(f"{role}.arch", getattr(config, role).arch, network_arch_names(role))
    reads = set(model_keys_read(config))
    if "loss" in reads:
        choice("model.loss", m.loss, LOSS_NAMES)
    _check_network_constraints(config, fail)
    choice("data.source", data.source, DATA_SOURCES)
    if data.source == "uci_digits" and data.split not in UCI_DIGITS_SPLITS:
        fail("data.split", f"the UCI digits (data.source: uci_digits) have the splits "
             f"{', '.join(UCI_DIGITS_SPLITS)}, not '{data.split}'")
    choice("train.optimizer", t.optimizer, OPTIMIZERS)
    choice("train.lr_schedule", t.lr_schedule, LR_SCHEDULES)
    choice("train.precision", t.precision, PRECISIONS)
    # The model settings' own constraints (their annotations): choices first, as which keys
    # are read may depend on them (content_loss: vgg reads vgg_layer).
    limits = _model_constraints(config)
    _check_constraints(config, limits, fail, choices=True)
    # Before the value checks: a key that nothing reads is refused as such, whatever its value.
    check_keys_are_used(config, origin)
    _check_constraints(config, limits, fail, choices=False)

    if data.channels not in (1, 3):
        fail("data.channels", f"must be 1 or 3, got {data.channels}")
    positive("data.image_size", data.image_size)
    positive("data.crop", data.crop, allow_none=True)
    positive("data.limit", data.limit, allow_none=True)
    positive("data.shuffle_buffer", data.shuffle_buffer)
    _check_network_archs(config, fail)
    _validate_pipelines(config, fail, choice, positive)
    # Rules across keys: each class's (and its bases') check_config, base first.
    for check in class_signature(m.cls).checks:
        check(config, fail)
    if data.pad < 0 or data.image_size - 2 * data.pad < 1:
        fail("data.pad", f"must be >= 0 and leave image content (image_size - 2 * pad > 0), got {data.pad}")
    elif data.source == "folder" and not data.path and not model_class_info(m.cls).image_to_image:
        fail("data.path", "a folder source needs the folder of images: set data.path "
             "(or pass --data-path on the command line)")
    # Rules across keys of each network: its builder's check (registered with it).
    for role in ROLES:
        check = network_spec(role, getattr(config, role).arch).check
        if check is not None:
            check(config, role, fail)

    positive("train.batch_size", t.batch_size)
    positive("train.epochs", t.epochs)
    positive("train.steps_per_epoch", t.steps_per_epoch, allow_none=True)
    positive("train.learning_rate", t.learning_rate)
    positive("train.d_learning_rate", t.d_learning_rate, allow_none=True)
    positive("train.decay_steps", t.decay_steps, allow_none=True)
    positive("train.steps_per_execution", t.steps_per_execution)
    for key in ("beta_1", "beta_2"):
        if not 0.0 <= getattr(t, key) < 1.0:
            fail(f"train.{key}", f"must be in [0, 1), got {getattr(t, key)}")
    if t.jit_compile not in (True, False, "auto"):
        fail("train.jit_compile", f"must be true, false or auto, got {t.jit_compile!r}")
    if not valid_cpu_threads(t.cpu_threads):
        fail("train.cpu_threads", f"{CPU_THREADS_HELP}, got {t.cpu_threads!r}")
    if t.decay_start < 0:
        fail("train.decay_start", f"must be >= 0, got {t.decay_start}")
    _validate_augment(config, fail)
    if t.lr_schedule != "constant" and t.decay_steps is None:
        fail("train.decay_steps", f"lr_schedule '{t.lr_schedule}' needs decay_steps (the number of "
             "optimizer steps over which the learning rate decays)")


def _validate_augment(config, fail) -> None:
    """The ``augment`` part of :meth:`Config.validate`."""
    a = config.augment
    ops = [op.strip() for op in a.policy.split(",") if op.strip()]
    for op in ops:
        if op not in DIFF_AUGMENT_OPS:
            hint = did_you_mean(op, DIFF_AUGMENT_OPS)
            fail("augment.policy", f"unknown DiffAugment op '{op}'{hint}; use a comma-separated list of "
                 f"{', '.join(DIFF_AUGMENT_OPS)} (e.g. 'color,translation,cutout') or '' for none")
    if len(set(ops)) != len(ops):
        fail("augment.policy", f"'{a.policy}' names an op twice")
    if a.ada and config.model.loss not in ADA_LOSSES:
        fail("augment.ada", f"ADA reads overfitting from r_t = E[sign(D(real))], which needs logits whose sign "
             f"means real/fake ({', '.join(ADA_LOSSES)} losses); the '{config.model.loss}' critic has no such "
             f"threshold. Use DiffAugment (augment.policy: color,translation,cutout) instead")
    if not 0.0 <= a.ada_target <= 1.0:
        fail("augment.ada_target", f"must be in [0, 1] (r_t = E[sign(D(real))]; paper: 0.6), got {a.ada_target}")
    if a.ada_kimg <= 0:
        fail("augment.ada_kimg", f"must be > 0 (thousands of images for p to go 0 -> 1; paper: 500), got {a.ada_kimg}")
    if a.ada_interval < 1:
        fail("augment.ada_interval", f"must be >= 1 (paper: 4), got {a.ada_interval}")
    if not 0.0 <= a.initial_p <= 1.0:
        fail("augment.initial_p", f"must be in [0, 1], got {a.initial_p}")


def _model_constraints(config) -> dict:
    """``model`` key -> its :mod:`ganzoo.constraints`, for each key the entry's class (its
    constructor's annotations) or networks (:data:`NETWORK_MODEL_SETTINGS`) read."""
    settings = model_settings(config.model.cls)
    out = {}
    for key in model_keys_read(config):
        found = settings[key].constraints if key in settings else ()
        if key in NETWORK_MODEL_SETTINGS:
            found += split_annotated(NETWORK_MODEL_SETTINGS[key][0])[1]
        if found:
            out[key] = found
    return out


def _check_constraints(config, limits: dict, fail, choices: bool) -> None:
    """Check the value of each read ``model`` key against its constraints: the
    :class:`~ganzoo.constraints.OneOf` ones (``choices``) or the others."""
    for key, found in limits.items():
        problem = first_problem([limit for limit in found if isinstance(limit, OneOf) == choices],
                                getattr(config.model, key))
        if problem:
            fail(f"model.{key}", problem)


def _check_network_constraints(config, fail) -> None:
    """Each network key's range (its builder's annotation): the keys of the section's builder
    and any other key the section sets (a key another builder takes, checked as that builder's:
    refused as unused afterwards)."""
    for role in ROLES:
        net = getattr(config, role)
        own, everyone = network_options(role, net.arch), all_network_options(role)
        for key in [*own, *(k for k in net.values if k not in own)]:
            option = own.get(key) or everyone.get(key)
            problem = first_problem(option.constraints, getattr(net, key)) if option else None
            if problem:
                fail(f"{role}.{key}", problem)


def _arch_owners(role: int, arch: str) -> list:
    """The model classes built from ``arch`` as their generator (``role`` 0) or discriminator (1)."""
    return [c for c in model_class_names() if (class_signature(c).network_archs or (None, None))[role] == arch]


def _check_network_archs(config, fail) -> None:
    """A class that declares its networks (``network_archs``) is built from them; a class that
    does not is built from none of the networks another class declares."""
    m, nets = config.model, (("generator", config.generator), ("discriminator", config.discriminator))
    own = class_signature(m.cls).network_archs
    if own is not None:
        for (role, net), arch in zip(nets, own):
            if net.arch != arch:
                what = f"'{arch}' networks" if own[0] == own[1] else f"a '{arch}' {role}"
                fail(f"{role}.arch", f"{m.cls} is built from {what}, got '{net.arch}'")
        return
    for index, (role, net) in enumerate(nets):
        owners = _arch_owners(index, net.arch)
        if not owners:
            continue
        if model_class_info(owners[0]).image_to_image:
            fail(f"{role}.arch", f"the {config.generator.arch}/{config.discriminator.arch} networks map images to "
                 f"images; use model.cls {' or '.join(c for c in image_to_image_class_names() if class_signature(c).network_archs)}")
        fail(f"{role}.arch", f"the '{net.arch}' networks grow or take styles and are trained by model.cls "
             f"{' or '.join(owners)}")


def _validate_pipelines(config, fail, choice, positive) -> None:
    """The rules of the networks' shapes and of the data pipelines (a class's ``data_kind``)
    that hold whichever class reads them."""
    data, used = config.data, used_keys(config)
    kind = data_kind(config)
    if "data.crops_per_image" in used:
        positive("data.crops_per_image", data.crops_per_image)
    if kind == "paired_lr_hr" and data.source == "uci_digits":
        fail("data.source", "the UCI digits are 8x8 grids, no high-resolution images; use tfds or folder")
    if kind == "paired_lr_hr" and data.source == "folder" and not data.path:
        fail("data.path", "a folder source needs the folder of high-resolution images: set "
             "data.path (or pass --data-path on the command line)")
    if "data.load_size" in used and data.load_size is not None and data.load_size < data.image_size:
        fail("data.load_size", f"the jitter resize ({data.load_size}) must be at least the crop "
             f"data.image_size ({data.image_size}); paper: 286 for 256")
    if "data.resize_b" in used:
        choice("data.resize_b", data.resize_b, UCI_RESIZE_METHODS)
    if "data.pad_b" in used and (data.pad_b < 0 or data.image_size - 2 * data.pad_b < 1):
        fail("data.pad_b", f"the border of domain B's digits must be >= 0 and leave room for the digit "
             f"(data.image_size - 2 * pad_b > 0; MNIST's framing at 28 px: 4), got {data.pad_b} at "
             f"image_size {data.image_size}")
    if kind == "unpaired_ab" and data.source == "folder" and not ((data.path_a and data.path_b) or data.path):
        fail("data.path_a", "a CycleGAN folder source needs two folders: set data.path_a and "
             "data.path_b (or data.path holding trainA/ and trainB/)")

