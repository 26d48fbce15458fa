"""The benchmark suite's own pieces: FLOP counting, the precision ``auto`` rule, the JSON.

No timing is asserted anywhere: speed depends on the machine and its load.
"""

import json
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from benchmarks import flops
from benchmarks.runner import label, ratio, summary

ROOT = Path(__file__).resolve().parents[2]


def test_dense_flops_are_two_per_multiply_add():
    x = keras.Input((10,))
    model = keras.Model(x, keras.layers.Dense(5)(x))
    cost = flops.network_cost(model)
    assert cost.forward == 2 * 10 * 5
    assert cost.input_grad_internal == 0  # nothing trainable upstream of the only layer


def test_conv_and_transposed_conv_flops_match_tensorflows_graph_count():
    x = keras.Input((8, 8, 2))
    h = keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)
    y = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same")(h)
    model = keras.Model(x, y)
    cost = flops.network_cost(model)
    conv = 2 * 4 * 4 * 3 * 3 * 2 * 4          # output 4x4x4, 3x3x2 kernel
    deconv = 2 * 4 * 4 * 4 * 4 * 4 * 3        # input 4x4x4 scattered through a 4x4x3 kernel
    assert [c.forward for c in cost.layers] == [conv, deconv]
    assert cost.layers[1].input_grad and not cost.layers[0].input_grad
    tf_count = flops.graph_forward_flops(model, batch=3)
    assert sum(tf_count.values()) == pytest.approx(3 * (conv + deconv))


def test_a_label_embedding_upstream_needs_input_gradients():
    image = keras.Input((4, 4, 1))
    label = keras.Input((), dtype="int32")
    label_map = keras.layers.Reshape((4, 4, 1))(keras.layers.Embedding(3, 16)(label))
    h = keras.layers.Concatenate()([image, label_map])
    out = keras.layers.Dense(1)(keras.layers.Flatten()(keras.layers.Conv2D(2, 3, padding="same")(h)))
    cost = flops.network_cost(keras.Model([image, label], out))
    assert [c.input_grad for c in cost.layers] == [True, True]


def test_train_step_composition():
    z = keras.Input((3,))
    g = keras.Model(z, keras.layers.Dense(4)(z))
    x = keras.Input((4,))
    d = keras.Model(x, keras.layers.Dense(1)(x))
    step = flops.train_step_flops(g, d, batch=2)
    g_f, d_f = 2 * 3 * 4 * 2, 2 * 4 * 1 * 2   # forward FLOPs for a batch of 2
    # D step: G fwd, D fwd x2, D weight grads x2; G step: G fwd, D fwd, D input grad, G weight grad.
    assert step["d_step"] == g_f + 2 * d_f + 2 * d_f
    assert step["g_step"] == g_f + d_f + d_f + g_f
    assert step["per_image"] == step["total"] / 2


def test_analytic_step_count_agrees_with_tensorflows_graph():
    from tests.helpers import tiny_config

    from ganzoo.builders import build_model, compile_model
    import tensorflow as tf

    config = tiny_config("cgan_mnist")
    model = build_model(config)
    compile_model(model, config)
    batch = config.train.batch_size
    spec = (tf.TensorSpec((batch, 28, 28, 1), tf.float32), tf.TensorSpec((batch,), tf.int32))
    graph = sum(flops.graph_step_flops(model, spec).values())
    ema = flops.ema_forward_flops(model)
    assert 0 < ema < flops.network_cost(model.generator).forward  # the recipe's EMA G has batch norm
    analytic = flops.train_step_flops(model.generator, model.discriminator, batch, ema_forward=ema)["total"]
    assert analytic == pytest.approx(graph, rel=1e-6)


def test_precision_auto_follows_the_cpu(monkeypatch):
    from ganzoo import precision

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert precision.resolve_precision("auto") == "float32"
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert precision.resolve_precision("auto") in ("mixed_bfloat16", "float32")  # float32 if a GPU is present
    assert precision.resolve_precision("float32") == "float32"
    with pytest.raises(ValueError, match="unknown precision"):
        precision.resolve_precision("bf16")


def test_interleaved_ratios_are_per_round():
    a = {"rates": [10.0, 20.0, 30.0]}
    b = {"rates": [5.0, 20.0, 10.0]}
    r = ratio(a, b)
    assert r["values"] == [2.0, 1.0, 3.0] and r["median"] == 2.0 and (r["min"], r["max"]) == (1.0, 3.0)
    assert summary([3.0, 1.0, 2.0])["median"] == 2.0
    assert label({"kind": "train", "impl": "baseline", "entry": "cgan_mnist", "batch": 64, "jit": False,
                  "precision": "float32"}) == "baseline/cgan_mnist/b64/graph/float32"


