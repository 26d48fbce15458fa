"""Does bfloat16 keep quality? Train an entry in float32 and in mixed_bfloat16, same seed and
budget, and compare FCD / coverage / label accuracy (the shipped MNIST classifier).

    TFDS_DATA_DIR=../shared/tfds python -m benchmarks.quality_bf16 cgan_mnist dcgan_mnist --epochs 2

Several seeds (``--seeds 0,1,2``) show whether a gap between the precisions exceeds the spread
between seeds; ``--merge A.json B.json`` combines runs made separately (e.g. other seeds) into
``--json`` and prints the summary: per entry and precision, each seed's final metrics and
their mean.

Each (entry, precision) trains in its own process (they may run at the same time); after
every epoch the model is evaluated on ``--n`` generated images with
``ganzoo.evaluation.evaluate.evaluate`` (the entry's default metrics). Wall time per epoch is
recorded too, but read speed from the suite: these runs share the machine with each other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / p) for p in ("src", "")]  # checkout's ganzoo, benchmarks.*
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def train_and_evaluate(entry: str, precision: str, epochs: int, n: int, seed: int, batch: int) -> dict:
    import keras  # noqa: PLC0415

    import ganzoo  # noqa: PLC0415
    from ganzoo.zoo_eval import evaluate  # noqa: PLC0415

    overrides = {"train.precision": precision, "train.seed": seed, "train.batch_size": batch}
    config = ganzoo.get_config(entry, **overrides)
    model = ganzoo.load(config)
    ds = ganzoo.load_dataset(config, download=False)
    rows = []

    class Eval(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.t0
            result = evaluate(model, n=n, seed=1000 + epoch)
            rows.append({"epoch": epoch + 1, "train_seconds": seconds,
                         "losses": {k: float(v) for k, v in (logs or {}).items()},
                         "metrics": result["metrics"]})
            print(json.dumps({"progress": rows[-1]}), flush=True)

    model.fit(ds, epochs=epochs, verbose=0, callbacks=[Eval()])
    return {"entry": entry, "precision": precision, "seed": seed, "batch": batch, "epochs": rows,
            "policy": model.generator.dtype_policy.name}


def summarize(results: list) -> str:
    """Final-epoch metrics per entry and precision: each seed's, and the mean over seeds."""
    groups: dict = {}
    for r in results:
        groups.setdefault((r["entry"], r["precision"]), []).append(r)
    lines = []
    for (entry, precision), runs in sorted(groups.items()):
        runs.sort(key=lambda r: r["seed"])
        finals = [r["epochs"][-1]["metrics"] for r in runs]
        names = [k for k, v in finals[0].items() if isinstance(v, (int, float))]
        cells = []
        for k in names:
            values = [f[k] for f in finals]
            cells.append(f"{k} " + " / ".join(f"{v:.4g}" for v in values)
                         + (f" (mean {sum(values) / len(values):.4g})" if len(values) > 1 else ""))
        seeds = ",".join(str(r["seed"]) for r in runs)
        lines.append(f"{entry:<14}{precision:<16}seeds {seeds}, epoch {runs[0]['epochs'][-1]['epoch']}: "
                     + "; ".join(cells))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("entries", nargs="*", default=["cgan_mnist", "dcgan_mnist"])
    p.add_argument("--precisions", default="float32,mixed_bfloat16")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--n", type=int, default=5000, help="generated images per evaluation")
    p.add_argument("--seeds", default="0")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--parallel", type=int, default=2, help="runs at the same time")
    p.add_argument("--json", default="benchmarks/results/quality_bf16.json")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="combine these result files into --json; no training")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.merge:
        missing = [path for path in args.merge if not Path(path).is_file()]
        if missing:
            p.error(f"--merge: no such result file: {', '.join(missing)} (give JSON files written by --json)")
        results = [r for path in args.merge for r in json.loads(Path(path).read_text())]
        keys = [(r["entry"], r["precision"], r["seed"]) for r in results]
        if len(set(keys)) != len(keys):
            p.error("the files repeat an (entry, precision, seed) run; merge distinct runs")
        Path(args.json).write_text(json.dumps(results, indent=1))
        print(summarize(results))
        return 0
    if args.worker:
        entry, precision, seed = args.worker.split(":")
        print(json.dumps(train_and_evaluate(entry, precision, args.epochs, args.n, int(seed), args.batch_size)))
        return 0
    jobs = [(e, q, s) for e in args.entries for s in args.seeds.split(",") for q in args.precisions.split(",")]
    running, results = [], []
    while jobs or running:
        while jobs and len(running) < args.parallel:
            e, q, s = jobs.pop(0)
            cmd = [sys.executable, "-m", "benchmarks.quality_bf16", "--worker", f"{e}:{q}:{s}", "--epochs",
                   str(args.epochs), "--n", str(args.n), "--batch-size", str(args.batch_size)]
            running.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                            cwd=str(Path(__file__).resolve().parent.parent)))
        time.sleep(5)
        for proc in [r for r in running if r.poll() is not None]:
            running.remove(proc)
            lines = [ln for ln in proc.stdout.read().splitlines() if ln.startswith("{")]
            final = json.loads(lines[-1]) if lines else None
            if proc.returncode or not final or "entry" not in final:
                print(f"a run failed (exit {proc.returncode})", file=sys.stderr)
                continue
            results.append(final)
            last = final["epochs"][-1]
            print(f"{final['entry']:<14}{final['precision']:<16}seed {final['seed']}  epoch {last['epoch']}: "
                  + ", ".join(f"{k} {v:.4g}" for k, v in last["metrics"].items() if isinstance(v, (int, float))),
                  flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))
    print(summarize(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
