"""`ganzoo train` as a user lives it: a resumed run keeps the options it was started with
(unless given again), Ctrl-C prints the exact resume command, and failures the user causes
(out of memory, missing data, an unwritable -o) say what to do and leave nothing behind."""

import json
import os

import pytest
import tensorflow as tf

from ganzoo.checkpoint import CheckpointManager
from ganzoo.cli import main
from ganzoo.training import CheckpointEvery
from tests.test_faults import make_images, train_args


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("data") / "digits", 12)


def _steps(run):
    return [CheckpointManager.step_of(p) for p in CheckpointManager(run / "checkpoints").paths()]


def _options(run):
    return json.loads((run / "run_options.json").read_text())


def test_resume_reuses_the_run_options_and_an_explicit_one_wins(tmp_path, images, capsys):
    run = tmp_path / "run"
    # train_args passes --quiet; 3 steps per epoch, a checkpoint every 2 steps.
    assert main(train_args(images, run, "--checkpoint-every", "2", "--keep-checkpoints", "5", epochs=1)) == 0
    assert _steps(run) == [2, 3]
    capsys.readouterr()

    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert _steps(run) == [2, 3, 4, 6], "the resumed run forgot --checkpoint-every 2 (or --keep-checkpoints 5)"
    assert "━" not in out, "the resumed run forgot --quiet: it drew the progress bar"
    assert "continuing from step 3 of 6" in out
    options = _options(run)
    assert options["checkpoint_every"] == 2 and options["quiet"] is True and options["keep_checkpoints"] == 5

    # Given again, an option wins over the stored one and is stored: back to one per epoch, with a bar.
    assert main(["train", "--resume", str(run), "--epochs", "3", "--checkpoint-every", "0", "--no-quiet",
                 "--keep-checkpoints", "2"]) == 0
    out = capsys.readouterr().out
    assert _steps(run) == [6, 9]  # no step 8: per epoch; 2 kept
    assert "━" in out
    options = _options(run)
    assert options["checkpoint_every"] is None and options["quiet"] is False and options["keep_checkpoints"] == 2


def _interrupt_at(monkeypatch, step, error):
    original = CheckpointEvery.on_train_batch_end

    def on_train_batch_end(self, batch, logs=None):
        original(self, batch, logs)
        if self.step == step:
            raise error

    monkeypatch.setattr(CheckpointEvery, "on_train_batch_end", on_train_batch_end)


def test_ctrl_c_prints_the_resume_command_that_continues(tmp_path, images, monkeypatch, capsys):
    run = tmp_path / "my run"  # a space: the printed command quotes it
    _interrupt_at(monkeypatch, 4, KeyboardInterrupt())
    assert main(train_args(images, run, "--checkpoint-every", "2")) == 130
    err = capsys.readouterr().err
    assert "newest checkpoint is at step 4" in err
    command = f"ganzoo train --resume '{run}'"
    assert command in err
    monkeypatch.undo()
    assert main(["train", "--resume", str(run)]) == 0
    out = capsys.readouterr().out
    assert "continuing from step 4 of 6" in out
    assert _steps(run)[-1] == 6


def test_ctrl_c_before_the_first_checkpoint_leaves_no_run_folder(tmp_path, images, monkeypatch, capsys):
    run = tmp_path / "run"
    _interrupt_at(monkeypatch, 1, KeyboardInterrupt())
    assert main(train_args(images, run)) == 130
    assert "nothing to resume" in capsys.readouterr().err
    assert not run.exists()


def test_out_of_memory_is_one_line_naming_the_batch_size(tmp_path, images, monkeypatch, capsys):
    run = tmp_path / "run"
    _interrupt_at(monkeypatch, 1, tf.errors.ResourceExhaustedError(
        None, None, "OOM when allocating tensor with shape[4,64,14,14] and type float"))
    assert main(train_args(images, run)) == 2
    err = capsys.readouterr().err
    assert "out of memory with a batch of 4 images" in err and "--batch-size 2" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not run.exists(), "the failed run left its folder behind"


def test_missing_data_leaves_no_run_folder(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "dcgan_cifar10", "--data-dir", str(tmp_path / "empty"), "--out", str(run)]) == 2
    assert "TFDS_DATA_DIR" in capsys.readouterr().err
    assert not run.exists()


def test_sample_into_an_unwritable_place_names_the_users_path(tmp_path, capsys):
    folder_named_png = tmp_path / "grid.png"
    folder_named_png.mkdir()
    assert main(["sample", "gan_mnist", "-n", "2", "-o", str(folder_named_png)]) == 2
    err = capsys.readouterr().err
    assert str(folder_named_png) in err and ".tmp" not in err and "is a folder" in err

    blocker = tmp_path / "file.txt"
    blocker.write_text("a file")
    assert main(["sample", "gan_mnist", "-n", "2", "-o", str(blocker / "out.png")]) == 2
    err = capsys.readouterr().err
    assert f"{blocker} is a file, not a folder" in err and ".tmp" not in err

    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    probe = locked / "probe"
    try:
        probe.write_bytes(b"")
        probe.unlink()
        writable = True
    except OSError:
        writable = False
    if not writable:  # root ignores permission bits
        assert main(["sample", "gan_mnist", "-n", "2", "-o", str(locked / "out.png")]) == 2
        err = capsys.readouterr().err
        assert str(locked) in err and ".tmp" not in err
    assert not [p for p in tmp_path.rglob("*.tmp")]
