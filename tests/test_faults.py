"""Faults and bad input: each gives a clear error (or a clear report) and loses nothing.

Covered: a config with a wrong key or type; a data path that does not exist; folders with
no images, only unreadable images, some unreadable images, mixed sizes and modes; resuming
a folder without checkpoints, with another entry's checkpoint, with a corrupt newest
checkpoint, after a crash mid-write; an unwritable output folder; a full disk while
checkpointing; a diverging run (NaN data, exploding learning rate); a collapsed
discriminator (warning).
"""

import errno
import json
import logging
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import ganzoo
from ganzoo import checkpoint as ckpt_module
from ganzoo.checkpoint import CheckpointManager, read_state
from ganzoo.cli import main
from ganzoo.guard import DivergenceGuard, TrainingDiverged
from ganzoo.training import train
from tests.helpers import tiny_config

# (no data.cache: these runs read a folder, held in memory, where the key is refused as unread)
TINY = ["--set", "generator.filters=8", "--set", "discriminator.filters=8", "--set", "model.latent_dim=8",
        "--batch-size", "4", "--quiet"]


def make_images(folder, n, size=(28, 28), mode="L", seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    channels = {"L": 1, "RGB": 3, "RGBA": 4, "LA": 2}
    for i in range(n):
        c = channels.get(mode, 1)
        array = rng.integers(0, 256, (size[1], size[0], c) if c > 1 else (size[1], size[0]), dtype=np.uint8)
        img = Image.fromarray(array)  # the mode follows the array: L, LA, RGB, RGBA
        if mode == "P":
            img = img.convert("P")
        elif mode == "I;16":
            img = Image.fromarray(array.astype(np.uint16) * 257)
        assert img.mode == mode, (img.mode, mode)
        img.save(folder / f"{mode.replace(';', '')}_{size[0]}x{size[1]}_{i}.png")
    return folder


def train_args(data, out, *extra, epochs=2, steps=3):
    return ["train", "dcgan_mnist", "--data-path", str(data), "--out", str(out), "--epochs", str(epochs),
            "--steps", str(steps), *TINY, *extra]


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("data") / "digits", 16)


@pytest.fixture(scope="module")
def finished_run(images, tmp_path_factory):
    """A finished tiny run: 2 epochs of 3 steps, a checkpoint every 2 steps (2, 4, 6)."""
    run = tmp_path_factory.mktemp("runs") / "run"
    assert main(train_args(images, run, "--checkpoint-every", "2")) == 0
    return run


def test_finished_run_layout(finished_run):
    names = [p.name for p in CheckpointManager(finished_run / "checkpoints").paths()]
    assert names == ["ckpt-00000002.keras", "ckpt-00000004.keras", "ckpt-00000006.keras"]
    state = read_state(finished_run / "checkpoints" / "ckpt-00000006.keras")
    assert (state["step"], state["epoch"], state["entry"]) == (6, 2, "dcgan_mnist")
    assert state["seed_generators"] and state["metrics"]
    assert (finished_run / "model.keras").read_bytes() == (finished_run / "checkpoints" / names[-1]).read_bytes()


# ---------------------------------------------------------------------- bad config, bad data

