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


def package(model, config, dest: Path, seconds: float, commit: str, data: str, final_losses: dict) -> dict:
    """Write the sampling generator's weights and the metadata JSON into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    weights = dest / f"{config.name}.weights.h5"
    model.sampling_generator().save_weights(str(weights))
    meta = {
        "entry": config.name,
        "config_hash": config.hash(),
        "epochs": config.train.epochs,
        "steps": int(model.g_optimizer.iterations.numpy()),
        "batch_size": config.train.batch_size,
        "training_seconds": round(seconds, 1),
        "commit": commit,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "data": data,
        "weights": weights.name,
        "weights_sha256": sha256(weights),
        "final_losses": final_losses,
        "evaluation": None,
    }
    (dest / f"{config.name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def from_checkpoint(config, checkpoint: Path, dest: Path, commit: str) -> dict:
    """Package the epoch checkpoint of a longer run of the same recipe. With a constant
    learning rate, epoch N of a longer run is exactly an N-epoch run, so this is only
    allowed when the run's config equals the entry's apart from ``train.epochs``."""
    import keras  # noqa: PLC0415

    import ganzoo.models  # noqa: F401,PLC0415
    from ganzoo.config import Config  # noqa: PLC0415

    model = keras.saving.load_model(str(checkpoint))
    run_config = Config.from_dict(model.zoo_config)
    same = dict(run_config.to_dict(), train=dict(run_config.to_dict()["train"], epochs=config.train.epochs))
    if Config.from_dict(same).hash() != config.hash() or config.train.lr_schedule != "constant":
        raise SystemExit(f"{checkpoint} was not trained with {config.name}'s current recipe")
    epoch = int(checkpoint.stem.split("_")[-1])
    if epoch != config.train.epochs:
        raise SystemExit(f"{checkpoint} is epoch {epoch}; {config.name} trains for {config.train.epochs} epochs")
    run = checkpoint.parent.parent
    seconds = checkpoint.stat().st_mtime - (run / "config.yaml").stat().st_mtime
    import csv  # noqa: PLC0415

    with open(run / "log.csv") as f:
        rows = [r for r in csv.DictReader(f) if int(r["epoch"]) == epoch - 1]
    losses = {k: float(v) for k, v in rows[0].items() if k != "epoch" and v not in ("", "NA")} if rows else {}
    return package(model, config, dest, seconds, commit, f"TFDS {config.data.name} {config.data.split}",
                   final_losses=losses)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name")
    p.add_argument("--data-dir", default=os.environ.get("TFDS_DATA_DIR") or str(ROOT.parent / "shared" / "tfds"))
    p.add_argument("--out", default=str(ROOT / "runs" / "pretrained"))
    p.add_argument("--dest", default=str(ROOT / "ganzoo" / "pretrained"))
    p.add_argument("--from-checkpoint", help="package checkpoints/epoch_NNNN.keras of a run of the same recipe")
    p.add_argument("--commit", help="the commit the run was trained at (with --from-checkpoint)")
    args = p.parse_args(argv)

    import ganzoo  # noqa: PLC0415
    from ganzoo.training import train  # noqa: PLC0415

    config = ganzoo.get_config(args.name)
    dest = Path(args.dest)
    if args.from_checkpoint:
        meta = from_checkpoint(config, Path(args.from_checkpoint), dest, args.commit or "unknown")
        print(json.dumps(meta, indent=2))
        return 0
    commit = _commit()
    run = Path(args.out) / args.name
    start = time.time()
    model, history = train(config, out=run, data_dir=args.data_dir, verbose=2, samples_every=1)
    meta = package(model, config, dest, time.time() - start, commit,
                   f"TFDS {config.data.name} {config.data.split}",
                   final_losses={k: float(v[-1]) for k, v in history.history.items()})
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
