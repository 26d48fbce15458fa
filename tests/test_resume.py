"""Exact resume: a run killed with SIGKILL mid-training and resumed ends with the step count
and (with op determinism) the weights of an uninterrupted run; resuming continues every
counter instead of restarting it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganzoo.checkpoint import CheckpointManager, read_state, seed_generators
from ganzoo.training import train
from tests.helpers import CHECKOUT_PYTHONPATH, tiny_config
from tests.test_faults import make_images

ROOT = Path(__file__).resolve().parents[1]
TINY_SET = ["--set", "generator.filters=8", "--set", "discriminator.filters=8", "--set", "model.latent_dim=8",
            "--set", "model.ema_decay=0.9"]  # (no data.cache: unread for a folder, so refused)


def _variables(model):
    optimizers = model.g_optimizer.variables + model.d_optimizer.variables
    return {v.path: v.numpy() for v in model.variables}, [v.numpy() for v in optimizers]


def _cli(*args):
    return [sys.executable, "-m", "ganzoo", "train", *args]


@pytest.mark.slow
def test_sigkill_mid_training_then_resume_matches_uninterrupted_run(tmp_path):
    data = make_images(tmp_path / "data", 24)  # 6 steps per epoch at batch 4
    common = ["dcgan_mnist", "--data-path", str(data), "--batch-size", "4", "--epochs", "4",
              "--checkpoint-every", "4", "--deterministic", "--quiet", "--samples-every", "100", *TINY_SET]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=CHECKOUT_PYTHONPATH)
    reference_dir, victim_dir = tmp_path / "reference", tmp_path / "victim"
    reference = subprocess.Popen(_cli(*common, "--out", str(reference_dir)), cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    victim = subprocess.Popen(_cli(*common, "--out", str(victim_dir)), cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        second = victim_dir / "checkpoints" / "ckpt-00000008.keras"
        deadline = time.time() + 600
        while not second.exists() and victim.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        assert second.exists(), f"the run made no second checkpoint (exit {victim.poll()})"
        victim.send_signal(signal.SIGKILL)  # no cleanup, no atexit: as an OOM kill or a lost VM
        assert victim.wait(timeout=60) == -signal.SIGKILL
        assert not (victim_dir / "model.keras").exists(), "the run finished before it could be killed"
        killed_at = CheckpointManager.step_of(CheckpointManager(victim_dir / "checkpoints").paths()[-1])
        _, reference_err = reference.communicate(timeout=600)
        assert reference.returncode == 0, reference_err[-3000:]
    finally:
        for proc in (reference, victim):
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    resumed = subprocess.run(_cli("--resume", str(victim_dir), "--deterministic", "--quiet"), cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming dcgan_mnist" in resumed.stdout

    ref_state = read_state(reference_dir / "model.keras")
    res_state = read_state(victim_dir / "model.keras")
    assert ref_state["step"] == res_state["step"] == 24 and res_state["epoch"] == 4
    assert res_state["seed_generators"] == ref_state["seed_generators"]
    ref_model = keras.saving.load_model(reference_dir / "model.keras")
    res_model = keras.saving.load_model(victim_dir / "model.keras")
    ref_vars, ref_slots = _variables(ref_model)
    res_vars, res_slots = _variables(res_model)
    assert ref_vars.keys() == res_vars.keys()
    for key in ref_vars:  # generator, discriminator, EMA generator, BN statistics
        np.testing.assert_array_equal(res_vars[key], ref_vars[key], err_msg=f"{key} (killed after step {killed_at})")
    for a, b in zip(res_slots, ref_slots):  # both optimizers: iterations, Adam moments
        np.testing.assert_array_equal(a, b)
    # The last epoch's logged losses agree too (the interrupted epoch's running means are restored).
    ref_log = (reference_dir / "log.csv").read_text().splitlines()
    res_log = (victim_dir / "log.csv").read_text().splitlines()
    assert res_log[0] == ref_log[0] and res_log[-1] == ref_log[-1]


def test_resume_continues_counters_and_random_state(tmp_path):
    config = tiny_config("dcgan_mnist", **{"train.epochs": 1, "train.steps_per_epoch": 3})
    x = np.random.default_rng(0).uniform(-1, 1, (12, 28, 28, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(4)
    run = tmp_path / "run"
    first, _ = train(config, out=run, dataset=dataset, verbose=0)
    saved_seeds = [g.state.numpy().tolist() for g in seed_generators(first)]
    assert int(first.g_optimizer.iterations.numpy()) == 3

    longer = tiny_config("dcgan_mnist", **{"train.epochs": 3, "train.steps_per_epoch": 3})
    again, history = train(longer, out=run, dataset=dataset, verbose=0, resume=True)
    assert int(again.g_optimizer.iterations.numpy()) == 9 and int(again.d_optimizer.iterations.numpy()) == 9
    assert int(again.ema_state.updates.numpy()) == 9  # the EMA ramp-up continues, not restarts
    assert history.epoch == [1, 2]  # epochs continue, not restart
    assert read_state(run / "model.keras")["step"] == 9
    assert [g.state.numpy().tolist() for g in seed_generators(again)] != saved_seeds  # advanced from the saved state
    log = (run / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in log] == ["epoch", "0", "1", "2"]

    # A finished run resumed without more epochs has nothing to do and changes nothing.
    before = (run / "model.keras").read_bytes()
    _, history = train(longer, out=run, dataset=dataset, verbose=0, resume=True)
    assert history.epoch == [] and (run / "model.keras").read_bytes() == before


def test_resume_mid_epoch_runs_the_rest_of_that_epoch(tmp_path):
    from ganzoo.training import _segments

    assert list(_segments(0, 6, 4)) == [(0, 6, 4)]
    assert list(_segments(8, 6, 4)) == [(1, 4, 2), (2, 6, 4)]
    assert list(_segments(12, 6, 4)) == [(2, 6, 4)]
    assert list(_segments(22, 6, 4)) == [(3, 2, 4)]
    assert list(_segments(24, 6, 4)) == []


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the JAX trainer keeps the state outside the variables "
                                                             "during an epoch; TensorFlow has nothing to sync")
def test_jax_run_syncs_its_state_to_save_and_at_epoch_ends_only(tmp_path, monkeypatch):
    """Keras on JAX carries the training state outside the variables during an epoch; a
    callback that saves must sync it (the checkpoints then hold the step's weights), and
    nothing else may sync per step (a pass over every variable each step)."""
    from ganzoo.seam import StatefulSteps

    synced_at = []
    original = StatefulSteps.jax_state_sync

    def counting_sync(self):
        if getattr(self, "_jax_state", None) and not self._jax_state_synced:
            synced_at.append(int(keras.ops.convert_to_numpy(self._jax_state["optimizer_variables"][0])))
        return original(self)

    monkeypatch.setattr(StatefulSteps, "jax_state_sync", counting_sync)
    config = tiny_config("dcgan_mnist", **{"train.epochs": 2, "train.steps_per_epoch": 8})
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(4)
    model, _ = train(config, out=tmp_path / "run", dataset=dataset, verbose=0, checkpoint_every=3)
    # The G optimizer's step count at each sync: the checkpoints of steps 3, 6, 9, 12, 15 and the
    # two epoch ends (8, 16); before, DivergenceGuard synced after every one of the 16 steps.
    assert synced_at == [3, 6, 8, 9, 12, 15, 16]
    for path in CheckpointManager(tmp_path / "run" / "checkpoints").paths():  # saved after the sync
        saved = keras.saving.load_model(path)
        assert int(saved.g_optimizer.iterations.numpy()) == CheckpointManager.step_of(path)


def test_tf_distribute_strategies_fail_fast_on_jax(monkeypatch, tmp_path):
    from ganzoo import training

    config = tiny_config("dcgan_mnist")
    if keras.backend.backend() == "tensorflow":  # stand in for a JAX process: the check reads the backend
        monkeypatch.setattr(training.keras.backend, "backend", lambda: "jax")
    for strategy in ("multiworker", "tpu"):
        with pytest.raises(ValueError, match=f"--strategy {strategy} is a tf.distribute strategy, which runs on the "
                                             "TensorFlow backend only; this process runs Keras on jax"):
            train(config, out=tmp_path / "run", strategy=strategy)
    assert not (tmp_path / "run").exists()
    training.check_strategy_backend("none")  # the default is no strategy: fine on JAX
    training.check_strategy_backend(None)
    training.check_strategy_backend("mirrored")  # keras.distribution.DataParallel on JAX
