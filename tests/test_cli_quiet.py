"""A fast, quiet command line: the commands that only read files (``--help``, ``list``,
``info NAME``) import neither TensorFlow nor Keras, and a training and a sampling print only
ganzoo's and Keras' own lines (no absl/CUDA start-up chatter, no Keras shuffle warning, no
repeated data warning). Timings are measured by ``benchmarks/cli_latency.py``, not here.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ganzoo.cli import main
from ganzoo.quiet import is_noise
from tests.helpers import CHECKOUT_PYTHONPATH
from tests.test_faults import make_images

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "tensorflow_datasets", "scipy")
TINY_SET = ["--set", "generator.filters=8", "--set", "discriminator.filters=8", "--set", "model.latent_dim=8"]
#: What TensorFlow 2.21 printed on every `ganzoo train` before (see ganzoo/quiet.py).
NOISE = ("absl::InitializeLog", "cudart_stub", "cuInit", "cpu_feature_guard", "oneDNN custom operations",
         "To enable the following instructions", "shuffle=True", "UserWarning")
ABSL_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]")


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=CHECKOUT_PYTHONPATH, **extra)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user who never heard of it
    env.pop("GANZOO_LAZY_IMPORT", None)
    return env


def _imported_modules(*argv):
    """(result, top-level modules imported) of ``python -X importtime -m ganzoo ARGV``."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "ganzoo", *argv], cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=300)
    modules = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in out.stderr.splitlines()
               if line.startswith("import time:")}
    return out, modules


@pytest.mark.parametrize("argv, expected", [
    (["--help"], "stylemix"),
    (["list"], "Radford et al. 2016"),
    (["info", "dcgan_mnist"], "dcgan_mnist.weights.h5"),
])
def test_file_only_commands_import_no_tensorflow(argv, expected):
    out, modules = _imported_modules(*argv)
    assert out.returncode == 0, out.stderr[-2000:]
    assert expected in out.stdout
    assert "ganzoo" in modules  # the measurement saw the package
    assert not modules & set(HEAVY), f"`ganzoo {' '.join(argv)}` imported {sorted(modules & set(HEAVY))}"


def test_info_describes_an_entry_and_its_bundled_weights(capsys):
    assert main(["info", "dcgan_mnist", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    meta = json.loads((ROOT / "src" / "ganzoo" / "pretrained" / "dcgan_mnist.json").read_text())
    assert info["entry"] == "dcgan_mnist" and info["paper"].startswith("Radford et al. 2016")
    assert info["model"] == "GAN (non_saturating loss)" and info["data"] == "TFDS mnist, 28x28x1"
    assert f"{meta['steps']} steps" in info["pretrained"]
    assert f"coverage {meta['evaluation']['metrics']['coverage']}" in info["scores"]
    assert main(["info", "stylegan_celeba"]) == 0  # an entry without bundled weights
    assert "none bundled" in capsys.readouterr().out
    assert main(["info", "dcgan_mnst"]) == 2
    assert "Closest: dcgan_mnist" in capsys.readouterr().err
    assert main(["info", "missing.png"]) == 2
    assert "missing.png: does not exist" in capsys.readouterr().err


def test_noise_filter_keeps_errors_and_python_output():
    pre = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
    info = b"I0000 00:00:1795866276.442888   10660 cudart_stub.cc:31] Could not find cuda drivers on your machine"
    cuinit = b"E0000 00:00:1795866393.358411   11838 cuda_platform.cc:52] failed call to cuInit: INTERNAL"
    real_error = b"E0000 00:00:1795866393.358411   11838 bfc_allocator.cc:12] Allocator ran out of memory"
    assert is_noise(pre, 2) and is_noise(info, 2) and is_noise(cuinit, 2)
    assert not is_noise(real_error, 2)
    assert not is_noise(b"Traceback (most recent call last):", 2) and not is_noise(b"E: a user line", 2)
    assert is_noise(b"To enable the following instructions: AVX2", 2, previous_dropped=True)
    assert not is_noise(b"To enable the following instructions: AVX2", 2, previous_dropped=False)
    assert not is_noise(cuinit, 1) and is_noise(info, 1)  # the user's own level is respected
    assert not any(is_noise(line, 0) for line in (pre, info, cuinit))


def _check_quiet(result, what):
    assert result.returncode == 0, f"{what} failed:\n{result.stderr[-3000:]}"
    text = result.stdout + result.stderr
    for fragment in NOISE:
        assert fragment not in text, f"{what} printed {fragment!r}:\n{text[-3000:]}"
    for line in text.splitlines():
        assert not ABSL_LINE.match(line), f"{what} printed absl chatter: {line}"
    err_lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(err_lines) == len(set(err_lines)), f"{what} printed a line twice:\n{result.stderr}"


@pytest.mark.slow  # an end-to-end run in a subprocess: the slow CI phase, beside the long proofs
def test_train_and_sample_print_no_tensorflow_noise(tmp_path):
    data = make_images(tmp_path / "data", 8, size=(20, 20))  # smaller than 28 px: upscaled (warned once)
    run, grid = tmp_path / "run", tmp_path / "grid.png"
    train = subprocess.run([sys.executable, "-m", "ganzoo", "train", "dcgan_mnist", "--data-path", str(data),
                            "--epochs", "2", "--steps", "2", "--batch-size", "4", "--out", str(run), "--quiet",
                            *TINY_SET], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    _check_quiet(train, "ganzoo train")
    assert "Epoch 2/2" in train.stdout and "done:" in train.stdout
    assert train.stderr.count("were upscaled") <= 1, train.stderr
    sample = subprocess.run([sys.executable, "-m", "ganzoo", "sample", str(run), "-n", "4", "-o", str(grid)],
                            cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    _check_quiet(sample, "ganzoo sample")
    assert grid.is_file() and f"wrote 4 images to {grid}" in sample.stdout
