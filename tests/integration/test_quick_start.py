"""README's "Start here" path, run end to end as a newcomer types it (in subprocesses, on a
folder of 16 grey PNGs, shrunk by --set overrides to a few steps), and the quick-start
benchmark measuring that same command. No timing is asserted (benchmarks/quick_start.py
measures it)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import CHECKOUT_PYTHONPATH, shared_tfds_dir

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
#: The CLI's own overrides that shrink the run to seconds (the README's command has none).
TINY_RUN = ["--epochs", "1", "--steps", "2", "--batch-size", "4", "--quiet", "--jit", "off",
            "--set", "generator.filters=8", "--set", "discriminator.filters=8", "--set", "model.latent_dim=8"]


def _start_here():
    section = README.split("## Start here", 1)[1].split("\n## ", 1)[0]
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("ganzoo "):
                lines.append(shlex.split(line)[1:])
    return section, lines


def _ganzoo(args, **kwargs):
    env = dict(os.environ, PYTHONPATH=CHECKOUT_PYTHONPATH, GANZOO_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-m", "ganzoo", *args], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=600, **kwargs)
    assert out.returncode == 0, f"`ganzoo {shlex.join(args)}` failed ({out.returncode}):\n{out.stderr[-3000:]}"
    return out


def test_start_here_names_the_quick_cpu_recipe_first_with_its_cost():
    section, commands = _start_here()
    trains = [c for c in commands if c[0] == "train"]
    assert trains, "Start here shows no `ganzoo train` command"
    assert trains[0][1] == "dcgan_folder_quick", "the newcomer's first command must be the quick CPU recipe"
    import ganzoo

    for command in trains:
        assert command[1] in ganzoo.list_models(), f"Start here trains an unknown entry: {command[1]}"
    # The cost of each recipe on a CPU is said next to it (minutes/hours, measured on a named CPU).
    for entry in ("dcgan_folder_quick", "dcgan_folder_64"):
        assert re.search(rf"`{entry}`[^\n]*\n?[^\n]*(min|hour|day)", section), f"Start here gives no cost for {entry}"


def test_the_benchmark_runs_the_readme_command():
    from benchmarks.quick_start import START_HERE

    train = next(c for c in _start_here()[1] if c[0] == "train")
    assert START_HERE == ["train", "{entry}", "--data-path", "{data}", "--out", "{run}"]
    assert [train[0], train[2], train[4]] == [START_HERE[0], START_HERE[2], START_HERE[4]] and len(train) == 6, (
        f"README's command {train} is not the one benchmarks/quick_start.py measures")


@pytest.fixture(scope="module")
def grey_folder(tmp_path_factory):
    """16 grey 28x28 PNG 'digits' (a bright stroke on black at random places)."""
    folder = tmp_path_factory.mktemp("pictures") / "my_pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(16):
        array = np.zeros((28, 28), np.uint8)
        r, c = rng.integers(4, 20, size=2)
        array[r:r + 6, c:c + 3] = 255
        Image.fromarray(array, mode="L").save(folder / f"{i:02d}.png")
    return folder


@pytest.mark.slow  # an end-to-end run in a subprocess: the slow CI phase, beside the long proofs
def test_start_here_end_to_end_on_a_grey_folder(tmp_path, grey_folder):
    _, commands = _start_here()
    train = next(c for c in commands if c[0] == "train")
    placeholders = {"my_pictures/": str(grey_folder), "my_pictures": str(grey_folder)}
    run = tmp_path / "runs" / "quick"
    args = [placeholders.get(a, a) for a in train]
    args[args.index("--out") + 1] = str(run)
    readme_run = train[train.index("--out") + 1]
    _ganzoo(args + TINY_RUN)

    grid = run / "samples" / "epoch_0001.png"
    assert grid.is_file() and (run / "model.keras").is_file() and (run / "checkpoints").is_dir()
    with Image.open(grid) as img:  # an 8x8 grid of 32x32 tiles (with 2 px gaps)
        assert min(img.size) >= 8 * 32, img.size

    # Every `ganzoo sample` line of Start here, on this run.
    samples = [c for c in commands if c[0] == "sample"]
    assert samples, "Start here shows no `ganzoo sample` command"
    for command in samples:
        args = [str(run) if a.rstrip("/") == readme_run.rstrip("/") else a for a in command]
        args[args.index("-o") + 1] = str(tmp_path / "grid.png")
        out = _ganzoo(args)
        assert "generator" in out.stdout + out.stderr  # names the generator it used
        with Image.open(tmp_path / "grid.png") as img:
            assert img.mode == "RGB" and min(img.size) >= 32
            assert np.asarray(img).std() > 0  # not a blank picture


def test_quick_entry_is_a_cpu_sized_32px_folder_recipe():
    """The recipe the README promises: 32x32 from a folder, small networks, a budget of minutes."""
    import ganzoo

    c = ganzoo.get_config("dcgan_folder_quick")
    assert c.data.source == "folder" and c.data.image_size == 32
    assert c.generator.filters <= 32 and c.discriminator.filters <= 32
    assert c.model.ema_decay is not None and c.model.ema_rampup is not None  # samples from a warm EMA
    assert c.train.epochs * c.train.steps_per_epoch <= 6000


def test_grey_folder_keeps_one_channel_when_asked(grey_folder):
    """README: `--set data.channels=1` keeps grey pictures one-channel with the quick recipe."""
    import ganzoo
    from tests.helpers import tiny_config

    config = tiny_config("dcgan_folder_quick", **{"data.path": str(grey_folder), "data.channels": 1})
    images = next(iter(ganzoo.load_dataset(config, batch_size=4)))
    assert tuple(images.shape) == (4, 32, 32, 1)
    assert ganzoo.load(config).generate(2, seed=0).shape == (2, 32, 32, 1)


def test_benchmark_scoring_reads_digits_the_data_layer_made_32px():
    """The benchmark's 32x32 RGB -> 28x28 grey conversion keeps real digits readable by the
    shipped MNIST classifier (else its coverage/confidence would judge the conversion)."""
    data_dir = shared_tfds_dir()
    if data_dir is None:
        pytest.skip("real MNIST not available")
    import tensorflow_datasets as tfds

    from benchmarks.quick_start import to_classifier_input
    from ganzoo.data.folder import pil_to_array
    from ganzoo.evaluation.classifier import load_classifier

    ds = tfds.as_numpy(tfds.load("mnist", split="test[:64]", data_dir=data_dir, download=False))
    digits, labels = zip(*((e["image"][..., 0], e["label"]) for e in ds))
    # As `--data-path` reads a grey PNG for data.channels 3: RGB, Lanczos to 32x32.
    images = np.stack([pil_to_array(Image.fromarray(d, mode="L"), 32, 3, None) for d in digits])
    inputs = to_classifier_input(images.astype(np.float32) / 127.5 - 1.0)
    assert inputs.shape == (64, 28, 28, 1)
    probs = np.asarray(load_classifier("mnist_classifier")(inputs)[1])
    assert (probs.argmax(axis=1) == np.array(labels)).mean() >= 0.95
    assert probs.max(axis=1).mean() >= 0.9


def test_benchmark_runs_times_and_scores_a_tiny_run(tmp_path, monkeypatch):
    """benchmarks/quick_start.py end to end on 16 digits and a 2-epoch tiny run: the JSON has
    the timeline of grids and checkpoints and a score per mark (no value of either is asserted)."""
    data_dir = shared_tfds_dir()
    if data_dir is None:
        pytest.skip("real MNIST not available")
    import json

    from benchmarks.quick_start import main

    tiny = ["train.epochs=2", "train.steps_per_epoch=2", "train.batch_size=4", "generator.filters=8",
            "discriminator.filters=8", "model.latent_dim=8", "train.jit_compile=false"]
    out = tmp_path / "quick.json"
    monkeypatch.setenv("TFDS_DATA_DIR", data_dir)
    assert main(["--images", "16", "-n", "20", "--minutes", "5", "--marks", "0.001,5", "--work", str(tmp_path / "w"),
                 "--json", str(out), *[a for item in tiny for a in ("--set", item)]]) == 0
    report = json.loads(out.read_text())
    timeline = report["timeline"]
    assert timeline["returncode"] == 0 and timeline["stopped_by_ctrl_c_at_s"] is None
    assert sorted(timeline["sample_grids_s"]) == ["epoch_0001.png", "epoch_0002.png"]
    assert sorted(timeline["checkpoints_s"]) == ["ckpt-00000002.keras", "ckpt-00000004.keras"]
    early, late = report["scores"]
    assert early == {"minutes": 0.001, "checkpoint": None}  # nothing written by then
    assert late["step"] == 4 and sum(late["sampled"]["histogram"]) == 20
    assert 0.0 <= late["sampled"]["coverage"] <= 1.0 and 0.1 <= late["sampled"]["mean_max_prob"] <= 1.0
    assert report["machine"]["load_avg_before"] and "bar" in report and out.with_suffix(".png").is_file()
