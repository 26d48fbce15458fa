"""The command line: list, train (all run-folder artefacts), sample, and clear errors."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from ganzoo.cli import main
from ganzoo.commands.common import cycle_labels, parse_labels
from ganzoo.images import read_metadata
from tests.helpers import CHECKOUT_PYTHONPATH

TINY_SET = ["--set", "generator.filters=8", "--set", "discriminator.filters=8", "--set", "model.latent_dim=8"]


def test_list_prints_every_entry(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "cgan_mnist" in out and "Mirza & Osindero 2014" in out and "wgan_gp_cifar10" in out
    assert main(["list", "wgan*", "--names"]) == 0
    assert capsys.readouterr().out.split() == ["wgan_gp_cifar10", "wgan_gp_mnist", "wgan_mnist"]


def test_train_writes_run_folder_then_sample(tmp_path, capsys):
    run = tmp_path / "run"
    with tfds.testing.mock_data(num_examples=40):
        code = main(["train", "cgan_mnist", "--epochs", "2", "--steps", "2", "--batch-size", "4", "--out", str(run),
                     "--quiet", "--set", "train.learning_rate=3e-4", *TINY_SET])
    assert code == 0
    for name in ("config.yaml", "model.keras", "log.csv", "losses.png", "samples/epoch_0001.png",
                 "samples/epoch_0002.png", "checkpoints/ckpt-00000004.keras"):
        assert (run / name).is_file(), name
    assert (run / "tensorboard").is_dir()
    assert "learning_rate: 0.0003" in (run / "config.yaml").read_text()
    log = (run / "log.csv").read_text().splitlines()
    assert log[0].split(",")[:1] == ["epoch"] and len(log) == 3 and "d_loss" in log[0]

    out = tmp_path / "grid.png"
    assert main(["sample", str(run), "-n", "20", "--seed", "1", "-o", str(out)]) == 0
    img = Image.open(out)
    # 10 per row for a 10-class model: 2 rows of 28px tiles plus 2px padding.
    assert img.size == (10 * 30 + 2, 2 * 30 + 2)
    meta = read_metadata(out)
    assert meta["seed"] == 1 and meta["labels"][:3] == [0, 1, 2]
    out2 = tmp_path / "grid2.png"
    assert main(["sample", str(run / "model.keras"), "-n", "20", "--seed", "1", "-o", str(out2)]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(out2)))


@pytest.mark.parametrize("argv, fragment", [
    (["train", "cgan_mnst"], "Closest: cgan_mnist"),
    (["train", "cgan_mnist", "--set", "train.lerning_rate=1"], "did you mean 'learning_rate'"),
    (["train", "cgan_mnist", "--batch-size", "-3"], "train.batch_size"),
    (["train", "cgan_mnist", "--set", "oops"], "key=value"),
    (["train", "cgan_mnist", "--set", "train.cpu_threads=[0,2]"], "train.cpu_threads: must be auto, tensorflow"),
    (["sample", "/nonexistent/run"], "neither a run folder"),
    (["sample", "cgan_mnist", "--labels", "a-b"], "--labels"),
    (["sample", "gan_mnist", "-n", "0"], "-n must be a positive"),
])
def test_bad_input_is_one_clear_line(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_train_says_its_precision_and_thread_layout(monkeypatch, capsys):
    from ganzoo import precision
    from ganzoo.commands.train import _precision_and_threads
    from ganzoo.registry import get_config

    calls = []
    monkeypatch.setattr(precision, "configure_cpu_threads", lambda *a: calls.append(a) or (1, 2))
    monkeypatch.setattr(precision, "resolve_precision", lambda name: "mixed_bfloat16")
    _precision_and_threads(get_config("cgan_mnist", **{"train.precision": "auto"}))
    assert calls == [("auto", "auto", "auto")]  # cpu_threads, precision, jit_compile of the config
    assert capsys.readouterr().out.strip() == ("precision: mixed_bfloat16 (auto); TensorFlow CPU threads: 1 per op, "
                                               "2 ops at a time (train.cpu_threads)")
    monkeypatch.setattr(precision, "configure_cpu_threads", lambda *a: None)
    monkeypatch.setattr(precision, "resolve_precision", lambda name: name)
    _precision_and_threads(get_config("cgan_mnist"))
    assert capsys.readouterr().out == ""  # float32 with TensorFlow's threads: nothing to say


def test_train_missing_data_fails_fast_with_instructions(tmp_path, capsys):
    code = main(["train", "dcgan_cifar10", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "r")])
    assert code == 2
    assert "TFDS_DATA_DIR" in capsys.readouterr().err


def test_label_parsing():
    assert parse_labels("3") == 3
    assert parse_labels("0-3") == [0, 1, 2, 3]
    assert parse_labels("1,5,7-8") == [1, 5, 7, 8]
    assert cycle_labels([1, 2], 5) == [1, 2, 1, 2, 1]
    with pytest.raises(ValueError):
        parse_labels("5-1")


def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "ganzoo", "list", "--names"], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, PYTHONPATH=CHECKOUT_PYTHONPATH))
    assert out.returncode == 0 and "dcgan_mnist" in out.stdout.split()


def test_loss_plot_leaves_the_matplotlib_backend_alone(tmp_path):
    import matplotlib

    from ganzoo.callbacks import LossPlot

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands in for a notebook's inline backend; training must not switch it
    try:
        plot = LossPlot(tmp_path / "losses.png")
        plot.on_epoch_end(0, {"d_loss": 1.0, "g_loss": 2.0})
        plot.on_epoch_end(1, {"d_loss": 0.5, "g_loss": 1.5})
        assert (tmp_path / "losses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