def test_op_breakdown_times_the_ops_of_a_function():
    """The profile's op-type table comes from a profiler trace (it was once silently empty)."""
    import tensorflow as tf

    from benchmarks.profile_step import _op_breakdown, op_groups

    x = tf.random.normal([8, 16, 16, 4])
    w = tf.random.normal([3, 3, 4, 8])
    fn = tf.function(lambda: tf.reduce_sum(tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME"))))
    fn()
    ops = _op_breakdown(fn)
    assert any("conv" in k.lower() for k in ops), ops
    assert all(v >= 0 for v in ops.values())
    assert op_groups(ops)["convolution"] > 0


def test_baseline_ratios_include_the_same_thread_layout():
    from benchmarks.suite import _baseline_ratios

    def res(impl, precision, rates, **extra):
        spec = dict(kind="train", impl=impl, entry="dcgan_mnist", batch=64, jit=False, precision=precision, **extra)
        return {"spec": spec, "label": label(spec), "rates": rates}

    results = [res("ganzoo", "float32", [10.0, 10.0]), res("ganzoo", "mixed_bfloat16", [16.0, 18.0]),
               res("baseline", "float32", [10.0, 12.0]), res("baseline", "mixed_bfloat16", [14.0, 15.0]),
               res("baseline", "mixed_bfloat16", [15.0, 16.0], cpu_threads="ganzoo"),
               res("ganzoo", "mixed_bfloat16", [15.0, 15.0], cpu_threads="tensorflow")]
    rows = {(r["ganzoo"], r["kind"]): r for r in _baseline_ratios("dcgan_mnist", results,
                                                                   ["float32", "mixed_bfloat16"], [False])}
    bf16 = "ganzoo/dcgan_mnist/b64/graph/mixed_bfloat16"
    assert rows[(bf16, "vs baseline default")]["values"] == [1.6, 1.5]
    assert rows[(bf16, "like for like")]["values"] == [16 / 14, 18 / 15]
    assert rows[(bf16, "like for like, same threads")]["values"] == [16 / 15, 18 / 16]
    assert rows[(bf16, "like for like, same threads")]["baseline"].endswith("ganzoo-threads")
    assert rows[(bf16, "ganzoo's thread layout vs TensorFlow's default")]["values"] == [16 / 15, 18 / 15]


@pytest.mark.slow
def test_suite_tiny_run_writes_the_expected_json(tmp_path):
    out = tmp_path / "suite.json"
    md = tmp_path / "suite.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.suite", "--tiny", "--json", str(out),
                           "--markdown", str(md)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert {"machine", "limit", "flops", "train", "ratios"} <= set(report)
    assert set(report["limit"]["peak"]) == {"float32", "bfloat16"}
    (row,) = [r for r in report["train"] if r["spec"]["impl"] == "ganzoo"]
    for key in ("median", "min", "max", "rates", "peak_rss_mb", "gflops", "fraction_of_peak", "data", "threads"):
        assert key in row
    assert len(row["rates"]) == report["repeats"]
    assert any(r["spec"]["impl"] == "baseline" for r in report["train"])
    assert report["ratios"] and "median" in report["ratios"][0]
    assert "ganzoo / plain" in proc.stdout and "| entry |" in md.read_text()


def test_quality_merge_combines_seeds_and_refuses_repeats(tmp_path, capsys):
    from benchmarks import quality_bf16

    def run(precision, seed, fcd):
        return {"entry": "cgan_mnist", "precision": precision, "seed": seed, "batch": 64,
                "epochs": [{"epoch": 2, "metrics": {"fcd": fcd, "coverage": 1.0}}]}

    a, b, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "all.json"
    a.write_text(json.dumps([run("float32", 0, 10.0), run("mixed_bfloat16", 0, 12.0)]))
    b.write_text(json.dumps([run("float32", 1, 14.0), run("mixed_bfloat16", 1, 12.0)]))
    assert quality_bf16.main(["--merge", str(a), str(b), "--json", str(out)]) == 0
    assert len(json.loads(out.read_text())) == 4
    printed = capsys.readouterr().out
    assert "float32         seeds 0,1, epoch 2: fcd 10 / 14 (mean 12)" in printed
    with pytest.raises(SystemExit):
        quality_bf16.main(["--merge", str(a), str(a), "--json", str(out)])
    assert "repeat an (entry, precision, seed) run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        quality_bf16.main(["--merge", str(tmp_path / "nope.json"), "--json", str(out)])
    assert "no such result file" in capsys.readouterr().err
