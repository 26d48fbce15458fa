"""Tests of ganzoo.data: TFDS (mocked and real MNIST), offline failures, folder sources.

Everything runs offline: tests/conftest.py sets GANZOO_OFFLINE=1 for every test, and the
TFDS tests use ``tfds.testing.mock_data``, which patches the normal ``tfds.load`` path.
"""

import importlib
import os
import socket
import sys
import threading

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from ganzoo import network
from ganzoo.config import Config
from ganzoo.data import DataError, load_dataset, scan_folder
from ganzoo.data import tfds as data_tfds
from tests.helpers import shared_tfds_dir
from tests.integration.test_layering import module_files, scan


def make_config(conditional=False, num_classes=10, **data):
    """A valid config with the given ``data`` section (mlp generator: any image size)."""
    raw = {"data": data, "generator": {"arch": "mlp"}, "train": {"batch_size": 8}}
    if conditional:
        raw["model"] = {"cls": "ConditionalGAN", "num_classes": num_classes}
    return Config.from_dict(raw)


def batches(ds):
    return [b for b in ds]


def assert_images(x, size, channels):
    x = np.asarray(x)
    assert x.dtype == np.float32
    assert x.shape[1:] == (size, size, channels)
    assert x.min() >= -1.0 and x.max() <= 1.0
    # Pixels went through uint8: (x + 1) * 127.5 is an integer.
    np.testing.assert_allclose((x + 1.0) * 127.5, np.round((x + 1.0) * 127.5), atol=1e-3)


# ====================================================================== mocked TFDS

def test_mock_mnist_shapes_dtype_range():
    with tfds.testing.mock_data(num_examples=40):
        ds = load_dataset(make_config(name="mnist", image_size=28, channels=1), batch_size=8)
        assert ds.element_spec.shape == (8, 28, 28, 1)  # static, for XLA
        got = batches(ds)
    assert len(got) == 5
    for x in got:
        assert_images(x, 28, 1)
    assert np.asarray(got[0]).min() < -0.5 < 0.5 < np.asarray(got[0]).max()  # really spans [-1, 1]


def test_mock_mnist_labels():
    with tfds.testing.mock_data(num_examples=40):
        ds = load_dataset(make_config(conditional=True, name="mnist", image_size=28, channels=1),
                          batch_size=8)
        images_spec, labels_spec = ds.element_spec
        assert labels_spec.shape == (8,) and labels_spec.dtype == tf.int32
        got = batches(ds)
    for x, y in got:
        assert_images(x, 28, 1)
        assert y.dtype == tf.int32 and y.shape == (8,)
        assert np.all((y.numpy() >= 0) & (y.numpy() < 10))


def test_mock_cifar10_rgb():
    with tfds.testing.mock_data(num_examples=16):
        x = next(iter(load_dataset(make_config(name="cifar10", image_size=32, channels=3), batch_size=8)))
    assert_images(x, 32, 3)


def test_mock_celeba_crop_and_resize():
    with tfds.testing.mock_data(num_examples=8):
        ds = load_dataset(make_config(name="celeb_a", image_size=64, channels=3, crop=140), batch_size=4)
        assert ds.element_spec.shape == (4, 64, 64, 3)
        got = batches(ds)
    assert len(got) == 2
    for x in got:
        assert_images(x, 64, 3)


def test_mock_mnist_as_rgb_and_cifar_as_gray():
    with tfds.testing.mock_data(num_examples=8):
        rgb = next(iter(load_dataset(make_config(name="mnist", image_size=32, channels=3), batch_size=8)))
        gray = next(iter(load_dataset(make_config(name="cifar10", image_size=16, channels=1), batch_size=8)))
    assert_images(rgb, 32, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 1])
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
    assert_images(gray, 16, 1)


def test_tfds_labels_missing_or_wrong_class_count():
    with tfds.testing.mock_data(num_examples=8):
        with pytest.raises(DataError, match="no label feature 'label'"):
            load_dataset(make_config(conditional=True, num_classes=2, name="celeb_a", image_size=64,
                                     channels=3, crop=140), batch_size=4)
        with pytest.raises(DataError, match="has 10 classes but model.num_classes is 7"):
            load_dataset(make_config(conditional=True, num_classes=7, name="mnist", image_size=28),
                         batch_size=4)


