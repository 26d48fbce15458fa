"""FROZEN records of older schemas, kept so that every recorded hash, ``config_identity`` and
run folder stays valid (tests/config/test_hashes.py pins them). Nothing here may change; how
they enter a hash is :mod:`ganzoo.config.hashing`."""

from __future__ import annotations

import types

#: FROZEN: the ``generator`` / ``discriminator`` section as every config had it before a section
#: became its builder's keyword arguments (one union of every architecture's options, at its
#: defaults then). A section still serializes in this shape (:meth:`Config.to_dict`, so
#: :meth:`Config.hash` and ``config_identity`` of every entry stay what was recorded) and these
#: stay the defaults of these keys, whichever builder takes them (a config that leaves one unset
#: builds the network it always built). Never add to it or change it: a new key is a builder's
#: keyword argument, whose default is its default.
LEGACY_NETWORK_DEFAULTS = types.MappingProxyType({
    "filters": 64, "hidden": [256, 512, 1024], "norm": "batch", "spectral_norm": False, "dropout": 0.0,
    "leaky_slope": 0.2, "base_size": 4, "kernel_size": 4, "embedding_dim": 50, "conditioning": "concat",
    "residual_blocks": None,
})



#: FROZEN: the ``model`` section as every config had it before the section became the model
#: class's constructor arguments (every key of every class, at its default then). Used only to
#: keep old records valid: :meth:`Config.hash_dict` (so :meth:`Config.hash` and
#: ``ganzoo.checkpoint.config_identity`` of every entry stay what shipped weights and running
#: trainings recorded; tests/config/test_hashes.py pins them) and, when loading a run folder's
#: config.yaml written before, to accept a key its class does not take at exactly this value.
#: Never add to it or change it: a new setting is a constructor argument.
LEGACY_MODEL_DEFAULTS = types.MappingProxyType({
    "cls": "GAN", "latent_dim": 100, "num_classes": None, "loss": "non_saturating", "label_smoothing": 0.0,
    "gradient_penalty": 0.0, "r1_gamma": 0.0, "clip_value": None, "n_critic": 1, "ema_decay": None,
    "ema_rampup": 0.05, "feature_matching": 0.0, "content_loss": "vgg", "vgg_layer": "block5_conv4",
    "vgg_weights": None, "content_weight": 1.0, "adversarial_weight": 1e-3, "pretrain_steps": 0,
    "cycle_weight": 10.0, "identity_weight": 5.0, "pool_size": 50, "domains": ["a", "b"], "drift": 0.0,
    "fade_images": 800_000, "stabilize_images": 800_000, "start_resolution": 4, "mapping_layers": 8,
    "mapping_lr_mul": 0.01, "style_mixing_prob": 0.9, "r1_interval": 1, "w_avg_beta": 0.995,
})



#: Keys that change how fast an entry trains, not what it learns: left out of :meth:`Config.hash`
#: (added after weights were published; the older speed keys jit_compile and steps_per_execution
#: stay hashed so that published hashes keep matching).
UNHASHED_KEYS = (("train", "cpu_threads"),)
#: Keys added after hashes were recorded (the bundled weights' metadata), with the value that
#: reproduces the behaviour from before they existed: at that value they stay out of the hash,
#: so a recipe run the old way keeps its old hash. Those whose legacy value is also their default
#: (data.pad_b, data.resize_b) stay out of ``ganzoo.checkpoint.config_identity`` at that value
#: too, so that runs checkpointed before they existed still resume.
LEGACY_VALUES = ((("model", "ema_rampup"), None), (("data", "pad_b"), 0), (("data", "resize_b"), "bilinear"))

