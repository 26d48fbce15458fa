"""FLOPs of one training step of a zoo entry, counted analytically per layer.

Only the matmul-class work is counted (Dense, Conv2D, Conv2DTranspose, the projection
head's dot product, spectral normalisation's power iteration), 2 FLOPs per multiply-add,
because that is what :mod:`benchmarks.machine_limit` measures the machine's peak for.
Batch norm, activations, losses and the Adam update are memory-bound elementwise work of
well under 1 % of these FLOPs for the zoo's networks; they are left out (as in the usual
"model FLOPs utilisation" accounting) and show up as time, not FLOPs, in the profile.

How a step is composed (B = images per D/G update):

* a layer's forward pass costs F; its backward pass costs F for the weight gradient plus F
  for the input gradient, the latter only where something upstream needs a gradient
  (a trainable layer before it, e.g. a conditional network's label embedding, or the
  network's input when the gradient flows on into G);
* GAN / ConditionalGAN (``ganzoo.models.gan``): D step = G fwd(B) + D fwd(2B) +
  D bwd(2B, weights); G step = G fwd(B) + D fwd(B) + D bwd(B, input gradient through every
  layer) + G bwd(B, weights);
* WassersteinGAN: ``n_critic`` D steps per G step; the gradient penalty adds D fwd(B) on the
  interpolates, D's input gradient, and the double backward through both, counted as twice
  their cost (~6 D fwd(B) in all; an estimate, stated as such).

:func:`graph_step_flops` checks the composition against the traced ``train_step`` graph
itself: the matmul-class ops the runtime executes (those that feed an output or a variable
update; e.g. the G gradients TensorFlow builds in the D step are pruned), each counted with
TensorFlow's profiler registry (MatMul, Conv2D) or exactly from its shapes (the conv backprop
ops, where the registry assumes input = output x stride and undercounts 7 -> 4 convolutions).
On cgan_mnist the two counts agree exactly (tests/integration/test_benchmarks.py).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["LayerCost", "NetworkCost", "network_cost", "train_step_flops", "graph_step_flops",
           "graph_forward_flops", "entry_flops"]


@dataclass
class LayerCost:
    name: str
    kind: str
    #: Forward FLOPs per example.
    forward: float
    #: FLOPs per call independent of the batch (spectral norm's power iteration).
    per_call: float = 0.0
    #: Whether an upstream trainable layer needs this layer's input gradient.
    input_grad: bool = False


@dataclass
class NetworkCost:
    name: str
    layers: list = field(default_factory=list)

    @property
    def forward(self) -> float:
        """Forward FLOPs per example."""
        return sum(c.forward for c in self.layers)

    @property
    def per_call(self) -> float:
        return sum(c.per_call for c in self.layers)

    @property
    def weight_grad(self) -> float:
        return self.forward

    @property
    def input_grad_internal(self) -> float:
        """Input-gradient FLOPs per example when the network's own input needs no gradient."""
        return sum(c.forward for c in self.layers if c.input_grad)

    @property
    def input_grad_full(self) -> float:
        """Input-gradient FLOPs per example when the gradient must reach the network's input."""
        return self.forward

    def as_dict(self) -> dict:
        return {"name": self.name, "forward_per_example": self.forward, "per_call": self.per_call,
                "layers": [asdict(c) for c in self.layers]}