def test_center_crop_offsets():
    # A 218x178 image whose central 140x140 square is white and the rest black: the crop
    # (top 39, left 19, as for CelebA) keeps only white.
    image = np.zeros((218, 178, 3), np.uint8)
    image[39:179, 19:159] = 255
    out = data_tfds.tf_square_resize(tf.constant(image), 64, 3, 140).numpy()
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert out.min() == 255
    # Without crop: the center square of the short side (178), which includes black rows.
    out = data_tfds.tf_square_resize(tf.constant(image), 64, 3, None).numpy()
    assert out[0].max() == 0 and out[32, 32].min() == 255


# ====================================================================== real MNIST

def _real_tfds_dir():
    data_dir = shared_tfds_dir()  # raises under CI when MNIST is missing
    if data_dir is None:
        pytest.skip("real MNIST in TFDS format not found (set TFDS_DATA_DIR or provide ../shared/tfds/mnist)")
    return data_dir


def test_real_mnist_range_mean_and_limit():
    data_dir = _real_tfds_dir()
    config = make_config(name="mnist", image_size=28, channels=1, limit=1000)
    got = batches(load_dataset(config, data_dir=data_dir, batch_size=100))
    assert sum(int(x.shape[0]) for x in got) == 1000
    first = np.asarray(got[0])
    assert_images(first, 28, 1)
    assert first.min() == -1.0 and first.max() > 0.98
    mean = float(np.mean([np.mean(x) for x in got]))
    assert -0.78 < mean < -0.70, mean  # MNIST pixel mean 0.1307 -> 0.1307 * 2 - 1 = -0.739


def test_real_mnist_labels_cover_all_digits():
    data_dir = _real_tfds_dir()
    config = make_config(conditional=True, name="mnist", image_size=28, channels=1, limit=1000)
    labels = np.concatenate([y.numpy() for _, y in load_dataset(config, data_dir=data_dir, batch_size=100)])
    assert labels.dtype == np.int32 and labels.shape == (1000,)
    assert set(labels.tolist()) == set(range(10))


# ====================================================================== missing TFDS data

def test_missing_dataset_offline_fails_fast(tmp_path, monkeypatch):
    probes = []  # GANZOO_OFFLINE=1 (conftest) must skip the network probe entirely

    def probe(*args, **kwargs):
        probes.append(args)
        raise OSError("no network in tests")  # even a broken implementation must not download

    monkeypatch.setattr(socket, "create_connection", probe)
    with pytest.raises(DataError) as err:
        load_dataset(make_config(name="mnist", image_size=28), data_dir=str(tmp_path), download=None)
    assert probes == []  # fails fast by never trying: no probe, no download (no CPU-dependent time bound)
    message = str(err.value)
    assert "mnist" in message and str(tmp_path) in message
    assert "TFDS_DATA_DIR" in message and "data_dir" in message and "tfds build mnist" in message


def test_missing_celeba_explains_manual_files(tmp_path, monkeypatch):
    connections = []

    def record(*args, **kwargs):
        connections.append(args)
        raise OSError("no network in tests")

    monkeypatch.setattr(socket, "create_connection", record)
    with pytest.raises(DataError) as err:
        load_dataset(make_config(name="celeb_a", image_size=64, channels=3, crop=140), data_dir=str(tmp_path))
    assert connections == []  # explained at once: no download was tried
    message = str(err.value)
    for name in ("img_align_celeba.zip", "list_eval_partition.txt", "list_attr_celeba.txt",
                 "list_landmarks_align_celeba.txt", "identity_CelebA.txt"):
        assert name in message
    assert str(tmp_path / "downloads" / "manual") in message
    assert "Google Drive" in message and "TFDS_DATA_DIR" in message


def test_missing_dataset_download_false_and_env_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))  # read at call time, not at tfds import
    with pytest.raises(DataError, match="download=False") as err:
        load_dataset(make_config(name="cifar10", image_size=32, channels=3), download=False)
    assert str(tmp_path) in str(err.value)


