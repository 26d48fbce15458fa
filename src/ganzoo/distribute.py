"""``tf.distribute`` strategies by name, and what a worker may write.

``ganzoo train ... --strategy mirrored|multiworker|tpu`` and
``ganzoo.training.train(..., strategy=...)`` create the strategy here; a model built under
``strategy.scope()`` then trains with plain ``fit``. What makes that correct lives in the
model classes (``ganzoo.models.distributed``, used by ``ganzoo.models.adversarial`` and the steps):

* each replica's loss is its local mean divided by the number of replicas, recorded on the
  gradient tape, and Keras's TF optimizer sums the replicas' gradients: the gradient of the
  global-batch mean (tests/test_distribute.py: 2 replicas give the one-device weights);
* random draws (latents, labels, the penalty's interpolation weights) are made for the whole
  global batch and sliced per replica, so replicas do not share latents;
* the gradient penalty is computed per replica on per-example input gradients, which is
  exact because it is a mean over examples;
* the per-replica loss means that ``train_step`` returns are averaged by Keras (equal
  replica batches, which :func:`check_global_batch` enforces).

BatchNorm normalises each replica's batch by its own statistics (a replica of batch b/2 is
not the one-device batch of b); synchronised batch norm is a different layer. The
equivalence test therefore uses networks without batch norm (the WGAN-GP critics never
have it). XLA: ``jit_compile: auto`` means no XLA under Mirrored/MultiWorker strategies
(as Keras's own ``auto``); TPUs compile everything with XLA anyway.

**On the JAX backend** there is no ``tf.distribute``: ``mirrored`` means
``keras.distribution.DataParallel`` over this host's devices (:class:`JaxDistribution`; the
same synchronous data parallelism, GPUs/TPU chips, or host CPUs split with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``). One jitted program runs on global
arrays: the batch is sharded along its first axis, variables are replicated, and XLA reduces
the gradients of the global-batch mean, so the step needs no replica arithmetic (the
functions of ``ganzoo.models.distributed`` are the identity there), random draws are the
one-device draws, and batch norm sees the whole global batch (unlike ``tf.distribute``).
``fit`` must run inside the same distribution as the build (Keras shards the input batches
only while a distribution is set): :func:`fit_scope`. ``multiworker`` and ``tpu`` are
TensorFlow strategies and raise a :class:`DistributeError` saying what to use on JAX.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Union

__all__ = ["STRATEGIES", "DistributeError", "JaxDistribution", "get_strategy", "fit_scope", "is_chief",
           "check_global_batch", "worker_run_dir"]

#: Names accepted by ``--strategy`` (``none``: the default strategy, one device).
STRATEGIES = ("none", "mirrored", "multiworker", "tpu")


class DistributeError(ValueError):
    """The requested strategy cannot run here; the message says what is missing."""


def get_strategy(name: Union[str, None, "object"] = None):
    """A ``tf.distribute.Strategy`` from a name (or the strategy object itself).

    * ``none`` / None: the default strategy (one device);
    * ``mirrored``: ``MirroredStrategy`` over all local GPUs (or the CPU);
    * ``multiworker``: ``MultiWorkerMirroredStrategy``; needs ``TF_CONFIG`` (the cluster and
      this worker's task) and must be created before TensorFlow runs any op;
    * ``tpu``: ``TPUStrategy`` on the TPU named by env ``TPU_NAME`` (or the local one).

    On the JAX backend: a :class:`JaxDistribution` (``none``: one device; ``mirrored``:
    ``keras.distribution.DataParallel`` over the local devices; a ``keras.distribution``
    object is wrapped as it is); ``multiworker``, ``tpu`` and ``tf.distribute`` objects raise
    :class:`DistributeError`.
    """
    import keras  # noqa: PLC0415

    if keras.backend.backend() == "jax":
        return _jax_strategy(name)
    import tensorflow as tf  # noqa: PLC0415

    if name is not None and not isinstance(name, str):
        return name  # already a strategy
    if name in (None, "none", "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", ""))
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as err:
            raise DistributeError(f"--strategy tpu: no TPU is reachable from this machine ({_one_line(err)}). "
                                  "Run on a TPU VM, or set TPU_NAME to your TPU's name or grpc:// address; "
                                  "use --strategy mirrored for local GPUs") from None
        return tf.distribute.TPUStrategy(resolver)
    raise DistributeError(f"unknown strategy '{name}'; use one of {', '.join(STRATEGIES)}")


class JaxDistribution:
    """What ganzoo's training asks of a strategy, on the JAX backend: ``scope()`` (build the
    model, and run ``fit``, under it), ``num_replicas_in_sync`` (devices the global batch is
    split over) and no ``cluster_resolver`` (one host: it is the chief).

    ``distribution`` is the ``keras.distribution.Distribution`` (``DataParallel``), or None
    for one device. A model built under the scope has its variables laid out on the
    distribution's mesh (replicated for ``DataParallel``).
    """

    cluster_resolver = None

    def __init__(self, distribution=None):
        self.distribution = distribution

    @property
    def num_replicas_in_sync(self) -> int:
        """Devices the global batch is split over (1 without a distribution)."""
        if self.distribution is None:
            return 1
        mesh = self.distribution.device_mesh
        batch_axis = mesh.axis_names.index(self.distribution.batch_dim_name)
        return int(mesh.shape[batch_axis])

    def scope(self):
        """The distribution's scope (variables created in it are laid out for its devices)."""
        return contextlib.nullcontext() if self.distribution is None else self.distribution.scope()

    def __repr__(self):
        if self.distribution is None:
            return "JaxDistribution(one device)"
        return f"JaxDistribution({type(self.distribution).__name__} over {self.num_replicas_in_sync} devices)"