def _shape(tensor) -> tuple:
    return tuple(int(d) for d in tensor.shape[1:])


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def _layer_cost(layer, upstream_trainable: bool) -> list:
    """LayerCost entries of one Keras layer (recursing into nested models)."""
    import keras  # noqa: PLC0415
    from keras import layers  # noqa: PLC0415

    if isinstance(layer, keras.Model):
        return network_cost(layer, input_trainable=upstream_trainable).layers
    from ganzoo.networks.spectral import SpectralNormalized  # noqa: PLC0415

    inner, per_call = layer, 0.0
    if isinstance(layer, SpectralNormalized):
        rows, cols = int(layer.sn_v.shape[0]), int(layer.sn_u.shape[0])
        per_call = 6.0 * rows * cols  # training call: power iteration (W u, W^T v) and sigma = v^T (W u)
    if isinstance(inner, layers.Dense):
        fwd = 2.0 * _prod(_shape(layer.input)[:-1] or (1,)) * int(inner.kernel.shape[0]) * int(inner.kernel.shape[1])
    elif isinstance(inner, layers.Conv2DTranspose):
        kh, kw, c_out, c_in = inner.kernel.shape
        h, w, _ = _shape(layer.input)
        fwd = 2.0 * h * w * kh * kw * c_in * c_out
    elif isinstance(inner, layers.Conv2D):
        kh, kw, c_in, c_out = inner.kernel.shape
        h, w, _ = _shape(layer.output)
        fwd = 2.0 * h * w * kh * kw * c_in * c_out / max(1, int(getattr(inner, "groups", 1)))
    elif isinstance(inner, layers.Embedding) and per_call:
        fwd = 0.0  # a lookup; only its spectral norm costs FLOPs
    elif isinstance(inner, layers.Dot):
        fwd = 2.0 * _shape(layer.input[0])[-1]
    else:
        return []
    return [LayerCost(layer.name, type(inner).__name__, fwd, per_call, upstream_trainable)]


def network_cost(model, input_trainable: bool = False) -> NetworkCost:
    """Per-layer matmul-class FLOPs of a functional or Sequential Keras model.

    ``input_trainable``: whether the model's inputs come from trainable layers (a nested
    model fed by a label embedding), so input gradients are needed throughout.
    """
    cost = NetworkCost(model.name)
    # Topological walk: a layer's input gradient is needed if any of its producers is (or
    # follows) a trainable layer.
    trainable_after: dict[int, bool] = {}
    for t in model.inputs:
        trainable_after[id(t)] = input_trainable
    for op in _operations(model):
        inputs = _input_tensors(op)
        upstream = any(trainable_after.get(id(t), False) for t in inputs)
        cost.layers.extend(_layer_cost(op, upstream))
        produces = upstream or bool(op.trainable_weights)
        for t in _output_tensors(op):
            trainable_after[id(t)] = produces
    return cost


def _operations(model):
    from keras import layers  # noqa: PLC0415

    ops = getattr(model, "operations", None) or model.layers
    return [op for op in ops if not isinstance(op, layers.InputLayer)]


def _flatten(x):
    if isinstance(x, (list, tuple)):
        return [y for item in x for y in _flatten(item)]
    if isinstance(x, dict):
        return [y for item in x.values() for y in _flatten(item)]
    return [x]


def _input_tensors(op):
    nodes = getattr(op, "_inbound_nodes", [])
    return _flatten(nodes[0].input_tensors) if nodes else []


def _output_tensors(op):
    nodes = getattr(op, "_inbound_nodes", [])
    return _flatten(nodes[0].output_tensors) if nodes else []


# ---------------------------------------------------------------------- train step

def train_step_flops(generator, discriminator, batch: int, n_critic: int = 1, gradient_penalty: bool = False,
                     r1: bool = False, ema_forward: float = 0.0) -> dict:
    """Matmul-class FLOPs of one training step (see the module docstring for the composition).
    ``ema_forward``: FLOPs per image of the EMA generator's forward pass after G's step, which
    keeps its batch-norm statistics its own (``GANBase.update_ema``; :func:`ema_forward_flops`)."""
    g, d = network_cost(generator), network_cost(discriminator)
    d_fwd, g_fwd = d.forward * batch, g.forward * batch
    d_step = (g_fwd + g.per_call                            # fakes for D
              + 2 * d_fwd + 2 * d.per_call                  # D on real and fake
              + 2 * (d.weight_grad + d.input_grad_internal) * batch)
    if gradient_penalty or r1:
        d_step += 6 * d_fwd + d.per_call
    g_step = (g_fwd + g.per_call + d_fwd + d.per_call
              + d.input_grad_full * batch                    # through D into the fakes
              + (g.weight_grad + g.input_grad_internal) * batch)
    g_step += ema_forward * batch
    total = n_critic * d_step + g_step
    images = batch * n_critic
    return {"d_step": n_critic * d_step, "g_step": g_step, "total": total, "images": images,
            "per_image": total / images, "g_forward_per_image": g.forward, "d_forward_per_image": d.forward}


