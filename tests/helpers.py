"""Shared test helpers: tiny configs, real-MNIST location."""

from __future__ import annotations

import os
from pathlib import Path

import ganzoo

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
}


def tiny_config(name: str, **extra):
    overrides = dict(TINY)
    overrides.update(extra)
    return ganzoo.get_config(name, **overrides)


def shared_tfds_dir():
    """../shared/tfds beside the repo (or $TFDS_DATA_DIR) when it holds MNIST, else None."""
    candidates = [os.environ.get("TFDS_DATA_DIR"), Path(__file__).resolve().parents[2] / "shared" / "tfds"]
    for c in candidates:
        if c and (Path(c) / "mnist").is_dir():
            return str(c)
    return None
