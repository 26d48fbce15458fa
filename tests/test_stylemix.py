"""Style mixing: the grid of ganzoo.art.style_mix and the ``ganzoo stylemix`` command."""

import keras
import numpy as np
import pytest
from PIL import Image

import ganzoo
from ganzoo import art
from ganzoo.cli import main
from ganzoo.images import read_metadata

# Passes on JAX too (KERAS_BACKEND=jax pytest -m "" this file); not in CI's JAX phase, which
# keeps to the harness, the losses and the backend-specific tests to stay within its time.

TINY = {"generator.filters": 8, "discriminator.filters": 8, "model.latent_dim": 8, "model.mapping_layers": 2,
        "data.image_size": 16, "data.pad": 2}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    model = ganzoo.load("stylegan_mnist", **TINY)
    # Untrained styles barely differ; give the affine maps (A) and noise a visible effect.
    for layer in model.generator.get_layer("synthesis").layers:
        if hasattr(layer, "affine") and layer.affine is not None:
            layer.affine.kernel.assign(layer.affine.kernel.numpy() * 20)
        if hasattr(layer, "strength"):
            layer.strength.assign(0.5)
    model.ema_generator.set_weights(model.generator.get_weights())
    path = tmp_path_factory.mktemp("models") / "stylegan.keras"
    model.save(path)
    return model, path


#: A grid cell against ``generate(1)``: the same styles in a batch of several vs of one. XLA's
#: CPU convolutions (JAX) round differently per batch size: up to 1.5e-5 with the affine maps
#: scaled x20 here (TensorFlow's eager kernels agree to 1e-5).
BATCH_ATOL = 1e-5 if keras.backend.backend() == "tensorflow" else 5e-5


def test_grid_rows_columns_and_mixes(model_file):
    model, _ = model_file
    grid = art.style_mix(model, [1, 2], [3, 4, 5], layers="coarse")
    assert grid.shape == (3, 4, 16, 16, 1)
    np.testing.assert_array_equal(grid[0, 0], np.ones((16, 16, 1)))  # blank corner
    for i, a in enumerate([1, 2]):
        np.testing.assert_allclose(grid[i + 1, 0], model.generate(1, seed=a)[0], atol=BATCH_ATOL)
    for j, b in enumerate([3, 4, 5]):
        np.testing.assert_allclose(grid[0, j + 1], model.generate(1, seed=b)[0], atol=BATCH_ATOL)
    cell = grid[1, 1]
    assert np.abs(cell - grid[1, 0]).max() > 1e-3 and np.abs(cell - grid[0, 1]).max() > 1e-3

    none_from_b = art.style_mix(model, [1, 2], [3], layers=[])
    np.testing.assert_allclose(none_from_b[1:, 1], none_from_b[1:, 0], atol=1e-5)  # all layers from A: A
    all_from_b = art.style_mix(model, [1, 2], [3], layers="all")
    np.testing.assert_allclose(all_from_b[1, 1], all_from_b[0, 1], atol=1e-5)  # all layers from B: B
    np.testing.assert_allclose(all_from_b[2, 1], all_from_b[0, 1], atol=1e-5)
    # Fine styles change less of the image than coarse ones.
    fine = art.style_mix(model, [1], [3], layers="fine")[1, 1]
    assert np.abs(fine - grid[1, 0]).max() > 0


def test_style_mix_refuses_other_models():
    with pytest.raises(ValueError, match="StyleGAN"):
        art.style_mix(ganzoo.load("dcgan_mnist", **{"generator.filters": 8, "discriminator.filters": 8}), [1], [2])


def test_stylemix_command_writes_the_grid_with_provenance(model_file, tmp_path, capsys):
    _, path = model_file
    out = tmp_path / "mix.png"
    assert main(["stylemix", str(path), "--rows", "1,2,3", "--cols", "4-6", "--layers", "0-1",
                 "--truncation", "0.7", "-o", str(out)]) == 0
    image = Image.open(out)
    pad = 2
    assert image.size == (4 * (16 + pad) + pad, 4 * (16 + pad) + pad)
    meta = read_metadata(out)
    assert meta["model"] == "stylegan_mnist" and len(meta["weights_sha256"]) == 64
    assert meta["rows"] == [1, 2, 3] and meta["cols"] == [4, 5, 6] and meta["style_indices"] == [0, 1]
    assert meta["truncation"] == 0.7 and meta["noise"] == "const"
    assert "4x4" in capsys.readouterr().out
    assert main(["stylemix", str(path), "--rows", "1", "--cols", "x", "-o", str(out)]) == 2
    assert main(["stylemix", str(path), "--rows", "1", "--cols", "2", "--layers", "0-99", "-o", str(out)]) == 2


def test_generate_draws_a_truncation_sweep_one_row_per_psi(model_file, tmp_path, capsys):
    model, path = model_file
    out = tmp_path / "sweep.png"
    assert main(["generate", str(path), "-n", "3", "--seed", "5", "--truncation", "1,0.5,0", "-o", str(out)]) == 0
    pad = 2
    image = np.asarray(Image.open(out).convert("L"), dtype=np.float32)
    assert image.shape == (3 * (16 + pad) + pad, 3 * (16 + pad) + pad)
    meta = read_metadata(out)
    assert meta["truncation"] == [1.0, 0.5, 0.0] and meta["seed"] == 5 and "psi" in meta["rows"]

    def cell(row, col):
        top, left = pad + row * (16 + pad), pad + col * (16 + pad)
        return image[top:top + 16, left:left + 16]

    # Row psi=0 is the average-w image in every column; row psi=1 keeps the latents apart.
    assert np.abs(cell(2, 0) - cell(2, 2)).max() <= 1
    assert np.abs(cell(0, 0) - cell(0, 2)).max() > 5
    # Each row is `generate` at its psi with the same seed (same latents in every row).
    expected = (model.generate(3, seed=5, truncation=0.5)[1] + 1) * 127.5
    assert np.abs(cell(1, 1) - expected[..., 0]).max() <= 2
    assert "truncation sweep" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse: not a number
        main(["generate", str(path), "-n", "2", "--truncation", "1,x", "-o", str(out)])
    assert "comma list" in capsys.readouterr().err
    for bad in (["--truncation", "1,0.5", "--separate"], ["--truncation", "1,5"]):
        assert main(["generate", str(path), "-n", "2", *bad, "-o", str(out)]) == 2