def test_unknown_tfds_name_suggests_close_names(tmp_path):
    with pytest.raises(DataError, match="cifar10"):
        load_dataset(make_config(name="cifar_10", image_size=32, channels=3), data_dir=str(tmp_path))


def test_network_probe_gives_up_after_timeout(monkeypatch):
    monkeypatch.delenv("GANZOO_OFFLINE")
    monkeypatch.setattr(network, "PROBE_TIMEOUT", 0.2)
    release, finished = threading.Event(), threading.Event()

    def hanging_dns(*args, **kwargs):  # hangs until the test releases it (60 s at most)
        release.wait(60)
        finished.set()
        raise OSError("name resolution timed out")

    monkeypatch.setattr(socket, "create_connection", hanging_dns)
    try:
        assert network.network_reachable() is False
        # It answered while the lookup was still hanging: it gave up after its timeout rather
        # than waiting for the probe (no wall-clock bound, which would depend on the machine).
        assert not finished.is_set()
    finally:
        release.set()


# ====================================================================== folder source

def _save(path, image, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def _noise(size, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "L": 1}[mode]
    array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(array.squeeze(-1) if channels == 1 else array)


@pytest.fixture
def mixed_folder(tmp_path):
    root = tmp_path / "images"
    _save(root / "a.png", _noise((40, 30)))
    _save(root / "b.png", _noise((16, 16), seed=1))
    (root / "b_copy.png").write_bytes((root / "b.png").read_bytes())
    _save(root / "c.jpg", _noise((50, 50), seed=2), quality=90)
    _save(root / "nested" / "d.png", Image.new("RGBA", (20, 20), (0, 0, 0, 0)))  # fully transparent
    _save(root / "e.png", _noise((24, 24), "L", seed=3))
    _save(root / "f.gif", _noise((20, 20), seed=4).convert("P"))
    rng = np.random.default_rng(5)
    (root / "corrupt.png").write_bytes(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    (root / "notes.txt").write_text("not an image")
    return root


def test_folder_loads_every_readable_image_once(mixed_folder):
    config = make_config(source="folder", path=str(mixed_folder), image_size=16, channels=3)
    got = batches(load_dataset(config, batch_size=4, shuffle=False, drop_remainder=False))
    images = np.concatenate([np.asarray(x) for x in got])
    assert images.shape == (7, 16, 16, 3)
    assert_images(images, 16, 3)
    # Sorted path order: a, b, b_copy, c, e, f, nested/d (the transparent one) last.
    np.testing.assert_array_equal(images[1], images[2])  # the duplicate
    assert images[6].min() >= 0.99  # transparent composited on white -> 1.0


def test_folder_static_batches_and_seeded_shuffle(mixed_folder):
    config = make_config(source="folder", path=str(mixed_folder), image_size=16, channels=1)
    ds = load_dataset(config, batch_size=3, seed=1)
    assert ds.element_spec.shape == (3, 16, 16, 1)
    first = [np.asarray(x) for x in ds]
    assert len(first) == 2  # 7 images, remainder dropped
    again = [np.asarray(x) for x in load_dataset(config, batch_size=3, seed=1)]
    np.testing.assert_array_equal(first[0], again[0])


def test_scan_folder_report(mixed_folder):
    report = scan_folder(mixed_folder, image_size=32)
    assert report.files == 8  # the .txt is not a candidate
    assert report.readable == 7
    assert report.unreadable == [mixed_folder / "corrupt.png"]
    assert report.modes["RGBA"] == 1 and report.modes["L"] == 1 and report.modes["P"] == 1
    assert report.modes["RGB"] == 4
    assert report.sizes[(16, 16)] == 2 and report.sizes[(40, 30)] == 1
    assert report.too_small == 6  # all but the 50x50 JPEG
    assert report.duplicates == [[mixed_folder / "b.png", mixed_folder / "b_copy.png"]]
    assert report.classes == ["nested"]
    summary = report.summary()
    assert "unreadable" in summary and "corrupt.png" in summary and "duplicates" in summary


def test_folder_rgba_composited_on_white(tmp_path):
    image = np.zeros((8, 8, 4), np.uint8)
    image[:, :4] = (0, 0, 0, 0)  # transparent black -> white
    image[:, 4:] = (255, 0, 0, 255)  # opaque red
    _save(tmp_path / "half.png", Image.fromarray(image, "RGBA"))
    config = make_config(source="folder", path=str(tmp_path), image_size=8, channels=3)
    x = np.asarray(next(iter(load_dataset(config, batch_size=1))))[0]
    np.testing.assert_allclose(x[:, :4], 1.0, atol=0.01)
    np.testing.assert_allclose(x[:, 4:], np.broadcast_to([1.0, -1.0, -1.0], (8, 4, 3)), atol=0.01)


def test_folder_exif_orientation_and_animation_first_frame(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees: stored 20x10, shown 10x20
    _save(tmp_path / "rotated.jpg", _noise((20, 10)), exif=exif)
    frames = [Image.new("RGB", (8, 8), (255, 255, 255)), Image.new("RGB", (8, 8), (0, 0, 0))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert scan_folder(tmp_path).sizes == {(10, 20): 1, (8, 8): 1}
    config = make_config(source="folder", path=str(tmp_path), image_size=8, channels=1)
    x = np.asarray(next(iter(load_dataset(config, batch_size=2, shuffle=False))))
    assert x[0].min() >= 0.99  # anim.gif comes first: its white first frame


def test_folder_labels_from_sorted_subfolders(tmp_path):
    for i in range(3):
        _save(tmp_path / "zebra" / f"{i}.png", _noise((12, 12), seed=i))
    for i in range(2):
        _save(tmp_path / "ant" / f"{i}.png", _noise((12, 12), seed=10 + i))
    assert scan_folder(tmp_path).classes == ["ant", "zebra"]
    config = make_config(conditional=True, num_classes=2, source="folder", path=str(tmp_path),
                         image_size=8, channels=3)
    ds = load_dataset(config, batch_size=5, shuffle=False)
    assert ds.element_spec[1].shape == (5,) and ds.element_spec[1].dtype == tf.int32
    x, y = next(iter(ds))
    assert_images(x, 8, 3)
    assert y.numpy().tolist() == [0, 0, 1, 1, 1]  # ant before zebra

    wrong = make_config(conditional=True, num_classes=3, source="folder", path=str(tmp_path), image_size=8)
    with pytest.raises(DataError, match="2 class subfolders"):
        load_dataset(wrong, batch_size=5)


def test_folder_labels_need_subfolders(tmp_path):
    _save(tmp_path / "a.png", _noise((8, 8)))
    config = make_config(conditional=True, num_classes=2, source="folder", path=str(tmp_path), image_size=8)
    with pytest.raises(DataError, match="no class subfolders"):
        load_dataset(config, batch_size=1)


def test_folder_errors(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match="does not exist") as err:
        load_dataset(make_config(source="folder", path=str(missing), image_size=8), batch_size=1)
    assert str(missing) in str(err.value)

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"no image files.*\.png.*\.jpg"):
        load_dataset(make_config(source="folder", path=str(empty), image_size=8), batch_size=1)

    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(2):
        (broken / f"{i}.jpg").write_bytes(os.urandom(200))
    with pytest.raises(DataError, match="none of the 2 image files"):
        load_dataset(make_config(source="folder", path=str(broken), image_size=8), batch_size=1)

    few = tmp_path / "few"
    _save(few / "a.png", _noise((8, 8)))
    with pytest.raises(DataError, match="fewer than one batch"):
        load_dataset(make_config(source="folder", path=str(few), image_size=8), batch_size=4)


def test_folder_16bit_grayscale_is_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    _save(tmp_path / "deep.png", Image.fromarray(ramp))
    assert scan_folder(tmp_path).modes.keys() <= {"I;16", "I"}
    config = make_config(source="folder", path=str(tmp_path), image_size=8, channels=1)
    x = np.asarray(next(iter(load_dataset(config, batch_size=1))))[0, ..., 0]
    np.testing.assert_allclose(x, ramp / 65535 * 2 - 1, atol=0.01)


def test_name_resolved_through_the_registry(tmp_path):
    # The registry accepts a YAML path as well as an entry name; no zoo entry is assumed here.
    path = tmp_path / "tiny_mnist.yaml"
    path.write_text("generator: {arch: mlp}\ndata: {name: mnist, image_size: 16, channels: 1}\n"
                    "train: {batch_size: 4}\n")
    with tfds.testing.mock_data(num_examples=8):
        ds = load_dataset(str(path))
    assert ds.element_spec.shape == (4, 16, 16, 1)


# ====================================================================== the package

def test_data_is_a_package_below_models_training_and_evaluation():
    """ganzoo.data is a package of one-concern modules that import only config, the two
    registries, the leaf modules ganzoo.network and ganzoo.images, and each other (data sits below models, training, evaluation and the CLI), and
    none imports the package's own ``__init__``."""
    modules = module_files()
    assert modules["ganzoo.data"][1], "ganzoo.data is a package"
    members = {m for m in modules if m.startswith("ganzoo.data.")}
    assert {"ganzoo.data.loader", "ganzoo.data.pipeline", "ganzoo.data.tfds", "ganzoo.data.folder",
            "ganzoo.data.digits", "ganzoo.data.pairs", "ganzoo.data.errors"} <= members
    assert "ganzoo.data_io" not in modules  # internal before, so removed rather than kept as a shim
    _, edges = scan()
    # config and the two registries, and the leaf modules that own the network probe and the SR
    # degradation (ganzoo.network, ganzoo.images): data sits above the leaf layer
    allowed = members | {"ganzoo.config", "ganzoo.model_registry", "ganzoo.registry",
                         "ganzoo.network", "ganzoo.images"}
    for module in members | {"ganzoo.data"}:
        assert edges[module] <= allowed, f"{module} imports {sorted(edges[module] - allowed)}"
        if module != "ganzoo.data":
            assert "ganzoo.data" not in edges[module], f"{module} imports its package's __init__"


def test_public_names_of_ganzoo_data_keep_working():
    """Every public name ``from ganzoo.data import X`` gave before the split still does, and
    each helper is one object wherever it is imported from."""
    import ganzoo.data
    from ganzoo.data import digits, errors, folder, loader, pairs, pipeline

    before = {"DataError": errors, "FolderReport": folder, "IMAGE_EXTENSIONS": folder, "load_dataset": loader,
              "scan_folder": folder, "few_paths": errors, "read_folder": folder, "tf_square_resize": data_tfds,
              "tfds_load": data_tfds}
    for name, module in before.items():
        assert getattr(ganzoo.data, name) is getattr(module, name), name
    for name in ganzoo.data.__all__:
        assert hasattr(ganzoo.data, name), name
    assert ganzoo.data.read_image_file is folder.read_image_file
    # one home each, outside the package: the SR degradation and the offline probe
    from ganzoo import images, network

    assert pairs.bicubic_downscale is images.bicubic_downscale
    assert data_tfds.network_reachable is network.network_reachable
    assert not {"bicubic_downscale", "network_reachable"} & set(ganzoo.data.__all__)
    assert ganzoo.data.load_uci_digits is digits.load_uci_digits
    assert pipeline.batch_pipeline.__module__ == "ganzoo.data.pipeline"
    import ganzoo

    assert ganzoo.load_dataset is ganzoo.data.load_dataset


@pytest.mark.parametrize("old, new, names", [
    ("ganzoo.data_digits", "ganzoo.data.digits", ["load_uci_digits", "load_uci_domain_b", "uci_digit_grids",
                                                  "uci_domain_b_framing", "UCI_DIGITS_SPLITS"]),
    ("ganzoo.data_image2image", "ganzoo.data.pairs", ["load_image_to_image_dataset"]),
    ("ganzoo.data_image2image", "ganzoo.images", ["bicubic_downscale"]),
    ("ganzoo.data_image2image", "ganzoo.data.folder", ["read_image_file"]),
])
def test_old_module_names_warn_and_point_to_the_new_ones(monkeypatch, old, new, names):
    """The module names the README and an error message gave users still import, with a
    DeprecationWarning naming the new module, and give the very same objects."""
    monkeypatch.delitem(sys.modules, old, raising=False)  # the warning is raised on (re)import
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        shim = importlib.import_module(old)
    target = importlib.import_module(new)
    for name in names:
        assert getattr(shim, name) is getattr(target, name), name
        assert name in shim.__all__