def ema_forward_flops(model) -> float:
    """FLOPs per image of the EMA generator's statistics pass (0 without one or without batch
    norm): its layers up to the last batch norm, the part whose result is used (the runtime
    prunes the layers after it, as nothing reads their output). The EMA generator is a clone
    of G, so G's layer costs and order serve."""
    import keras  # noqa: PLC0415

    if getattr(model, "ema_generator", None) is None:
        return 0.0
    def in_order(net):  # the functional graph's topological order, nested trunks expanded
        return [inner for op in net.operations
                for inner in (in_order(op) if isinstance(op, keras.Model) else [op])]

    layers = in_order(model.generator)
    order = [layer.name for layer in layers]
    norms = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return 0.0
    return sum(c.forward for c in network_cost(model.generator).layers
               if c.name in order and order.index(c.name) < norms[-1])


#: Training schemes whose step :func:`train_step_flops` composes.
STEP_SCHEMES = ("GAN", "ConditionalGAN", "WassersteinGAN")


def entry_flops(name: str, batch: int = 64, impl: str = "ganzoo") -> dict:
    """FLOPs of one training step of a zoo entry (``impl="baseline"``: the plain GAN)."""
    import ganzoo  # noqa: PLC0415

    config = ganzoo.get_config(name, **{"train.batch_size": batch})
    if impl == "baseline":
        from benchmarks.baseline_gan import baseline_networks  # noqa: PLC0415

        generator, discriminator = baseline_networks(config)
    else:
        from ganzoo.builders import build_model  # noqa: PLC0415

        model = build_model(config)
        generator, discriminator = model.generator, model.discriminator
    m = config.model
    ema_forward = ema_forward_flops(model) if impl != "baseline" else 0.0
    if m.cls not in STEP_SCHEMES:
        return {"entry": name, "impl": impl, "batch": batch, "total": None, "per_image": None,
                "note": f"no step composition for {m.cls} (counted: {', '.join(STEP_SCHEMES)})"}
    from ganzoo.registry import model_class  # noqa: PLC0415

    # gradient_penalty / r1_gamma are refused by validation where the class does not take them.
    result = train_step_flops(generator, discriminator, batch, n_critic=model_class(m.cls).batches_per_step(config),
                              gradient_penalty=m.gradient_penalty > 0, r1=m.r1_gamma > 0,
                              ema_forward=ema_forward)
    result.update(entry=name, impl=impl, batch=batch)
    return result


def flops_table(entries, batch: int = 64, baseline_entries=("dcgan_mnist", "cgan_mnist")) -> list:
    """:func:`entry_flops` for each entry (and the plain baseline where there is one); an entry
    that fails to build gets a row with its error instead of stopping the table."""
    rows = []
    for name in entries:
        for impl in ("ganzoo", "baseline") if name in baseline_entries else ("ganzoo",):
            try:
                rows.append(entry_flops(name, batch, impl))
            except Exception as err:  # noqa: BLE001 - report and go on
                rows.append({"entry": name, "impl": impl, "batch": batch, "total": None, "per_image": None,
                             "note": f"{type(err).__name__}: {err}"[:300]})
    return rows


# ---------------------------------------------------------------------- checks against TF's own counts

#: The matmul-class ops whose FLOP statistics TensorFlow registers.
MATMUL_OPS = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D", "Conv2DBackpropInput",
              "Conv2DBackpropFilter")


def _graph_flops(graph, ops) -> dict:
    import tensorflow as tf  # noqa: PLC0415
    from tensorflow.python.framework import ops as tf_ops  # noqa: PLC0415
    from tensorflow.python.profiler.internal import flops_registry  # noqa: F401, PLC0415 (registers stats)

    del tf
    by_type: dict[str, float] = {}
    for op in ops:
        if op.type not in MATMUL_OPS:
            continue
        if op.type in ("Conv2DBackpropInput", "Conv2DBackpropFilter"):
            # Exact: every element of dy meets kh * kw * C_in weights. (TF's registry assumes
            # input = output * stride, which undercounts "same" stride-2 convs on odd sizes, 7 -> 4.)
            kh, kw, c_in = _conv_backprop_kernel(op)
            value = 2.0 * op.inputs[2].shape.num_elements() * kh * kw * c_in
        else:
            value = float(tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0)
        by_type[op.type] = by_type.get(op.type, 0.0) + value
    return by_type


