"""Offline evaluation: a model (or real images) in, the standard metrics out.

``evaluate(model, metrics=["fcd", "coverage", "label_accuracy"], n=10000, data=real)`` generates
``n`` images, runs the needed feature extractors once per batch, compares with the cached
reference statistics of the real dataset's train split (``real``: a
:class:`~ganzoo.evaluation.real.RealData`) and returns a JSON-ready dict.
:func:`ganzoo.zoo_eval.evaluate` finds the dataset of a zoo model (its config) and calls it; the
``ganzoo eval`` command and :class:`ganzoo.callbacks.EvaluationCallback` are thin layers over that.

Metrics (names as in ``--metrics``):

==============  ==============  ===========================================================
name            feature space   what
==============  ==============  ===========================================================
fid             Inception pool3 Frechet distance to the reference split (Heusel et al. 2017)
kid             Inception pool3 KID: unbiased MMD^2, cubic kernel, 100 subsets of 1000
                                (Binkowski et al. 2018); reported with its std over subsets
is              Inception probs Inception Score, 10 splits (Salimans et al. 2016)
pr              Inception pool3 improved precision / recall, k=3 (Kynkaanniemi et al. 2019),
                                on equal-size sets (<= 10,000 each)
fcd             classifier      Frechet distance in the domain classifier's features
kcd             classifier      KID's estimator in the domain classifier's features
cs              classifier      classifier score (the IS analogue), 10 splits
coverage        classifier      normalised entropy of the predicted-class histogram
                                (1 = every class equally often; near 0 = mode collapse)
label_accuracy  classifier      share of samples classified as the label asked for
                                (conditional models; real data: its own labels)
==============  ==============  ===========================================================

Protocol defaults: 50,000 generated images when an Inception metric is asked for, else
10,000; reference = the dataset's whole ``train`` split (``ref_split``, ``ref_samples``);
conditional models get balanced labels (0, 1, ..., C-1 cycling); latents come from
``model.latents(n, seed)`` so the same seed gives the same numbers.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

import numpy as np

from ganzoo.evaluation import legacy, stats
from ganzoo.evaluation.real import RealData
from ganzoo.version import __version__

__all__ = [
    "METRICS",
    "evaluate",
    "default_metrics",
    "parse_metrics",
    "ImageSource",
    "generated_source",
    "real_source",
    "format_table",
    "format_card",
    "write_json",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricInfo:
    space: str  # "inception" or "classifier"
    needs_reference: bool
    description: str


#: name -> what it needs (explicit table; the order is the print order).
METRICS = {
    "fid": MetricInfo("inception", True, "Frechet Inception distance (pool3) to the reference split"),
    "kid": MetricInfo("inception", True, "kernel Inception distance (x1000 in the table), mean +- std over subsets"),
    "is": MetricInfo("inception", False, "Inception score, mean +- std over splits"),
    "pr": MetricInfo("inception", True, "improved precision / recall (k=3) in Inception pool3"),
    "fcd": MetricInfo("classifier", True, "Frechet distance in the domain classifier's features"),
    "kcd": MetricInfo("classifier", True, "KID's estimator in the classifier's features (x1000 in the table)"),
    "cs": MetricInfo("classifier", False, "classifier score (IS analogue), mean +- std over splits"),
    "coverage": MetricInfo("classifier", False, "normalised entropy of predicted classes (1 = all equally often)"),
    "label_accuracy": MetricInfo("classifier", False, "share classified as the label asked for (real: its label)"),
}
ALIASES = {"acc": "label_accuracy", "label_acc": "label_accuracy", "precision_recall": "pr",
           "inception_score": "is", "classifier_score": "cs"}

DEFAULT_N_INCEPTION = 50000
DEFAULT_N_CLASSIFIER = 10000


def parse_metrics(spec: Union[str, list, tuple, None]) -> Optional[list]:
    """``"fid,kid"`` or a list -> validated canonical names (None stays None = defaults)."""
    if spec is None:
        return None
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    out = []
    for name in filter(None, names):
        name = ALIASES.get(name, name)
        if name not in METRICS:
            import difflib  # noqa: PLC0415

            close = difflib.get_close_matches(name, list(METRICS) + list(ALIASES), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unknown metric '{name}'{hint} (choose from {', '.join(METRICS)})")
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError("--metrics is empty")
    return out


def default_metrics(channels, conditional: bool) -> list:
    """MNIST-like (grayscale) data: fcd, coverage (+ label_accuracy when conditional);
    RGB data: fid, kid, is. ``channels``: the images' channels (or a config / data description,
    whose ``channels`` it reads)."""
    if not isinstance(channels, int):
        channels = getattr(channels, "data", channels).channels
    if channels == 1:
        return ["fcd", "coverage"] + (["label_accuracy"] if conditional else [])
    return ["fid", "kid", "is"]


# ====================================================================== image sources

@dataclass
class ImageSource:
    """Batches of images in [-1, 1] and the labels they should show (or None)."""

    kind: str  # "generated" or "real"
    description: str
    #: The real dataset the images come from (real sources) or are compared with; may be None.
    data: Optional[RealData]
    n: int
    batches: Callable[[int], Iterator[tuple]]
    labelled: bool
    conditional: bool = False
    #: Noise mode of a generated source with per-pixel noise inputs (StyleGAN), else None.
    noise: Optional[str] = None


def generated_source(model, n: int, data: Optional[RealData] = None, seed: int = 0, labels=None,
                     truncation: Optional[float] = None, description: Optional[str] = None,
                     noise: Optional[str] = None, use_ema: Optional[bool] = None) -> ImageSource:
    """``n`` images of a ganzoo model; conditional models get ``labels`` (default balanced).

    A model with per-pixel noise inputs (StyleGAN) samples with ``noise`` (default its
    ``EVALUATION_NOISE``, ``random`` as the official metrics), drawn per image from ``seed``:
    the same seed gives the same images whatever the batch size. ``use_ema`` picks the
    generator as in ``model.generate`` (default: the EMA generator once it is warm). ``data``:
    the real dataset the images are to be compared with (kept on the source).
    """
    if data is not None and not isinstance(data, RealData):
        import warnings  # noqa: PLC0415

        warnings.warn("generated_source(model, n, config): the config is ignored (deprecated); pass the "
                      "RealData to evaluate(..., data=...) or use ganzoo.zoo_eval.evaluate", DeprecationWarning,
                      stacklevel=2)
        data = None
    noise_kwargs = {}
    if hasattr(model, "noise_inputs"):
        noise_kwargs = {"noise": noise or model.EVALUATION_NOISE, "noise_seed": seed}
    elif noise is not None:
        raise ValueError(f"noise={noise!r}: {model.name} has no noise inputs (only StyleGAN models do)")
    n = int(n)
    if n < 2:
        raise ValueError(f"evaluation needs at least 2 images, got n={n}")
    conditional = bool(getattr(model, "conditional", False))
    if conditional and labels is not None and np.ndim(labels) == 1 and len(labels) != n:
        labels = np.resize(np.asarray(labels), n)  # a pattern such as [3, 5], cycled
    asked = model.resolve_labels(n, labels) if conditional else None
    z = model.latents(n, seed=seed, truncation=truncation)

    def batches(batch_size: int):
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            lab = None if asked is None else asked[start:stop]
            extra = dict(noise_kwargs, first_index=start) if noise_kwargs else {}
            yield model.generate_from_latents(z[start:stop], lab, batch_size=batch_size, use_ema=use_ema, **extra), lab

    if description is None:
        choice = model.sampling_choice(use_ema) if hasattr(model, "sampling_choice") else None
        description = f"{model.name}{', ' + str(choice) if choice else ''} (seed {seed})"
    return ImageSource("generated", description, data, n, batches,
                       labelled=conditional, conditional=conditional, noise=noise_kwargs.get("noise"))


def real_source(data: RealData, split: str = "test", n: Optional[int] = None,
                data_dir: Optional[str] = None) -> ImageSource:
    """The first ``n`` (default all) images of a split of ``data`` (a :class:`RealData`), with
    their labels when it has them. A config here is the deprecated form of
    ``ganzoo.zoo_eval.real_source``."""
    if not isinstance(data, RealData):
        return legacy.forward("real_source", "ganzoo.evaluation.evaluate.real_source")(data, split, n, data_dir)
    labelled = data.has_labels()
    count = data.num_examples(split)
    n = min(n, count) if n and count else (n or count)

    def batches(batch_size: int):
        for batch in data.batches(split, n, batch_size, with_labels=labelled):
            yield batch if labelled else (batch, None)

    return ImageSource("real", f"real {data.name} {split}", data, n, batches, labelled=labelled)


def parse_real_source(spec: str):
    """Deprecated here: ``ganzoo.zoo_eval.parse_real_source`` (it reads the registry)."""
    return legacy.forward("parse_real_source", "ganzoo.evaluation.evaluate.parse_real_source")(spec)


# ====================================================================== evaluation

def evaluate(source, metrics=None, n: Optional[int] = None, *, data: Optional[RealData] = None, config=None,
             ref_split: str = "train", ref_samples: Optional[int] = None, seed: int = 0, labels=None,
             truncation: Optional[float] = None, noise: Optional[str] = None, batch_size: int = 100,
             data_dir: Optional[str] = None, cache=None, inception_network: str = "fid2015",
             fid_weights=None, fid_protocol: str = "pytorch-fid", inception_weights: Optional[str] = "imagenet",
             inception_resize: int = 299,
             classifier=None, inception=None, kid_subsets: int = 100, kid_subset_size: int = 1000,
             splits: Optional[int] = None, pr_k: int = 3, pr_samples: int = 10000, verbose: bool = False,
             description: Optional[str] = None, use_ema: Optional[bool] = None) -> dict:
    """Evaluate a ganzoo model (or an :class:`ImageSource`) against a real dataset.

    Args:
        source: a ganzoo model (anything with ``latents`` and ``generate_from_latents``) or an
            :class:`ImageSource` (:func:`generated_source`, :func:`real_source`).
        metrics: names (see :data:`METRICS`; default :func:`default_metrics`).
        n: images to evaluate (default 50,000 with an Inception metric, else 10,000; for real
            data at most the split).
        data: the real dataset (:class:`~ganzoo.evaluation.real.RealData`): its reference split,
            its domain classifier, its resolution (default: the source's ``data``). Without it,
            or with ``config`` / ``data_dir`` or a ``real:DATASET[:SPLIT]`` source, this is the
            deprecated form of :func:`ganzoo.zoo_eval.evaluate`, which finds the dataset of a zoo
            model's config.
        ref_split, ref_samples: reference split and how many of its images (default all).
        seed, labels, truncation: what to generate (see ``GANBase.generate``); ``labels`` may
            be one class, or a list cycled over the ``n`` images.
        noise: StyleGAN's noise mode (default ``random``, as the official metrics; see
            :func:`generated_source`); an error for models without noise inputs.
        classifier, inception: ready extractors (tests, benchmarks); built when None.
        description, use_ema: of a model's images (see :func:`generated_source`); the
            description heads the table (``ganzoo eval`` names the weights and generator there).
        inception_network: ``"fid2015"`` (default: the 2015 FID Inception of every published table,
            :class:`~ganzoo.evaluation.fid_extractor.FIDInceptionExtractor`; its weights are found
            offline or fail at once with instructions) or ``"keras"`` (Keras' ImageNet InceptionV3,
            comparable between ganzoo runs only).
        fid_weights, fid_protocol: the FID network's weights file (default: the standard file from
            env, cache or download) and protocol (``pytorch-fid``, ``tf``, ``clean``).
        inception_weights, inception_resize: the Keras network's weights (see :class:`InceptionExtractor`)
            and the side both networks' inputs are resized to (299 is the protocol).

    Returns:
        JSON-ready ``{"metrics": {name: value, ...}, "details": {...}, "protocol": {...}}``; KID and
        the scores come with ``<name>_std``, ``pr`` as ``precision``/``recall``, coverage with
        its class histogram in ``details``.
    """
    data = data or getattr(source, "data", None)
    if isinstance(source, str) or config is not None or data_dir is not None or not isinstance(data, RealData):
        return legacy.forward("evaluate", "ganzoo.evaluation.evaluate.evaluate")(
            source, metrics, n, config=config, data=data, ref_split=ref_split, ref_samples=ref_samples, seed=seed,
            labels=labels, truncation=truncation, noise=noise, batch_size=batch_size, data_dir=data_dir, cache=cache,
            inception_network=inception_network, fid_weights=fid_weights, fid_protocol=fid_protocol,
            inception_weights=inception_weights, inception_resize=inception_resize, classifier=classifier,
            inception=inception, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, splits=splits, pr_k=pr_k,
            pr_samples=pr_samples, verbose=verbose, description=description, use_ema=use_ema)
    start = time.time()
    channels = data.image_shape[-1]
    if not isinstance(source, ImageSource):
        model = source
        names = parse_metrics(metrics) or default_metrics(channels, getattr(model, "conditional", False))
        if n is None:
            n = DEFAULT_N_INCEPTION if any(METRICS[m].space == "inception" for m in names) else DEFAULT_N_CLASSIFIER
        source = generated_source(model, n, data, seed=seed, labels=labels, truncation=truncation, noise=noise,
                                  description=description, use_ema=use_ema)
    names = parse_metrics(metrics) or default_metrics(channels, source.conditional or source.kind == "real"
                                                       and source.labelled)
    skipped = {}
    if "label_accuracy" in names and not source.labelled:
        skipped["label_accuracy"] = ("unconditional model: no label was asked for" if source.kind == "generated"
                                     else "the dataset has no labels")
        names = [m for m in names if m != "label_accuracy"]

    spaces = {METRICS[m].space for m in names}
    extractors = {}
    if "classifier" in spaces:
        if classifier is None:
            from ganzoo.evaluation.classifier import load_classifier  # noqa: PLC0415

            classifier = load_classifier(data, cache=cache)
        classifier.check_images(tuple(data.image_shape))
        extractors["classifier"] = classifier
    if "inception" in spaces:
        if inception is None:
            from ganzoo.evaluation.fid_extractor import make_inception_extractor  # noqa: PLC0415

            inception = make_inception_extractor(inception_network, fid_weights=fid_weights, protocol=fid_protocol,
                                                 keras_weights=inception_weights, resize=inception_resize,
                                                 logits="is" in names, cache=cache)
        extractors["inception"] = inception

    # One pass over the images: every extractor sees every batch once.
    feats = {space: [] for space in extractors}
    probs = {space: [] for space in extractors}
    asked = []
    done, last_report = 0, time.time()
    for images, lab in source.batches(batch_size):
        for space, extractor in extractors.items():
            f, p = extractor.predict_batch(images)
            feats[space].append(f)
            if p is not None:
                probs[space].append(p)
        if lab is not None:
            asked.append(np.asarray(lab))
        done += len(images)
        if verbose and (time.time() - last_report > 10 or done == source.n):
            print(f"  {done}/{source.n} images", file=sys.stderr, flush=True)
            last_report = time.time()
    if done < 2:
        raise ValueError(f"{source.description}: only {done} images to evaluate")
    feats = {k: np.concatenate(v) for k, v in feats.items()}
    probs = {k: (np.concatenate(v) if v else None) for k, v in probs.items()}
    asked = np.concatenate(asked) if asked else None

    refs = {}
    for space in {METRICS[m].space for m in names if METRICS[m].needs_reference}:
        from ganzoo.evaluation.reference import reference_statistics  # noqa: PLC0415

        refs[space] = reference_statistics(data, extractors[space], ref_split, ref_samples,
                                           batch_size=max(batch_size, 200), cache=cache)

    values, details = {}, {}
    if splits is not None and splits < 1:
        raise ValueError(f"splits must be at least 1, got {splits}")
    # IS: the Inception protocol's splits (StudioGAN: 1) unless given; the classifier score: 10.
    splits_used = {"is": min(splits or getattr(extractors.get("inception"), "is_splits", 10), done),
                   "cs": min(splits or 10, done)}
    for name in names:
        space = METRICS[name].space
        if name in ("fid", "fcd"):
            ref = refs[space]
            mu, sigma = stats.activation_statistics(feats[space])
            values[name] = stats.frechet_distance(mu, sigma, ref["mu"], ref["sigma"])
        elif name in ("kid", "kcd"):
            mean, std = stats.kernel_inception_distance(feats[space], refs[space]["features"],
                                                        num_subsets=kid_subsets, subset_size=kid_subset_size,
                                                        seed=seed)
            values[name], values[f"{name}_std"] = mean, std
        elif name in ("is", "cs"):
            mean, std = stats.inception_score(probs[space], splits=splits_used[name])
            values[name], values[f"{name}_std"] = mean, std
        elif name == "pr":
            real, fake = _equal_subsets(refs[space]["features"], feats[space], pr_samples, seed)
            values["precision"], values["recall"] = stats.precision_recall(real, fake, k=pr_k)
        elif name == "coverage":
            cov = stats.class_coverage(probs[space], num_classes=extractors[space].num_classes)
            values["coverage"] = cov["coverage"]
            details["class_histogram"] = [int(v) for v in cov["histogram"]]
            details["class_entropy"] = cov["entropy"]
        elif name == "label_accuracy":
            values["label_accuracy"] = stats.label_accuracy(probs[space], asked)
            if "class_histogram" not in details and probs[space] is not None:
                details["class_histogram"] = [int(v) for v in np.bincount(
                    np.argmax(probs[space], axis=1), minlength=extractors[space].num_classes)]

    protocol = {
        "source": source.description,
        "kind": source.kind,
        "n": int(done),
        "dataset": data.name,
        "resolution": [int(d) for d in data.image_shape],
        "seed": seed if source.kind == "generated" else None,
        "labels": ("balanced 0..C-1 cycling" if labels is None else "given") if source.conditional else None,
        "truncation": truncation,
        "noise": source.noise,
        "metrics": names,
        "skipped": skipped,
        "extractors": {space: e.describe() for space, e in extractors.items()},
        "reference": {space: {"split": ref_split, "count": r["count"], "cache": r["path"], "reused": r["cached"],
                              "kept_features": int(len(r["features"]))} for space, r in refs.items()},
        "kid": {"subsets": kid_subsets, "subset_size": kid_subset_size} if {"kid", "kcd"} & set(names) else None,
        "splits": {m: splits_used[m] for m in ("is", "cs") if m in names} or None,
        "pr": {"k": pr_k, "samples": pr_samples} if "pr" in names else None,
        "card": _card(extractors.get("inception"), done, source, data, refs.get("inception"), ref_split),
        "seconds": round(time.time() - start, 1),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "ganzoo": __version__,
    }
    return {"metrics": {k: float(v) for k, v in values.items()}, "details": details, "protocol": protocol}


def _card(extractor, n: int, source, data, ref, ref_split: str) -> Optional[dict]:
    """The card every Inception number carries: network, weights hash, quantisation, resize,
    normalisation, the images scored and the reference they were compared with."""
    if extractor is None:
        return None
    card = dict(extractor.card()) if hasattr(extractor, "card") else {"network": extractor.name}
    card["n"] = int(n)
    card["images"] = source.description
    card["reference"] = None if ref is None else f"{data.name} {ref_split} split, {ref['count']} images"
    return card


def format_card(card: dict) -> str:
    """The card as one line (``ganzoo eval`` prints it under the table)."""
    weights = card.get("weights_sha256") or card.get("weights_digest") or card.get("weights")
    parts = [card["network"]]
    if weights:
        parts.append(f"weights {str(weights)[:16]}" + ("" if card.get("standard_weights", True) else " (NOT standard)"))
    for key in ("protocol", "quantise", "resize", "normalise"):
        if card.get(key):
            parts.append(f"{key} {card[key]}")
    parts.append(f"N={card['n']}")
    if card.get("reference"):
        parts.append(f"reference {card['reference']}")
    return "; ".join(parts)


def _equal_subsets(real: np.ndarray, fake: np.ndarray, limit: int, seed: int):
    m = min(len(real), len(fake), limit)
    rng = np.random.default_rng(seed)
    pick = lambda x: x if len(x) == m else x[np.sort(rng.choice(len(x), m, replace=False))]  # noqa: E731
    return pick(real), pick(fake)


# ====================================================================== output

def format_table(result: dict) -> str:
    """The result as an aligned text table (one metric per row, its meaning beside it)."""
    values, details, protocol = result["metrics"], result["details"], result["protocol"]
    rows = []

    def add(name, value, note):
        rows.append((name, value, note))

    for name in protocol["metrics"]:
        info = METRICS[name]
        if name in ("kid", "kcd"):
            add(name, f"{1000 * values[name]:.3f} +- {1000 * values[name + '_std']:.3f}", info.description)
        elif name in ("is", "cs"):
            add(name, f"{values[name]:.3f} +- {values[name + '_std']:.3f}", info.description)
        elif name == "pr":
            add("precision", f"{values['precision']:.4f}", "share of samples on the real manifold (fidelity)")
            add("recall", f"{values['recall']:.4f}", "share of real images on the samples' manifold (diversity)")
        elif name == "coverage":
            add("coverage", f"{values['coverage']:.4f}", info.description)
            add("  classes", " ".join(str(v) for v in details["class_histogram"]), "predicted-class histogram")
        else:
            add(name, f"{values[name]:.4f}", info.description)
    for name, why in protocol["skipped"].items():
        add(name, "n/a", why)
    width = [max(len(r[i]) for r in rows + [("metric", "value", "")]) for i in range(2)]
    header = (f"{protocol['source']}: {protocol['n']} images"
              + "".join(f"; {space} reference: {ref['split']} split ({ref['count']} images)"
                        for space, ref in protocol["reference"].items()))
    lines = [header, f"{'metric'.ljust(width[0])}  {'value'.ljust(width[1])}  meaning"]
    lines += [f"{a.ljust(width[0])}  {b.ljust(width[1])}  {c}" for a, b, c in rows]
    if protocol.get("card"):
        lines.append(f"card: {format_card(protocol['card'])}")
    return "\n".join(lines)


def write_json(result: dict, path: Union[str, Path]) -> Path:
    """Write an :func:`evaluate` result to ``path`` as JSON (atomically: temporary file, then rename); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2, default=_json_default) + "\n")
    tmp.replace(path)
    return path


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
