"""CycleGAN: networks, losses, the image pool, one training step, save/load, translation,
unpaired data pipelines and the learning-rate schedule."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

import keras

import ganzoo
from ganzoo.builders import build_model, compile_model, make_optimizers
from ganzoo.data import DataError
from ganzoo.models import CycleGAN, ImagePool
from ganzoo.networks.cyclegan import ReflectionPadding2D, build_patchgan_discriminator, build_resnet_generator
from ganzoo.schedules import ConstantThenLinearDecay
from tests.helpers import tiny_config


def _identity_network():
    x = keras.Input((None, None, 3))
    return keras.Model(x, x)


def _scaling_network(factor):
    x = keras.Input((None, None, 3))
    return keras.Model(x, keras.layers.Rescaling(factor)(x))


def _tiny_cyclegan(**kwargs):
    config = tiny_config("cyclegan_monet2photo", **kwargs)
    model = build_model(config)
    compile_model(model, config)
    return model, config


# ---------------------------------------------------------------------- networks

def test_resnet_generator_keeps_any_size_that_is_a_multiple_of_4():
    g = build_resnet_generator(filters=8, residual_blocks=2)
    out = g(np.random.default_rng(0).uniform(-1, 1, (2, 32, 48, 3)).astype(np.float32)).numpy()
    assert out.shape == (2, 32, 48, 3) and np.all(np.abs(out) <= 1)
    assert sum(layer.name.endswith("_conv1") for layer in build_resnet_generator(filters=4).layers) == 9  # paper


def test_patchgan_sees_70x70_patches_30x30_logits_on_256():
    d = build_patchgan_discriminator(filters=4)
    assert d(np.zeros((1, 256, 256, 3), np.float32)).shape == (1, 30, 30, 1)
    assert d(np.zeros((2, 32, 32, 3), np.float32)).shape == (2, 2, 2, 1)
    # Receptive field (without instance norm, whose statistics span the image): a pixel reaches
    # exactly the logits whose 70x70 patch covers it. Logit i sees rows 8i - 23 ... 8i + 46.
    d = build_patchgan_discriminator(filters=4, norm="none")
    base = np.zeros((1, 256, 256, 3), np.float32)
    for pixel, span in ((0, slice(0, 3)), (100, slice(7, 16))):
        poked = base.copy()
        poked[0, pixel, pixel] = 1.0
        changed = np.abs(d(poked).numpy() - d(base).numpy())[0, :, :, 0] > 0
        expected = np.zeros((30, 30), bool)
        expected[span, span] = True
        np.testing.assert_array_equal(changed, expected)
    assert 8 * 15 + 46 - (8 * 7 - 23) + 1 == 8 * 8 + 70  # 9 logits of 70 px, 8 px apart


def test_reflection_padding_mirrors():
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    out = ReflectionPadding2D(1)(x).numpy()[0, :, :, 0]
    assert out.shape == (5, 5) and out[0].tolist() == [4, 3, 4, 5, 4]


# ---------------------------------------------------------------------- losses and pool

def test_cycle_loss_of_an_identity_pair_is_zero_and_golden_otherwise():
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    d = build_patchgan_discriminator(filters=4)
    same = CycleGAN(_identity_network(), _identity_network(), d, build_patchgan_discriminator(filters=4),
                    image_shape=(16, 16, 3), pool_size=0)
    assert float(same.cycle_loss(a, b)) == 0.0
    half = CycleGAN(_scaling_network(0.5), _identity_network(), d, build_patchgan_discriminator(filters=4),
                    image_shape=(16, 16, 3), pool_size=0)
    # |F(G(a)) - a| = |0.5 a - a| and |G(F(b)) - b| = |0.5 b - b|
    assert float(half.cycle_loss(a, b)) == pytest.approx(0.5 * (np.abs(a).mean() + np.abs(b).mean()), rel=1e-6)


def _compiled(pool):
    """The pool as a traced step runs it: a tf.function on TensorFlow; on JAX a jitted pure
    function of its state (``stateless_call``), the new buffer, count and seed written back."""
    if keras.backend.backend() != "jax":
        return tf.function(pool)
    import jax

    step = jax.jit(lambda state, x: pool.stateless_call([], state, x))

    def query(x):
        out, state = step([v.value for v in pool.non_trainable_variables], x)
        for variable, value in zip(pool.non_trainable_variables, state):
            variable.assign(value)
        return out

    return query


@pytest.mark.parametrize("graph, n", [(False, 40), (True, 600)])
def test_image_pool_fills_then_answers_with_stored_images_half_the_time(graph, n):
    pool = ImagePool(pool_size=4, image_shape=(1, 1, 1), seed=3)
    compiled = _compiled(pool) if graph else pool
    query = lambda x: keras.ops.convert_to_numpy(compiled(x))  # noqa: E731
    first = np.arange(4, dtype=np.float32).reshape(4, 1, 1, 1)
    np.testing.assert_array_equal(query(first), first)  # filling: returned unchanged and stored
    assert int(pool.count.numpy()) == 4
    np.testing.assert_array_equal(np.sort(pool.images.numpy().ravel()), [0, 1, 2, 3])

    new = (100 + np.arange(n, dtype=np.float32)).reshape(n, 1, 1, 1)  # all different from stored values
    out = query(new).ravel()
    from_pool = out != new.ravel()
    # Documented probability 0.5; binomial(600, 0.5) has sd 0.02, so 0.42-0.58 holds with p > 0.9999
    # (eager: 40 images, 0.2-0.8, p > 0.9999).
    assert (0.42 < from_pool.mean() < 0.58) if n == 600 else (0.2 < from_pool.mean() < 0.8)
    # Replay the documented rule image by image: a pooled answer is an image in the pool at
    # that moment, and the new image takes its place.
    contents = [0.0, 1.0, 2.0, 3.0]
    for value, image in zip(out, new.ravel()):
        if value != image:
            assert value in contents, f"answer {value} was not in the pool"
            contents[contents.index(value)] = float(image)
    assert sorted(pool.images.numpy().ravel().tolist()) == sorted(contents)
    assert int(pool.count.numpy()) == 4


def test_image_pool_of_size_zero_is_the_identity():
    pool = ImagePool(pool_size=0, image_shape=(2, 2, 3))
    x = np.random.default_rng(0).uniform(-1, 1, (3, 2, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(pool(x)), x)
    with pytest.raises(ValueError, match="probability"):
        ImagePool(4, (2, 2, 3), probability=1.5)


# ---------------------------------------------------------------------- training, saving, translating

def _pairs(n=4, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (n, size, size, 3)).astype(np.float32),
            rng.uniform(-1, 1, (n, size, size, 3)).astype(np.float32))


def test_one_step_trains_all_four_networks_fills_pools_and_round_trips(tmp_path):
    model, config = _tiny_cyclegan()
    assert model.pool_a.pool_size == 3 and model.domains == ["painting", "photo"]
    nets = [model.generator_ab, model.generator_ba, model.discriminator_a, model.discriminator_b]
    before = [[w.numpy().copy() for w in net.trainable_weights] for net in nets]
    a, b = _pairs()
    model.run_eagerly = True  # the graph path is the registry test's (tests/models/test_models.py)
    history = model.fit(tf.data.Dataset.from_tensors((a, b)), epochs=1, verbose=0)
    assert set(history.history) == {"g_loss", "d_loss", "adversarial_loss", "cycle_loss", "identity_loss"}
    assert all(np.isfinite(v[0]) for v in history.history.values())
    h = {k: v[0] for k, v in history.history.items()}
    assert h["g_loss"] == pytest.approx(h["adversarial_loss"] + 10 * h["cycle_loss"] + 5 * h["identity_loss"], rel=1e-5)
    for net, old in zip(nets, before):
        assert any(np.abs(o - w.numpy()).max() > 0 for o, w in zip(old, net.trainable_weights)), net.name
    assert int(model.pool_a.count.numpy()) == 3 and int(model.pool_b.count.numpy()) == 3  # batch 4, pool 3
    assert len(model.g_optimizer.variables) > 1 and int(model.g_optimizer.iterations.numpy()) == 1

    path = tmp_path / "cyclegan.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    # Equal weights (the pools' images and counts among them) and optimizer state after loading, and
    # training on: the per-class harness (tests/harness.py, run by tests/models/test_models.py).
    assert isinstance(again, CycleGAN) and again.domains == model.domains
    assert int(again.pool_a.count.numpy()) == 3
    photo = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    np.testing.assert_allclose(again.translate(photo, "photo2painting"), model.translate(photo, "b2a"), atol=1e-6)


def test_identity_weight_zero_skips_the_identity_terms():
    model, _ = _tiny_cyclegan(**{"model.identity_weight": 0.0, "model.pool_size": 0})
    model.run_eagerly = True
    history = model.fit(tf.data.Dataset.from_tensors(_pairs()), epochs=1, verbose=0)
    assert history.history["identity_loss"] == [0.0]


def test_translate_any_size_both_directions_and_clear_errors():
    model, _ = _tiny_cyclegan()
    photo = np.random.default_rng(2).integers(0, 256, (37, 53, 3), dtype=np.uint8)  # not a multiple of 4
    painting = model.translate(photo, direction="photo2painting")
    assert painting.shape == (37, 53, 3) and painting.dtype == np.float32 and np.abs(painting).max() <= 1
    np.testing.assert_array_equal(painting, model.translate(photo, direction="b2a"))
    assert np.abs(model.translate(photo, direction="painting2photo") - painting).max() > 0
    tiled = model.translate(photo, direction="photo2painting", tile=16, overlap=8)
    assert tiled.shape == (37, 53, 3)
    assert model.translate(photo[:2, :3], direction="a2b").shape == (2, 3, 3)  # tiny images work too
    with pytest.raises(ValueError, match="photo2painting"):
        model.translate(photo, direction="photo2monet")
    with pytest.raises(ValueError, match="3-channel"):
        model.translate(np.zeros((8, 8, 4), np.uint8))


# ---------------------------------------------------------------------- data

def _folder(root, n, size, seed, modes=("RGB",)):
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        mode = modes[i % len(modes)]
        shape = size if mode == "L" else size + (4 if mode == "RGBA" else 3,)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(root / f"{i:02d}.png")
    return root


def test_two_folders_give_unpaired_jittered_pairs(tmp_path):
    path_a = _folder(tmp_path / "paintings", 3, (40, 60), 0, modes=("RGB", "RGBA"))
    path_b = _folder(tmp_path / "photos", 7, (50, 44), 1, modes=("RGB", "L"))
    (path_b / "broken.jpg").write_bytes(b"garbage")
    config = tiny_config("cyclegan_monet2photo", **{"data.source": "folder", "data.path_a": str(path_a),
                                                    "data.path_b": str(path_b), "train.batch_size": 2})
    ds = ganzoo.load_dataset(config)
    batches = list(ds)
    assert len(batches) == 7 // 2  # an epoch is the larger domain (7 readable photos)
    a, b = batches[0]
    assert a.shape == (2, 32, 32, 3) and b.shape == (2, 32, 32, 3)
    assert float(tf.reduce_min(a)) >= -1 and float(tf.reduce_max(b)) <= 1
    again = list(ds)
    assert np.abs(again[0][0].numpy() - a.numpy()).max() > 0  # new crops/flips/order every epoch
    # The CycleGAN datasets' layout: data.path holding trainA/ and trainB/.
    (tmp_path / "mine").mkdir()
    path_a.rename(tmp_path / "mine" / "trainA")
    path_b.rename(tmp_path / "mine" / "trainB")
    config = tiny_config("cyclegan_monet2photo", **{"data.source": "folder", "data.path": str(tmp_path / "mine"),
                                                    "train.batch_size": 2})
    assert len(list(ganzoo.load_dataset(config))) == 3


def test_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(ganzoo.ConfigError, match="path_a"):
        tiny_config("cyclegan_monet2photo", **{"data.source": "folder"})
    empty = tmp_path / "empty"
    empty.mkdir()
    photos = _folder(tmp_path / "photos", 2, (40, 40), 0)
    config = tiny_config("cyclegan_monet2photo", **{"data.source": "folder", "data.path_a": str(empty),
                                                    "data.path_b": str(photos)})
    with pytest.raises(DataError, match="holds no image files"):
        ganzoo.load_dataset(config)
    (empty / "bad.png").write_bytes(b"nope")
    with pytest.raises(DataError, match="could be read"):
        ganzoo.load_dataset(config)
    config = tiny_config("cyclegan_monet2photo", **{"data.source": "folder", "data.path_a": str(tmp_path / "nope"),
                                                    "data.path_b": str(photos)})
    with pytest.raises(DataError, match="does not exist"):
        ganzoo.load_dataset(config)


def test_tfds_cycle_gan_splits_on_mock_data():
    config = tiny_config("cyclegan_horse2zebra")
    with tfds.testing.mock_data(num_examples=10):
        a, b = next(iter(ganzoo.load_dataset(config)))
        assert a.shape == (4, 32, 32, 3) and b.shape == (4, 32, 32, 3)
        assert len(list(ganzoo.load_dataset(config))) == 10 // 4  # epoch: the larger domain
        test_split = tiny_config("cyclegan_horse2zebra", **{"data.split": "test"})
        assert next(iter(ganzoo.load_dataset(test_split)))[0].shape == (4, 32, 32, 3)  # testA / testB


def test_config_refuses_impossible_cyclegan_settings():
    with pytest.raises(ganzoo.ConfigError, match="model.domains"):
        ganzoo.get_config("cyclegan_monet2photo", **{"model.domains": ["photo2", "x"]})
    with pytest.raises(ganzoo.ConfigError, match="multiple of 4"):
        ganzoo.get_config("cyclegan_monet2photo", **{"data.image_size": 30, "data.load_size": 30})
    with pytest.raises(ganzoo.ConfigError, match="load_size"):
        ganzoo.get_config("cyclegan_monet2photo", **{"data.load_size": 200})
    with pytest.raises(ganzoo.ConfigError, match="patchgan"):
        ganzoo.get_config("cyclegan_monet2photo", **{"discriminator.arch": "dcgan"})
    # Switching to a constant rate drops the entry's delayed decay; asking for one with it is refused.
    assert ganzoo.get_config("cyclegan_monet2photo", **{"train.lr_schedule": "constant"}).train.decay_start == 0
    with pytest.raises(ganzoo.ConfigError, match="lr_schedule: linear"):
        ganzoo.get_config("cyclegan_monet2photo", **{"train.lr_schedule": "constant", "train.decay_start": 5})


# ---------------------------------------------------------------------- schedule

def test_constant_then_linear_decay():
    schedule = ConstantThenLinearDecay(2e-4, decay_start=100, decay_steps=100)
    values = [float(schedule(s)) for s in (0, 100, 150, 200, 500)]
    np.testing.assert_allclose(values, [2e-4, 2e-4, 1e-4, 0.0, 0.0], atol=1e-12)
    again = ConstantThenLinearDecay.from_config(schedule.get_config())
    assert float(again(175)) == pytest.approx(0.5e-4)
    g_opt, d_opt = make_optimizers(ganzoo.get_config("cyclegan_horse2zebra"))
    assert g_opt.beta_1 == 0.5
    sched = g_opt._learning_rate
    assert isinstance(sched, ConstantThenLinearDecay)
    assert sched.decay_start == 100 * 1334 and sched.decay_steps == 100 * 1334  # 100 + 100 epochs of 1334
