"""Feature-extraction throughput of the evaluation extractors on this machine (not a test).

    TFDS_DATA_DIR=../shared/tfds python benchmarks/eval_throughput.py [--images 200] [--json out.json]

Prints images/s for the MNIST domain classifier (28x28x1, batch 500), for Keras'
InceptionV3 (``--inception keras``) and for the 2015 FID Inception (the default network; its
protocols pytorch-fid and clean, which differ in the resize), on 28x28x1 and 32x32x3 inputs
resized to 299x299, batch 50, side by side in one run. The Inceptions run with their real
weights when they are available and random weights otherwise (same FLOPs). The first batch
(tracing) is excluded from the timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np


def measure(extractor, shape, images: int, batch: int) -> dict:
    rng = np.random.default_rng(0)
    data = rng.uniform(-1, 1, (batch, *shape)).astype(np.float32)
    extractor.predict_batch(data)  # trace + warm up
    done, start = 0, time.perf_counter()
    while done < images:
        extractor.predict_batch(data)
        done += batch
    seconds = time.perf_counter() - start
    return {"input": "x".join(map(str, shape)), "batch": batch, "images": done, "seconds": round(seconds, 2),
            "images_per_s": round(done / seconds, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=200, help="Inception images per setting (default 200)")
    p.add_argument("--classifier-images", type=int, default=20000, help="classifier images (default 20000)")
    p.add_argument("--json", help="also write the rows as JSON")
    args = p.parse_args(argv)

    import tensorflow as tf  # noqa: PLC0415

    from ganzoo.evaluation.classifier import load_classifier  # noqa: PLC0415
    from ganzoo.evaluation.features import InceptionExtractor, InceptionWeightsError  # noqa: PLC0415

    rows = []
    classifier = load_classifier("mnist_classifier")
    rows.append({"extractor": "mnist classifier (features + probs)",
                 **measure(classifier, (28, 28, 1), args.classifier_images, 500)})
    try:
        inception, weights = InceptionExtractor(weights="imagenet"), "imagenet"
    except InceptionWeightsError:
        inception, weights = InceptionExtractor(weights=None), "random (ImageNet weights not available)"
    from ganzoo.evaluation.fid_extractor import FIDInceptionExtractor  # noqa: PLC0415
    from ganzoo.evaluation.fid_weights import FIDWeightsError  # noqa: PLC0415

    fid = {}
    for protocol in ("pytorch-fid", "clean"):
        try:
            fid[protocol] = FIDInceptionExtractor(protocol=protocol)
        except FIDWeightsError:
            fid[protocol] = FIDInceptionExtractor(weights="random", protocol=protocol)
    fid_weights = "standard" if fid["clean"].standard else "random (weights file not available)"
    for shape in ((28, 28, 1), (32, 32, 3)):
        rows.append({"extractor": "keras inception_v3 @299", **measure(inception, shape, args.images, 50)})
        for protocol, extractor in fid.items():
            rows.append({"extractor": f"fid2015 ({protocol}) @299", **measure(extractor, shape, args.images, 50)})

    cpus = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"# {platform.processor() or platform.machine()}, {cpus} CPUs visible, load average {load:.1f}, "
          f"TensorFlow {tf.__version__}, GPU: {bool(tf.config.list_physical_devices('GPU'))}; "
          f"Keras Inception weights: {weights}; FID Inception weights: {fid_weights}")
    print(f"{'extractor':<32} {'input':>8} {'batch':>6} {'images/s':>10}")
    for r in rows:
        print(f"{r['extractor']:<32} {r['input']:>8} {r['batch']:>6} {r['images_per_s']:>10}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpus": cpus, "load_average": load, "tensorflow": tf.__version__,
                       "inception_weights": weights, "fid_inception_weights": fid_weights, "rows": rows}, f,
                      indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