def _jax_strategy(name) -> JaxDistribution:
    import keras  # noqa: PLC0415

    if isinstance(name, JaxDistribution):
        return name
    if isinstance(name, (keras.distribution.DataParallel, keras.distribution.ModelParallel)):
        return JaxDistribution(name)
    if name is not None and not isinstance(name, str):
        raise DistributeError(f"{type(name).__name__} is a TensorFlow strategy, and this process runs Keras on JAX; "
                              "pass strategy='mirrored' (keras.distribution.DataParallel over the local devices) or "
                              "a keras.distribution.Distribution, or run on KERAS_BACKEND=tensorflow")
    if name in (None, "none", "default"):
        return JaxDistribution(None)
    if name == "mirrored":
        return JaxDistribution(keras.distribution.DataParallel(devices=keras.distribution.list_devices()))
    if name in ("multiworker", "tpu"):
        what = {"multiworker": "MultiWorkerMirroredStrategy (several hosts, TF_CONFIG)",
                "tpu": "TPUStrategy"}[name]
        hint = {"multiworker": "ganzoo trains on one host on JAX: --strategy mirrored splits the batch over this "
                               "host's devices; train across hosts on KERAS_BACKEND=tensorflow",
                "tpu": "on JAX a TPU VM's chips are local devices: use --strategy mirrored "
                       "(keras.distribution.DataParallel over them)"}[name]
        raise DistributeError(f"--strategy {name} is TensorFlow's {what}, and this process runs Keras on JAX; "
                              f"{hint}")
    raise DistributeError(f"unknown strategy '{name}'; use one of {', '.join(STRATEGIES)}")


def fit_scope(strategy):
    """The context ``fit`` runs in for ``strategy``: a JAX distribution's scope (Keras shards the
    input batches across devices only while a distribution is set), nothing on TensorFlow
    (``fit`` finds the strategy a model was built under by itself)."""
    if isinstance(strategy, JaxDistribution):
        return strategy.scope()
    return contextlib.nullcontext()


def _one_line(err) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _check_tf_config() -> None:
    raw = os.environ.get("TF_CONFIG")
    example = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:port", "host2:port"]}, '
               '"task": {"type": "worker", "index": 0}}\'')
    if not raw:
        raise DistributeError("--strategy multiworker needs the environment variable TF_CONFIG on every worker, "
                              f"e.g. {example} (index 1 on the second worker)")
    try:
        spec = json.loads(raw)
        workers = spec["cluster"]
        task = spec["task"]
        task_type, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as err:
        raise DistributeError(f"TF_CONFIG is not valid ({_one_line(err)}); expected {example}") from None
    if task_type not in workers or index >= len(workers[task_type]):
        raise DistributeError(f"TF_CONFIG: task {task_type}:{index} is not in the cluster "
                              f"{json.dumps(workers)}")


def is_chief(strategy) -> bool:
    """True on the worker that writes the run folder: the only one without a cluster, the
    ``chief`` task, or worker 0 of a cluster without a chief (the Keras/TF convention)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if resolver is None or task_type is None:
        return True
    if task_type == "chief":
        return True
    cluster = resolver.cluster_spec().as_dict()
    return task_type == "worker" and int(resolver.task_id or 0) == 0 and "chief" not in cluster


def replicas(strategy) -> int:
    """How many replicas train in sync under ``strategy`` (1 for the default strategy)."""
    return int(strategy.num_replicas_in_sync)


def check_global_batch(batch_size: int, strategy, n_critic: int = 1) -> None:
    """The global batch must split into equal replica batches: each replica's loss is its
    local mean divided by the number of replicas, exact only for equal shares."""
    n = replicas(strategy)
    if n > 1 and batch_size % n:
        raise DistributeError(f"train.batch_size={batch_size} does not split evenly over {n} replicas; "
                              f"use a multiple of {n} (each replica takes batch_size / {n} images"
                              + (f" per critic minibatch" if n_critic > 1 else "") + ")")


def worker_run_dir(out: Optional[Path], strategy):
    """(folder this worker writes to, temporary folder to delete afterwards or None).

    The chief writes ``out``. Other workers must still take part in saving (reading a
    synchronised variable is a collective op), so they write into a temporary folder that
    is deleted when training ends, as Keras's and TensorFlow's multi-worker guides do.
    """
    if out is None or is_chief(strategy):
        return out, None
    tmp = Path(tempfile.mkdtemp(prefix="ganzoo-worker-"))
    return tmp, tmp


def remove_worker_dir(tmp: Optional[Path]) -> None:
    """Delete a non-chief worker's temporary run folder (from :func:`worker_run_dir`); None is a no-op."""
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
