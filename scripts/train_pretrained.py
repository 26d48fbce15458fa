"""Retrain a bundled pretrained generator with one command:

    python scripts/train_pretrained.py cgan_mnist [--data-dir ../shared/tfds] [--out runs/pretrained]

Trains the registry entry with its config unchanged (``ganzoo.training.train``), then writes
``ganzoo/pretrained/<name>.weights.h5`` (the sampling generator: EMA when the entry keeps
one) and ``ganzoo/pretrained/<name>.json`` (config hash, epochs, training time, the commit
that trained it, machine). Evaluation numbers are added by ``--evaluate`` (or
``scripts/evaluate_pretrained.py``) once training is done.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha.stdout.strip() + ("+uncommitted-changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name")
    p.add_argument("--data-dir", default=os.environ.get("TFDS_DATA_DIR") or str(ROOT.parent / "shared" / "tfds"))
    p.add_argument("--out", default=str(ROOT / "runs" / "pretrained"))
    p.add_argument("--dest", default=str(ROOT / "ganzoo" / "pretrained"))
    args = p.parse_args(argv)

    import ganzoo  # noqa: PLC0415
    from ganzoo.training import train  # noqa: PLC0415

    config = ganzoo.get_config(args.name)
    commit = _commit()
    run = Path(args.out) / args.name
    start = time.time()
    model, history = train(config, out=run, data_dir=args.data_dir, verbose=2, samples_every=1)
    seconds = time.time() - start
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    weights = dest / f"{args.name}.weights.h5"
    model.sampling_generator().save_weights(str(weights))
    meta = {
        "entry": args.name,
        "config_hash": config.hash(),
        "epochs": config.train.epochs,
        "steps": int(model.g_optimizer.iterations.numpy()),
        "batch_size": config.train.batch_size,
        "training_seconds": round(seconds, 1),
        "commit": commit,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "data": f"TFDS {config.data.name} {config.data.split} ({args.data_dir})",
        "weights": weights.name,
        "weights_sha256": sha256(weights),
        "final_losses": {k: float(v[-1]) for k, v in history.history.items()},
        "evaluation": None,
    }
    (dest / f"{args.name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