def test_config_with_wrong_key_or_type_fails_before_touching_the_run(tmp_path, images, capsys):
    out = tmp_path / "existing_run"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    before = snapshot(out)
    bad_key = tmp_path / "bad_key.yaml"
    bad_key.write_text("model: {latent_dim: 8}\ntrain: {lerning_rate: 0.001}\n")
    assert main(["train", str(bad_key), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad_key.yaml" in err and "unknown key 'train.lerning_rate'" in err and "did you mean 'learning_rate'" in err
    bad_type = tmp_path / "bad_type.yaml"
    bad_type.write_text("train: {batch_size: lots}\n")
    assert main(["train", str(bad_type), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "train.batch_size: expected int, got 'lots'" in err and "Traceback" not in err
    assert main(train_args(images, out, "--set", "train.precision=float64")) == 2
    assert "train.precision" in capsys.readouterr().err
    assert snapshot(out) == before


def test_data_path_that_does_not_exist(tmp_path, capsys):
    assert main(train_args(tmp_path / "nowhere", tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert "nowhere does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_folder_without_images_or_with_only_unreadable_images(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    assert main(train_args(empty, tmp_path / "r1")) == 2
    assert "holds no image files" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"not a png")
    (broken / "b.jpg").write_bytes(b"\xff\xd8\xff truncated jpeg")
    assert main(train_args(broken, tmp_path / "r2")) == 2
    assert "none of the 2 image files" in capsys.readouterr().err


def test_unreadable_images_are_skipped_with_a_count(tmp_path, caplog):
    data = make_images(tmp_path / "data", 12)
    (data / "corrupt1.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (data / "corrupt2.png").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="ganzoo.data"):
        assert main(train_args(data, tmp_path / "run", epochs=1, steps=2)) == 0
    assert "skipped 2 unreadable image files" in caplog.text
    assert (tmp_path / "run" / "model.keras").is_file()


def test_mixed_sizes_and_modes_are_converted(tmp_path):
    data = tmp_path / "mixed"
    for mode, size in (("RGBA", (40, 30)), ("LA", (28, 28)), ("P", (50, 50)), ("L", (20, 20)), ("RGB", (64, 48)),
                       ("I;16", (30, 30))):
        make_images(data, 2, size=size, mode=mode)
    for channels in (1, 3):
        config = tiny_config("dcgan_mnist", **{"data.source": "folder", "data.path": str(data),
                                               "data.channels": channels})
        batch = next(iter(ganzoo.load_dataset(config, batch_size=12, shuffle=False)))
        assert batch.shape == (12, 28, 28, channels)
        assert float(tf.reduce_min(batch)) >= -1.0 and float(tf.reduce_max(batch)) <= 1.0
    assert main(train_args(data, tmp_path / "run", "--set", "data.channels=3", epochs=1, steps=2)) == 0


# ---------------------------------------------------------------------- output folder

def test_output_folder_not_writable(tmp_path, images, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main(train_args(images, blocker / "run")) == 2
    assert "cannot create the run folder" in capsys.readouterr().err
    assert blocker.read_text() == "not a folder"
    if os.geteuid() != 0:  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main(train_args(images, locked)) == 2
        assert "not writable" in capsys.readouterr().err


def test_a_fresh_run_refuses_a_folder_with_checkpoints(finished_run, images, capsys):
    before = snapshot(finished_run)
    assert main(train_args(images, finished_run)) == 2
    assert "already holds checkpoints" in capsys.readouterr().err
    assert snapshot(finished_run) == before


# ---------------------------------------------------------------------- resume faults

def test_resume_without_checkpoint_or_run_folder(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    run = tmp_path / "run"
    run.mkdir()
    assert main(["train", "--resume", str(run)]) == 2
    assert "no config.yaml" in capsys.readouterr().err
    (run / "config.yaml").write_text(tiny_config("dcgan_mnist").to_yaml())
    assert main(["train", "--resume", str(run)]) == 2
    assert "no checkpoint in" in capsys.readouterr().err
    assert main(["train", "dcgan_mnist", "--resume", str(run)]) == 2
    assert "either an entry name or --resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--set", "train.learning_rate=1"]) == 2
    assert "cannot change a run being resumed" in capsys.readouterr().err


def test_checkpoint_from_another_entry_is_refused(finished_run, tmp_path, capsys):
    other = tmp_path / "other"
    (other / "checkpoints").mkdir(parents=True)
    (other / "config.yaml").write_text(tiny_config("gan_mnist").to_yaml())
    shutil.copy(finished_run / "checkpoints" / "ckpt-00000006.keras", other / "checkpoints")
    before = snapshot(other)
    assert main(["train", "--resume", str(other)]) == 2
    err = capsys.readouterr().err
    assert "written by a run of 'dcgan_mnist'" in err and "belongs to another run" in err
    assert snapshot(other) == before  # not quarantined, not overwritten


def test_corrupt_newest_checkpoint_falls_back_to_the_previous(finished_run, tmp_path, caplog):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    newest = run / "checkpoints" / "ckpt-00000006.keras"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # torn write
    stale = run / "checkpoints" / ".ckpt-00000008.4242.tmp.keras"  # a crash mid-write
    stale.write_bytes(b"half a zip")
    with caplog.at_level(logging.WARNING):
        assert main(["train", "--resume", str(run)]) == 0
    assert "ckpt-00000006.keras is unusable: not a valid .keras archive" in caplog.text
    assert "falling back to the previous checkpoint" in caplog.text
    assert "removed 1 unfinished checkpoint write" in caplog.text
    assert not stale.exists()
    assert (run / "checkpoints" / "ckpt-00000006.keras.corrupt").is_file()  # kept for inspection
    assert read_state(newest)["step"] == 6  # steps 5-6 retrained from ckpt 4
    log = (run / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch") and len(log) == 4  # 2 epochs + the retrained epoch 2 appended


def test_bitflip_is_caught_by_the_crc(finished_run, tmp_path):
    path = tmp_path / "ckpt-00000006.keras"
    data = bytearray((finished_run / "checkpoints" / "ckpt-00000006.keras").read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ckpt_module.CheckpointError):
        read_state(path)


def test_crash_during_a_checkpoint_write_leaves_the_previous_one(tmp_path, monkeypatch):
    model = ganzoo.load(tiny_config("dcgan_mnist"))
    config = tiny_config("dcgan_mnist")
    manager = CheckpointManager(tmp_path / "checkpoints")
    first = manager.save(model, 2, 0, config)

    def crash(model, path, state):
        path.write_bytes(b"PK\x03\x04 partial")
        raise KeyboardInterrupt  # the process is interrupted mid-write

    monkeypatch.setattr(ckpt_module, "_write_model_file", crash)
    with pytest.raises(KeyboardInterrupt):
        manager.save(model, 4, 1, config)
    assert manager.paths() == [first] and manager.stale_temporaries() == []
    assert manager.latest(config).step == 2


# ---------------------------------------------------------------------- disk full

def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, images, monkeypatch, capsys):
    real_write = ckpt_module._write_model_file
    calls = []

    def write_until_the_disk_is_full(model, path, state):
        calls.append(state["step"])
        if len(calls) == 1:
            return real_write(model, path, state)
        path.write_bytes(b"PK\x03\x04" + b"\0" * 1000)  # what fitted before ENOSPC
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(ckpt_module, "_write_model_file", write_until_the_disk_is_full)
    run = tmp_path / "run"
    assert main(train_args(images, run, "--checkpoint-every", "2")) == 4
    err = capsys.readouterr().err
    assert "could not write the checkpoint of step 4" in err and "the disk is full" in err
    assert "ckpt-00000002.keras is intact" in err
    manager = CheckpointManager(run / "checkpoints")
    assert [p.name for p in manager.paths()] == ["ckpt-00000002.keras"] and manager.stale_temporaries() == []
    model, ckpt = manager.load_latest(ganzoo.registry.get_config(str(run / "config.yaml")))
    assert ckpt.step == 2 and int(model.g_optimizer.iterations.numpy()) == 2
    assert not (run / "model.keras").exists()


# ---------------------------------------------------------------------- divergence

def test_nan_data_stops_training_naming_step_and_loss(tmp_path):
    config = tiny_config("dcgan_mnist", **{"train.epochs": 1, "train.steps_per_epoch": 6})
    x = np.random.default_rng(0).uniform(-1, 1, (6, 4, 28, 28, 1)).astype("float32")
    x[3, 0, 0, 0, 0] = np.nan  # the 4th batch
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged) as info:
        train(config, out=run, dataset=tf.data.Dataset.from_tensor_slices(x), checkpoint_every=2, verbose=0)
    err = info.value
    assert (err.step, err.name) == (4, "d_loss") and np.isnan(err.value)
    assert "training diverged at step 4: d_loss is nan" in str(err)
    assert str(run / "checkpoints" / "ckpt-00000002.keras") in str(err)
    assert [p.name for p in CheckpointManager(run / "checkpoints").paths()] == ["ckpt-00000002.keras"]
    assert not (run / "model.keras").exists()


def test_exploding_learning_rate_exits_3_and_keeps_the_last_good_checkpoint(tmp_path, images, capsys):
    run = tmp_path / "run"
    code = main(train_args(images, run, "--checkpoint-every", "1", "--set", "train.learning_rate=1e38",
                           "--set", "generator.norm=none", "--set", "discriminator.norm=none", epochs=3, steps=3))
    err = capsys.readouterr().err
    assert code == 3, err
    assert "training diverged at step" in err and (" is nan" in err or " is inf" in err)
    step = int(err.split("training diverged at step ")[1].split(":")[0])
    # G's loss of step 1 already sees D's exploded weights, so this usually stops at step 1;
    # a checkpoint is written every step, so the newest is the step before (if any).
    steps = [CheckpointManager.step_of(p) for p in CheckpointManager(run / "checkpoints").paths()]
    assert steps == list(range(max(1, step - 3), step))
    assert not (run / "model.keras").exists()


def test_discriminator_collapse_warning(caplog):
    class Model:
        loss_name = "non_saturating"
        stop_training = False

    guard = DivergenceGuard(collapse_threshold=1e-3, collapse_patience=5)
    guard.set_model(Model())
    with caplog.at_level(logging.WARNING, logger="ganzoo.guard"):
        for batch in range(4):
            guard.on_train_batch_end(batch, {"d_loss": 1e-4, "g_loss": 9.0})
        guard.on_train_batch_end(4, {"d_loss": 0.5, "g_loss": 1.0})  # recovers: the count restarts
        for batch in range(5, 10):
            guard.on_train_batch_end(batch, {"d_loss": 1e-5, "g_loss": 11.0})
    assert "possible discriminator collapse: d_loss has stayed below 0.001 for 5 steps (steps 6-10" in caplog.text
    assert guard.collapse_warned_at == 10
    wasserstein = DivergenceGuard(collapse_patience=1)
    wasserstein.set_model(type("W", (), {"loss_name": "wasserstein", "stop_training": False})())
    wasserstein.on_train_batch_end(0, {"d_loss": -5.0})
    assert wasserstein.collapse_warned_at is None
    with pytest.raises(TrainingDiverged, match="step 11: g_loss is inf"):
        guard.on_train_batch_end(10, {"d_loss": 0.1, "g_loss": float("inf")})


def test_state_member_records_what_keras_does_not_save(finished_run):
    state = json.loads(__import__("zipfile").ZipFile(finished_run / "model.keras").read(ckpt_module.STATE_MEMBER))
    assert set(state) >= {"step", "epoch", "entry", "identity", "seed_generators", "metrics"}
