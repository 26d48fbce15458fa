"""tf.distribute: two replicas train exactly like one device; multi-worker training on
127.0.0.1 keeps the workers identical and only the chief writes; clear errors otherwise.
On JAX: keras.distribution.DataParallel over two host CPU devices trains like one device.

The scenarios that need logical devices or TF_CONFIG run tests/distribute_helper.py in a
subprocess (TensorFlow fixes its devices when it initialises), bounded by a timeout; the JAX
one runs tests/jax_distribute_helper.py (XLA's host device count is fixed when JAX starts).
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from ganzoo import distribute
from ganzoo.checkpoint import read_state
from tests.helpers import CHECKOUT_PYTHONPATH

pytestmark = pytest.mark.both_backends

HELPER = Path(__file__).with_name("distribute_helper.py")
JAX_HELPER = Path(__file__).with_name("jax_distribute_helper.py")
ROOT = HELPER.parents[1]

tf_only = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                             reason="tf.distribute strategies are TensorFlow's: on JAX ganzoo distributes with "
                                    "keras.distribution.DataParallel (test_jax_data_parallel_*)")
jax_only = pytest.mark.skipif(keras.backend.backend() != "jax",
                              reason="keras.distribution.DataParallel runs on the JAX backend (KERAS_BACKEND=jax); "
                                     "the TensorFlow session tests MirroredStrategy instead")


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=CHECKOUT_PYTHONPATH)
    env.update(extra)
    return env


@tf_only
@pytest.mark.slow  # six trainings in two subprocesses: the slow CI phase, beside the long proofs
def test_mirrored_two_replicas_match_one_device(tmp_path):
    out = tmp_path / "equivalence.json"
    proc = subprocess.run([sys.executable, str(HELPER), "equivalence", str(out)], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(out.read_text())
    # The yardstick: what a different seed does to the same comparison (an O(1) relative difference).
    control = results["control_other_seed_optimizer_relative_diff"]
    assert control > 0.5, control
    for name in ("dcgan_mnist", "cgan_mnist", "wgan_gp_mnist", "dcgan_mnist@mixed_float16"):
        r = results[name]
        assert r["replicas"] == 2 and r["g_steps"] == 2, r
        assert r["initial_weight_diff"] == 0.0, r  # both start from the same weights
        tol = rounding_tolerance(r["compute_dtype"])
        # Without the fixes this test guards, Mirrored training fails outright (None gradients,
        # IndexedSlices all-reduce) or drifts like the control: replicas sharing latents,
        # contiguous WGAN minibatches, an overflow applied by one replica.
        assert tol < control / 10
        assert r["update_relative_diff"] < tol, (name, r["update_relative_diff"], tol)
        assert r["optimizer_relative_diff"] < tol, (name, r["optimizer_relative_diff"], tol)
        for key, values in r["logs_one_device"].items():  # metrics: global-batch means either way
            np.testing.assert_allclose(r["logs_mirrored"][key], values, rtol=tol, atol=tol, err_msg=f"{name} {key}")


@tf_only
def test_mirrored_validation_metrics_cover_all_replicas(tmp_path):
    """Quality metrics under two replicas equal one device's: each replica's state holds half
    the validation images, and the Frechet distance / class-histogram entropy of each half,
    averaged, is a different number. One test_step serves GAN, StyleGAN and PGGAN; all three
    are checked (they draw their validation fakes differently)."""
    out = tmp_path / "validation.json"
    proc = subprocess.run([sys.executable, str(HELPER), "validation", str(out)], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(out.read_text())
    assert set(results) == {"cgan_mnist", "stylegan_mnist", "pggan_mnist"}
    for entry, r in results.items():
        assert r["one_device_replicas"] == 1 and r["mirrored_replicas"] == 2, r
        one, two = r["one_device"], r["mirrored"]
        expected = {"fcd", "coverage", "cs"} | ({"label_accuracy"} if entry == "cgan_mnist" else set())
        assert set(one) == set(two) == expected, (entry, one, two)
        assert one["fcd"] > 0 and np.isfinite(one["fcd"]), (entry, one)
        for key in expected:  # same fakes, same reals: only the order of float64 sums differs
            assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-6), (entry, key, one, two)


def rounding_tolerance(compute_dtype: str) -> float:
    """How far (relatively) two replicas may drift from one device through rounding alone.

    Splitting the batch over replicas changes only the order of the sums over examples; every
    gradient is a chain of ~10 rounded layers (forward and back through G, D and the loss),
    each off by at most half an ulp, so one device and two replicas differ by a few machine
    epsilons of the compute dtype, relative to the state (measured on two CPUs: optimizer
    moments 2.3 eps in float32, 6.6 eps in float16; updates and logged losses less). 64 eps
    leaves a tenfold margin for other CPUs' kernels and summation orders, and is still 20x
    below the control (another seed: ~1.4), so any drift of the kinds above fails.
    """
    return 64 * float(np.finfo(compute_dtype).eps)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@tf_only
@pytest.mark.slow
def test_multiworker_two_processes_identical_and_only_chief_writes(tmp_path):
    run = tmp_path / "run"
    worker_tmp = [tmp_path / "tmp0", tmp_path / "tmp1"]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    procs, logs = [], []
    try:
        for i in range(2):
            worker_tmp[i].mkdir()
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            log = open(tmp_path / f"worker{i}.log", "w")
            logs.append(log)
            procs.append(subprocess.Popen(
                [sys.executable, str(HELPER), "worker", str(run), str(tmp_path / f"w{i}.npz")], cwd=ROOT,
                env=_env(TF_CONFIG=tf_config, TMPDIR=str(worker_tmp[i])), stdout=log, stderr=subprocess.STDOUT))
        deadline = time.time() + 600
        while time.time() < deadline and any(p.poll() is None for p in procs):
            if any(p.poll() not in (None, 0) for p in procs):
                break  # one failed: the other would wait for it in a collective
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for log in logs:
            log.close()
    outputs = [(tmp_path / f"worker{i}.log").read_text()[-3000:] for i in range(2)]
    assert [p.returncode for p in procs] == [0, 0], outputs

    w0, w1 = (np.load(tmp_path / f"w{i}.npz") for i in range(2))
    assert len(w0.files) == len(w1.files) > 0
    for key in w0.files:
        np.testing.assert_array_equal(w0[key], w1[key], err_msg=key)
    info = [json.loads((tmp_path / f"w{i}.json").read_text()) for i in range(2)]
    assert [i["replicas"] for i in info] == [2, 2] and [i["g_steps"] for i in info] == [8, 8]

    checkpoints = sorted((run / "checkpoints").glob("ckpt-*.keras"))
    assert [c.name for c in checkpoints] == ["ckpt-00000003.keras", "ckpt-00000006.keras", "ckpt-00000008.keras"]
    assert {read_state(c)["pid"] for c in checkpoints} == {info[0]["pid"]}  # written by the chief alone
    assert (run / "model.keras").is_file() and (run / "log.csv").is_file()
    assert not list((run / "checkpoints").glob(".ckpt-*"))
    # The non-chief's temporary run folder and checkpoint files are gone.
    assert not list(worker_tmp[1].glob("ganzoo-worker-*"))


@tf_only
def test_strategy_errors_are_clear(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(distribute.DistributeError, match="needs the environment variable TF_CONFIG"):
        distribute.get_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(distribute.DistributeError, match="TF_CONFIG is not valid"):
        distribute.get_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1"]},
                                                "task": {"type": "worker", "index": 3}}))
    with pytest.raises(distribute.DistributeError, match="not in the cluster"):
        distribute.get_strategy("multiworker")
    monkeypatch.delenv("TF_CONFIG")
    monkeypatch.delenv("TPU_NAME", raising=False)
    start = time.time()
    with pytest.raises(distribute.DistributeError, match="no TPU is reachable"):
        distribute.get_strategy("tpu")
    # A hang guard, not a speed check: it answers in about a second; a resolver that waited on a
    # cloud metadata server would retry for many minutes.
    assert time.time() - start < 300
    with pytest.raises(distribute.DistributeError, match="unknown strategy"):
        distribute.get_strategy("horovod")


def test_global_batch_must_split_evenly():
    class TwoReplicas:
        num_replicas_in_sync = 2

    distribute.check_global_batch(8, TwoReplicas())
    with pytest.raises(distribute.DistributeError, match="does not split evenly over 2 replicas"):
        distribute.check_global_batch(5, TwoReplicas())


def test_chief_rules():
    class Resolver:
        def __init__(self, task_type, task_id, cluster):
            self.task_type, self.task_id, self._cluster = task_type, task_id, cluster

        def cluster_spec(self):
            class Spec:
                def as_dict(inner):
                    return self._cluster
            return Spec()

    class Strategy:
        def __init__(self, resolver):
            self.cluster_resolver = resolver

    workers = {"worker": ["a:1", "b:2"]}
    assert distribute.is_chief(Strategy(None))
    assert distribute.is_chief(Strategy(Resolver("worker", 0, workers)))
    assert not distribute.is_chief(Strategy(Resolver("worker", 1, workers)))
    with_chief = {"chief": ["c:3"], **workers}
    assert distribute.is_chief(Strategy(Resolver("chief", 0, with_chief)))
    assert not distribute.is_chief(Strategy(Resolver("worker", 0, with_chief)))


def test_cli_strategy_choices():
    from ganzoo.cli import build_parser

    args = build_parser().parse_args(["train", "dcgan_mnist", "--strategy", "mirrored", "--precision", "mixed_bfloat16"])
    assert args.strategy == "mirrored" and args.precision == "mixed_bfloat16"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "dcgan_mnist", "--strategy", "horovod"])


@jax_only
@pytest.mark.slow  # five small trainings in one subprocess, beside the tf.distribute equivalence
def test_jax_data_parallel_two_devices_match_one_device(tmp_path):
    """``--strategy mirrored`` on JAX: keras.distribution.DataParallel over two host CPU devices
    gives the one-device weights at the same global batch (cgan_mnist with its batch norm, which
    sees the global batch on JAX; dcgan_mnist under mixed_float16 with loss scaling)."""
    out = tmp_path / "jax_equivalence.json"
    proc = subprocess.run([sys.executable, str(JAX_HELPER), "equivalence", str(out)], cwd=ROOT,
                          env=_env(KERAS_BACKEND="jax"), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(out.read_text())
    assert results["devices"] == ["cpu:0", "cpu:1"], results["devices"]
    control = results["control_other_seed_optimizer_relative_diff"]
    assert control > 0.5, control
    for name in ("cgan_mnist", "dcgan_mnist@mixed_float16"):
        r = results[name]
        assert r["replicas"] == 2 and r["g_steps"] == 3, r
        assert r["initial_weight_diff"] == 0.0, r
        # The step really ran data-parallel: every image batch split 4 + 4 over the two devices,
        # the weights replicated on both (without the distribution around fit, Keras feeds one device).
        assert r["image_batches"] and all(b == {"rank": 4, "rows": 8, "devices": 2, "rows_per_device": [4]}
                                          for b in r["image_batches"]), r["image_batches"]
        assert r["weight_devices"] == 2 and r["weight_replicated"], r
        tol = rounding_tolerance(r["compute_dtype"])
        assert tol < control / 10
        # Adam's moments are the sharp check (a gradient of the sum instead of the mean, half-batch
        # statistics or shared latents move them by O(1)); measured 3 eps (float32), 11 eps (float16).
        assert r["optimizer_relative_diff"] < tol, (name, r["optimizer_relative_diff"], tol)
        # Adam's update is sign(g)-like where a gradient is ~0, so rounding can flip a few
        # lr-sized steps: measured 4e-6 (float32) and 4e-4 (float16) of the update, the control ~1.
        assert r["update_relative_diff"] < 1e-3, (name, r["update_relative_diff"])
        for key, values in r["logs_one_device"].items():
            np.testing.assert_allclose(r["logs_data_parallel"][key], values, rtol=tol, atol=tol,
                                       err_msg=f"{name} {key}")


@jax_only
def test_jax_strategies_and_errors(monkeypatch):
    """On JAX: ``none`` is one device, ``mirrored`` keras.distribution.DataParallel over the local
    devices, a keras distribution object is taken as it is; TensorFlow's strategies are refused
    with what to use instead."""
    one = distribute.get_strategy("none")
    assert one.num_replicas_in_sync == 1 and one.distribution is None and distribute.is_chief(one)
    with one.scope(), distribute.fit_scope(one):
        assert keras.distribution.distribution() is None
    mirrored = distribute.get_strategy("mirrored")
    assert isinstance(mirrored.distribution, keras.distribution.DataParallel)
    assert mirrored.num_replicas_in_sync == len(keras.distribution.list_devices())
    with distribute.fit_scope(mirrored):
        assert keras.distribution.distribution() is mirrored.distribution
    assert keras.distribution.distribution() is None
    own = keras.distribution.DataParallel(devices=keras.distribution.list_devices()[:1])
    assert distribute.get_strategy(own).distribution is own
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(distribute.DistributeError, match="multiworker is TensorFlow's MultiWorkerMirroredStrategy"):
        distribute.get_strategy("multiworker")
    with pytest.raises(distribute.DistributeError, match="tpu is TensorFlow's TPUStrategy.*--strategy mirrored"):
        distribute.get_strategy("tpu")
    with pytest.raises(distribute.DistributeError, match="unknown strategy"):
        distribute.get_strategy("horovod")
    import tensorflow as tf

    with pytest.raises(distribute.DistributeError, match="is a TensorFlow strategy.*KERAS_BACKEND=tensorflow"):
        distribute.get_strategy(tf.distribute.get_strategy())


def test_fit_scope_is_nothing_on_tensorflow_strategies():
    """TensorFlow's fit finds its strategy by itself: fit_scope adds nothing there."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        strategy = distribute.get_strategy("none")
        assert isinstance(strategy, tf.distribute.Strategy)
    else:
        strategy = None
    with distribute.fit_scope(strategy):
        assert keras.distribution.distribution() is None


@jax_only
def test_jax_train_with_strategy_mirrored_shards_every_batch(tmp_path):
    """``ganzoo.training.train(..., strategy="mirrored")`` on JAX over two host CPU devices:
    every step's batch is split over both devices, the run folder is complete and its model
    loads and samples."""
    out = tmp_path / "train.json"
    proc = subprocess.run([sys.executable, str(JAX_HELPER), "train", str(tmp_path / "run"), str(out)], cwd=ROOT,
                          env=_env(KERAS_BACKEND="jax"), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = json.loads(out.read_text())
    assert r["g_steps"] == 3 and len(r["image_batches"]) >= 3, r
    assert all(b == {"rank": 4, "rows": 8, "devices": 2, "rows_per_device": [4]} for b in r["image_batches"]), r
    assert r["weight_devices"] == 2 and r["loaded_sample_shape"] == [2, 28, 28, 1], r
    assert {"model.keras", "checkpoints", "log.csv", "samples"} <= set(r["files"]), r["files"]
    assert all(np.isfinite(v).all() for v in r["history"].values()), r["history"]