def _conv_backprop_kernel(op) -> tuple:
    """(kh, kw, C_in of the forward conv) of a Conv2DBackpropInput/Filter op."""
    kernel = op.inputs[1] if op.type == "Conv2DBackpropInput" else op.outputs[0]  # the filter or its gradient
    kh, kw, c_in, _ = kernel.shape.as_list()
    return kh, kw, c_in


def graph_forward_flops(model, batch: int) -> dict:
    """TensorFlow's count of the matmul-class FLOPs of one inference forward pass."""
    import tensorflow as tf  # noqa: PLC0415

    specs = [tf.TensorSpec((batch, *t.shape[1:]), t.dtype) for t in model.inputs]
    fn = tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0], training=False))
    graph = fn.get_concrete_function(*specs).graph
    return _graph_flops(graph, graph.get_operations())


def graph_step_flops(model, batch_spec) -> dict:
    """TensorFlow's count of the matmul-class FLOPs of one traced ``model.train_step``, over
    the ops the runtime executes (reachable backwards from the outputs and stateful ops)."""
    import tensorflow as tf  # noqa: PLC0415

    fn = tf.function(model.train_step)
    graph = fn.get_concrete_function(batch_spec).graph
    keep, stack = set(), [t.op for t in graph.outputs] + [op for op in graph.get_operations() if op._is_stateful]
    while stack:
        op = stack.pop()
        if op.name in keep:
            continue
        keep.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    executed = [op for op in graph.get_operations() if op.name in keep]
    return _graph_flops(graph, executed)


def validate(name: str = "cgan_mnist", batch: int = 64) -> dict:
    """Analytic vs TensorFlow's counts for one entry: both networks' forward pass and one
    train step. Returns the numbers and their relative differences."""
    import tensorflow as tf  # noqa: PLC0415

    import ganzoo  # noqa: PLC0415
    from ganzoo.builders import build_model, compile_model  # noqa: PLC0415

    config = ganzoo.get_config(name, **{"train.batch_size": batch, "train.jit_compile": False})
    model = build_model(config)
    compile_model(model, config)
    out = {"entry": name, "batch": batch}
    for net_name in ("generator", "discriminator"):
        net = getattr(model, net_name)
        analytic = network_cost(net).forward * batch
        tf_count = sum(graph_forward_flops(net, batch).values())
        out[f"{net_name}_forward"] = {"analytic": analytic, "tensorflow": tf_count,
                                      "rel_diff": analytic / tf_count - 1}
    size, ch = config.data.image_size, config.data.channels
    spec = tf.TensorSpec((batch, size, size, ch), tf.float32)
    if config.conditional:
        spec = (spec, tf.TensorSpec((batch,), tf.int32))
    by_type = graph_step_flops(model, spec)
    analytic = entry_flops(name, batch)["total"]
    out["train_step"] = {"analytic": analytic, "tensorflow": sum(by_type.values()), "by_op": by_type,
                         "rel_diff": analytic / sum(by_type.values()) - 1}
    return out


def main(argv=None) -> int:
    import argparse  # noqa: PLC0415
    import json  # noqa: PLC0415

    p = argparse.ArgumentParser(description="FLOPs of one training step per zoo entry")
    p.add_argument("entries", nargs="*", default=["dcgan_mnist", "cgan_mnist"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--validate", action="store_true", help="compare with TensorFlow's graph counts")
    args = p.parse_args(argv)
    for name in args.entries:
        for impl in ("ganzoo", "baseline") if name in ("dcgan_mnist", "cgan_mnist") else ("ganzoo",):
            r = entry_flops(name, args.batch_size, impl)
            print(f"{name:<16} {impl:<9} {r['total'] / 1e9:7.2f} GFLOP/step  {r['per_image'] / 1e6:7.1f} MFLOP/image")
        if args.validate:
            print(json.dumps(validate(name, args.batch_size), indent=1))
    return 0


if __name__ == "__main__":
    import sys

    _root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [os.path.join(_root, "src"), _root]  # this checkout's ganzoo (src layout), benchmarks.*
    raise SystemExit(main())
