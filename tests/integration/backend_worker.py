"""One backend's half of tests/integration/test_backends.py, run in its own process (Keras
picks its backend once per process): ``python -m tests.integration.backend_worker MODE SRC OUT``
with ``KERAS_BACKEND`` set.

* ``train - OUT``: a tiny cgan_mnist trained two steps on fixed data, saved as ``OUT/model.keras``
  and ``OUT/model.weights.h5``; its samples for fixed latents and labels, and those of the
  bundled cgan_mnist generator, in ``OUT/samples.npz``.
* ``load SRC OUT``: SRC's ``model.keras`` and ``model.weights.h5`` (into a freshly built model)
  loaded on this backend, and the bundled generator; their samples for the same latents in
  ``OUT/samples.npz``.

Every sample comes from ``generate_from_latents`` (latents drawn by NumPy, so both backends
feed the networks the same numbers); ``raw`` keys use the raw generator, the others the
sampling generator the model chooses.
"""

import sys
from pathlib import Path

import keras
import numpy as np

import ganzoo
from ganzoo.builders import build_model, compile_model
from tests.helpers import tiny_config

#: The tiny entry (EMA on, so the sampling generator is the EMA one after two steps).
TINY = {"model.ema_decay": 0.5, "train.batch_size": 4}
N = 6


def latents(latent_dim: int):
    rng = np.random.default_rng(7)
    return rng.standard_normal((N, latent_dim)).astype("float32"), np.array([0, 3, 9, 3, 1, 7], np.int32)


def samples(model, prefix: str) -> dict:
    z, labels = latents(model.latent_dim)
    return {f"{prefix}": model.generate_from_latents(z, labels),
            f"{prefix}_raw": model.generate_from_latents(z, labels, use_ema=False)}


def pretrained() -> dict:
    model = ganzoo.load("cgan_mnist", weights="pretrained", compile=False)
    z, labels = latents(model.latent_dim)
    return {"pretrained": model.generate_from_latents(z, labels)}


def train(out: Path) -> dict:
    config = tiny_config("cgan_mnist", **TINY)
    model = build_model(config)
    compile_model(model, config)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, (8,)).astype("int32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    model.save(str(out / "model.keras"))
    model.save_weights(str(out / "model.weights.h5"))
    return {**samples(model, "trained"), **pretrained()}


def load(src: Path) -> dict:
    import ganzoo.models  # noqa: F401  (registers the classes)

    loaded = keras.saving.load_model(str(src / "model.keras"))
    fresh = build_model(tiny_config("cgan_mnist", **TINY))
    fresh.load_weights(str(src / "model.weights.h5"))
    return {**samples(loaded, "keras_file"), **samples(fresh, "weights_file"), **pretrained()}


def main(mode: str, src: str, out: str) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = train(out) if mode == "train" else load(Path(src))
    np.savez(out / "samples.npz", backend=keras.backend.backend(), **result)


if __name__ == "__main__":
    main(*sys.argv[1:4])
