"""XLA on vs off for the training step, side by side: both settings of each entry run in
their own worker processes and are timed in interleaved rounds, so the ratio is measured
under the same machine load (the suite runs XLA groups one after the other).

    python -m benchmarks.xla_vs_graph dcgan_mnist cgan_mnist [--batch-size 64 --repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]  # this checkout's ganzoo (src layout), benchmarks.*

from benchmarks.runner import interleave  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("entries", nargs="+")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--precision", default="float32")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--repeat-seconds", type=float, default=3.0)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    rows = []
    for entry in args.entries:
        print(f"# {entry}", flush=True)
        specs = [dict(kind="train", impl="ganzoo", entry=entry, batch=args.batch_size, jit=jit,
                      precision=args.precision, repeat_s=args.repeat_seconds, warmup_s=3.0) for jit in (False, True)]
        graph, xla = interleave(specs, args.repeats, log=lambda m: print(m, flush=True))
        ratios = [x / g for g, x in zip(graph["rates"], xla["rates"])]
        rows.append({"entry": entry, "graph": statistics.median(graph["rates"]),
                     "xla": statistics.median(xla["rates"]), "xla_over_graph": statistics.median(ratios),
                     "ratio_range": [min(ratios), max(ratios)]})
    print(f"{'entry':14} {'graph img/s':>12} {'XLA img/s':>10} {'XLA/graph':>10}")
    for r in rows:
        print(f"{r['entry']:14} {r['graph']:12.0f} {r['xla']:10.0f} {r['xla_over_graph']:9.2f}x "
              f"({r['ratio_range'][0]:.2f}-{r['ratio_range'][1]:.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
