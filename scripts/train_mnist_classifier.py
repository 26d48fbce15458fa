"""Regenerate the MNIST domain classifier that ships with ganzoo (one command).

    TFDS_DATA_DIR=../shared/tfds python scripts/train_mnist_classifier.py

Trains ganzoo.evaluation.classifier.build_classifier on the MNIST train split with
DEFAULT_RECIPE, measures its accuracy on the test split and writes
src/ganzoo/pretrained/mnist_classifier.keras and mnist_classifier.json (recipe, test accuracy,
sha256). FCD, classifier score, coverage and label accuracy are computed in this
classifier's feature space: regenerating it changes those numbers (and the sha256 that
keys the cached reference statistics), so do it only on purpose.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's ganzoo (src layout), whichever one is installed


def main(argv=None) -> int:
    from ganzoo.evaluation.classifier import DEFAULT_RECIPE, PRETRAINED_DIR  # noqa: PLC0415

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=DEFAULT_RECIPE["epochs"])
    p.add_argument("--batch-size", type=int, default=DEFAULT_RECIPE["batch_size"])
    p.add_argument("--learning-rate", type=float, default=DEFAULT_RECIPE["learning_rate"])
    p.add_argument("--seed", type=int, default=DEFAULT_RECIPE["seed"])
    p.add_argument("--data-dir", help="TFDS data folder (default $TFDS_DATA_DIR)")
    p.add_argument("--out", default=str(PRETRAINED_DIR / "mnist_classifier.keras"), help="output .keras file")
    p.add_argument("--min-accuracy", type=float, default=0.99, help="refuse to write a worse classifier")
    args = p.parse_args(argv)

    import tensorflow as tf  # noqa: PLC0415

    from ganzoo.evaluation.classifier import save_classifier
    from ganzoo.zoo_eval import train_classifier  # noqa: PLC0415

    tf.config.experimental.enable_op_determinism()  # same seed, same weights (on one platform)
    model, metadata = train_classifier("cgan_mnist", epochs=args.epochs, batch_size=args.batch_size,
                                       learning_rate=args.learning_rate, seed=args.seed, data_dir=args.data_dir,
                                       verbose=2)
    accuracy = metadata["test_accuracy"]
    print(f"test accuracy {accuracy:.4f} on {metadata['test_examples']} MNIST test images")
    if accuracy is None or accuracy < args.min_accuracy:
        print(f"below --min-accuracy {args.min_accuracy}: not written", file=sys.stderr)
        return 1
    metadata = save_classifier(model, metadata, Path(args.out))
    print(json.dumps(metadata, indent=2))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB) and {Path(args.out).with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
