"""Shared test helpers: tiny configs, real-MNIST location."""

from __future__ import annotations

import os
from pathlib import Path

import ganzoo
from ganzoo.config import used_keys

REPO = Path(__file__).resolve().parents[1]
#: PYTHONPATH for a subprocess that must run this checkout's ganzoo (src layout: src/) and
#: import tests.* (the repository root), whichever ganzoo its interpreter has installed.
CHECKOUT_PYTHONPATH = os.pathsep.join([str(REPO / "src"), str(REPO)])

#: Shrinks any entry to a few thousand parameters while keeping its resolution, classes,
#: losses and training scheme (what the registry test must exercise).
TINY = {
    "generator.filters": 8,
    "discriminator.filters": 8,
    "generator.hidden": [16, 16],
    "discriminator.hidden": [16, 16],
    "generator.embedding_dim": 4,
    "discriminator.embedding_dim": 4,
    "model.latent_dim": 8,
    "train.batch_size": 4,
    "train.jit_compile": False,
    "data.cache": False,
    # ProgressiveGAN: grow every 4 images (one tiny batch), so the smoke steps cross a growth.
    "model.fade_images": 4,
    "model.stabilize_images": 4,
    # StyleGAN: a 2-layer mapping network.
    "model.mapping_layers": 2,
}


#: Image-to-image networks are fully convolutional, so the same algorithm runs on 16-32 px
#: crops (TFDS mock images are 5-49 px); one residual block; SRGAN passes both of its phases
#: (1 pre-training step, then adversarial) with the VGG22 content loss on an untrained VGG19.
TINY_BY_CLASS = {
    "SRGAN": {"data.image_size": 16, "generator.residual_blocks": 1, "model.pretrain_steps": 1,
              "model.vgg_weights": "random", "model.vgg_layer": "block2_conv2", "data.crops_per_image": 2,
              "data.shuffle_buffer": 16},
    "CycleGAN": {"data.image_size": 32, "data.load_size": 36, "generator.residual_blocks": 1,
                 "model.pool_size": 3, "data.shuffle_buffer": 16},
    # Two critic steps per G step still run the n_critic loop (and the penalty in each); five
    # unrolled penalty steps made WGAN-GP's traced step the slowest of the smoke tests.
    "WassersteinGAN": {"model.n_critic": 2},
}


def tiny_config(name: str, **extra):
    """The entry shrunk by the keys of TINY / TINY_BY_CLASS that it uses (others would be refused
    as unused, e.g. ``generator.hidden`` of a dcgan network), then ``extra``."""
    base = ganzoo.get_config(name, **extra)  # extra may switch a mode (e.g. data.source: folder)
    used = used_keys(base)
    shrink = {**TINY, **TINY_BY_CLASS.get(base.model.cls, {})}
    overrides = {key: value for key, value in shrink.items() if key in used}
    overrides.update(extra)
    return ganzoo.get_config(name, **overrides)


def shared_tfds_dir():
    """../shared/tfds beside the repo (or $TFDS_DATA_DIR) when it holds MNIST, else None.

    Under CI (``CI=true``) real MNIST must be there: a missing folder raises instead of
    letting every real-data test skip quietly (they may skip outside CI only)."""
    candidates = [os.environ.get("TFDS_DATA_DIR"), Path(__file__).resolve().parents[2] / "shared" / "tfds"]
    for c in candidates:
        if c and (Path(c) / "mnist").is_dir():
            return str(c)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError("CI runs the real-MNIST tests: put MNIST in TFDS format in ../shared/tfds beside the "
                           "repository or point TFDS_DATA_DIR at it")
    return None
