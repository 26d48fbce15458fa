"""``--backend tensorflow|jax``: the command line chooses Keras's backend before Keras is
imported, refuses a process whose Keras already runs another one, and ``train --resume`` keeps
the backend a run trained on. On JAX, ``ganzoo train cgan_mnist`` trains, resumes bitwise and
samples (a subprocess per command: Keras picks its backend once per process)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from ganzoo import cli
from ganzoo.checkpoint import CheckpointManager, read_state
from ganzoo.cli import choose_backend, main
from tests.helpers import CHECKOUT_PYTHONPATH, shared_tfds_dir

pytestmark = pytest.mark.both_backends

ROOT = Path(__file__).resolve().parents[1]
CURRENT = keras.backend.backend()
OTHER = {"tensorflow": "jax", "jax": "tensorflow"}[CURRENT]


def test_every_model_command_takes_backend_and_file_only_commands_do_not():
    parser = cli.build_parser()
    for argv in (["train", "x"], ["train", "--resume", "r"], ["sample", "x"], ["generate", "x"], ["eval", "x"],
                 ["export", "x", "-o", "o"], ["interpolate", "x"], ["demo"]):
        assert parser.parse_args([*argv, "--backend", "jax"]).backend == "jax", argv
        assert parser.parse_args(argv).backend is None
    for argv in (["list"], ["info", "dcgan_mnist"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*argv, "--backend", "jax"])
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "x", "--backend", "torch"])


def test_a_backend_keras_cannot_switch_to_is_one_clear_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "dcgan_mnist", "--backend", OTHER, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--backend {OTHER}: Keras is already imported in this process with the {CURRENT} backend" in err
    assert f"KERAS_BACKEND={OTHER}" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def _args(**kw):
    return cli.build_parser().parse_args(["train", *kw.pop("argv")])


def test_resume_keeps_the_runs_backend_unless_one_is_given(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run_options.json").write_text(json.dumps({"backend": OTHER, "quiet": True}))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    with pytest.raises(ValueError, match=f"the run's backend \\({OTHER}, from its run_options.json"):
        choose_backend(_args(argv=["--resume", str(run)]))
    choose_backend(_args(argv=["--resume", str(run), "--backend", CURRENT]))  # given: it wins
    monkeypatch.setenv("KERAS_BACKEND", CURRENT)
    choose_backend(_args(argv=["--resume", str(run)]))  # an exported KERAS_BACKEND wins too
    (run / "run_options.json").write_text(json.dumps({"backend": CURRENT}))
    monkeypatch.delenv("KERAS_BACKEND")
    choose_backend(_args(argv=["--resume", str(run)]))


def test_an_unknown_keras_backend_is_refused_by_model_commands(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    with pytest.raises(ValueError, match="KERAS_BACKEND=torch: ganzoo runs on tensorflow or jax"):
        choose_backend(_args(argv=["x"]))
    choose_backend(cli.build_parser().parse_args(["list"]))  # reads files only: no Keras


def test_backend_is_set_before_keras_is_imported(tmp_path):
    code = ("import sys; from ganzoo import cli; args = cli.build_parser().parse_args(['sample', 'x', '--backend', "
            f"'{OTHER}']); cli.choose_backend(args); assert 'keras' not in sys.modules; import keras; "
            "print(keras.backend.backend())")
    # GANZOO_LAZY_IMPORT=1: `import ganzoo` leaves Keras unimported, as it does in the `ganzoo` command.
    env = dict(os.environ, PYTHONPATH=CHECKOUT_PYTHONPATH, GANZOO_LAZY_IMPORT="1",
               KERAS_BACKEND=CURRENT)  # the flag wins over the variable
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == OTHER


# ------------------------------------------------------------- cgan_mnist on JAX from the command line

MNIST = shared_tfds_dir()


def _ganzoo(*argv, backend_env=None):
    env = dict(os.environ, PYTHONPATH=CHECKOUT_PYTHONPATH, TF_CPP_MIN_LOG_LEVEL="2", TFDS_DATA_DIR=MNIST or "")
    env.pop("KERAS_BACKEND", None)
    if backend_env:
        env["KERAS_BACKEND"] = backend_env
    done = subprocess.run([sys.executable, "-m", "ganzoo", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, f"ganzoo {' '.join(argv)}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def _weights(path):
    model = keras.saving.load_model(str(path))
    slots = model.g_optimizer.variables + model.d_optimizer.variables
    return {v.path: np.asarray(v.numpy()) for v in model.variables + slots}


@pytest.mark.slow
@pytest.mark.skipif(MNIST is None, reason="real MNIST not found (../shared/tfds)")
@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
                    reason="drives the CLI with --backend jax in subprocesses: runs once, in the TensorFlow phase")
def test_cgan_mnist_trains_resumes_bitwise_and_samples_on_jax(tmp_path):
    pytest.importorskip("jax")
    reference = tmp_path / "reference"
    out = _ganzoo("train", "cgan_mnist", "--backend", "jax", "--out", str(reference), "--epochs", "2", "--steps", "3",
                  "--batch-size", "8", "--set", "data.limit=64", "--checkpoint-every", "2", "--keep-checkpoints", "5",
                  "--deterministic", "--quiet", "--nearest-every", "0", backend_env="tensorflow")  # the flag wins
    assert "epoch(s) on jax" in out
    assert json.loads((reference / "run_options.json").read_text())["backend"] == "jax"
    assert [CheckpointManager.step_of(p) for p in CheckpointManager(reference / "checkpoints").paths()] == [2, 4, 6]

    # A run stopped after step 2 (mid-epoch 1), resumed without --backend: on the run's backend, bitwise.
    resumed = tmp_path / "resumed"
    shutil.copytree(reference, resumed)
    (resumed / "model.keras").unlink()
    for path in CheckpointManager(resumed / "checkpoints").paths()[1:]:
        path.unlink()
    out = _ganzoo("train", "--resume", str(resumed), "--quiet")
    assert "continuing from step 2 of 6" in out and "epoch(s)" in out and "note:" not in out
    state, expected_state = read_state(resumed / "model.keras"), read_state(reference / "model.keras")
    assert state["step"] == 6 and state["seed_generators"] == expected_state["seed_generators"]
    expected, got = _weights(reference / "model.keras"), _weights(resumed / "model.keras")
    assert expected.keys() == got.keys()
    for key in expected:  # generator, discriminator, EMA generator, optimizer slots
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)

    grid = tmp_path / "grid.png"
    out = _ganzoo("sample", str(resumed), "--backend", "jax", "-n", "8", "--labels", "0-7", "-o", str(grid))
    assert grid.is_file() and grid.stat().st_size > 0
