"""This machine's dense matmul and convolution throughput (GFLOP/s), float32 and bfloat16.

    python benchmarks/machine_limit.py [--seconds 2] [--json out.json]

The "limit" a GAN's training step is compared against: the best throughput TensorFlow
reaches here on large dense kernels, in graph mode (oneDNN) and with XLA, for

* matmul: square ``n x n @ n x n`` for n in 1024, 2048 (2 n^3 FLOPs);
* conv: 3x3, stride 1, "same", batch 64 at 32x32x128 -> 128 and 16x16x256 -> 256
  (2 * N * H * W * k * k * C_in * C_out FLOPs), the widths the zoo's CIFAR/CelebA networks reach.

Each kernel runs in a ``tf.function`` repeatedly for about ``seconds``; the rate of the
fastest of several timed bursts is kept (noise on a shared machine only ever slows a run
down, so the best burst is the closest estimate of what the hardware can do). The table
also gives the median burst. The numbers are per process, with all cores TensorFlow sees.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MATMUL_SIZES = (1024, 2048)
CONV_SHAPES = ((64, 32, 32, 128, 128), (64, 16, 16, 256, 256))


def _bursts(fn, args, flops: float, seconds: float, bursts: int = 5) -> list:
    out = fn(*args)
    t = time.perf_counter()
    out = fn(*args)
    _ = out.numpy()
    once = max(time.perf_counter() - t, 1e-4)
    calls = max(1, int(seconds / bursts / once))
    rates = []
    for _ in range(bursts):
        t = time.perf_counter()
        for _ in range(calls):
            out = fn(*args)
        _ = out.numpy()
        rates.append(flops * calls / (time.perf_counter() - t) / 1e9)
    return rates


def measure(seconds: float = 2.0, dtypes=("float32", "bfloat16"), jit=(False, True), tiny: bool = False) -> dict:
    """``{"rows": [...], "peak": {dtype: {"matmul": best, "conv": best, "any": best}}}`` (GFLOP/s)."""
    import tensorflow as tf  # noqa: PLC0415

    sizes = (256,) if tiny else MATMUL_SIZES
    convs = ((8, 16, 16, 32, 32),) if tiny else CONV_SHAPES
    rows = []
    for dtype in dtypes:
        dt = tf.as_dtype(dtype)
        for jit_compile in jit:
            matmul = tf.function(lambda a, b: tf.matmul(a, b), jit_compile=jit_compile)
            conv = tf.function(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"), jit_compile=jit_compile)
            for n in sizes:
                a = tf.cast(tf.random.normal((n, n)), dt)
                b = tf.cast(tf.random.normal((n, n)), dt)
                rates = _bursts(matmul, (a, b), 2.0 * n ** 3, seconds)
                rows.append({"op": "matmul", "shape": f"{n}x{n}x{n}", "dtype": dtype, "jit": jit_compile,
                             "best": max(rates), "median": statistics.median(rates)})
            for n, h, w, cin, cout in convs:
                x = tf.cast(tf.random.normal((n, h, w, cin)), dt)
                k = tf.cast(tf.random.normal((3, 3, cin, cout)), dt)
                rates = _bursts(conv, (x, k), 2.0 * n * h * w * 9 * cin * cout, seconds)
                rows.append({"op": "conv", "shape": f"{n}x{h}x{w}x{cin}->{cout} 3x3", "dtype": dtype,
                             "jit": jit_compile, "best": max(rates), "median": statistics.median(rates)})
    peak = {}
    for dtype in dtypes:
        mine = [r for r in rows if r["dtype"] == dtype]
        peak[dtype] = {op: max(r["best"] for r in mine if r["op"] == op) for op in ("matmul", "conv")}
        peak[dtype]["any"] = max(peak[dtype].values())
    return {"rows": rows, "peak": peak, "cpu_count": os.cpu_count()}


def format_table(result: dict) -> str:
    lines = [f"{'op':<8}{'shape':<26}{'dtype':<10}{'mode':<7}{'best GFLOP/s':>13}{'median':>9}"]
    for r in result["rows"]:
        lines.append(f"{r['op']:<8}{r['shape']:<26}{r['dtype']:<10}{'xla' if r['jit'] else 'graph':<7}"
                     f"{r['best']:>13.1f}{r['median']:>9.1f}")
    for dtype, p in result["peak"].items():
        lines.append(f"peak {dtype}: matmul {p['matmul']:.1f}, conv {p['conv']:.1f} GFLOP/s")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse  # noqa: PLC0415
    import json  # noqa: PLC0415

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=2.0, help="time per kernel and mode")
    p.add_argument("--json")
    args = p.parse_args(argv)
    result = measure(args.seconds)
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
