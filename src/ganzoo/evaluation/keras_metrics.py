"""Image-quality metrics as ``keras.metrics.Metric`` objects, for ``fit(validation_data=...)``.

Compile a ganzoo model with them and every validation pass reports quality::

    from ganzoo.evaluation.keras_metrics import FrechetClassifierDistance, ClassCoverage, LabelAccuracy
    from ganzoo.zoo_eval import load_classifier
    clf = load_classifier(config)   # the dataset's domain classifier (may train and cache it once)
    model.compile(g_optimizer=..., d_optimizer=...,
                  metrics=[FrechetClassifierDistance(classifier=clf), ClassCoverage(classifier=clf),
                           LabelAccuracy(classifier=clf)])
    model.fit(train_ds, validation_data=ganzoo.load_dataset("cgan_mnist", split="test"), epochs=5)
    # -> val_fcd, val_coverage, val_label_accuracy per epoch

``compile`` never trains anything: names (``metrics=["fcd", "coverage"]``) are accepted when
their extractor is ready (the shipped MNIST classifier, a cached one, Inception-V3), and a name
that would need a domain classifier trained first is refused with how to build the object.

``GANBase.test_step`` generates one fake per real validation image (with the validation
batch's labels for a conditional model) and calls ``update_state(real, fake, labels)``.
The states are sums, so the numbers are exact over the whole validation set except where
noted, and under ``tf.distribute`` the replicas' states are summed before the result is
computed (:meth:`QualityMetric.result_of`). The math is :mod:`ganzoo.evaluation.stats`'s,
run on tensors (``ops=keras.ops``):

* :class:`FrechetDistance` (``fcd`` / ``fid``): running sums of features and outer products
  of the real and the fake stream; the result is the Frechet distance of the two Gaussians,
  computed in float64 by :func:`ganzoo.evaluation.stats.frechet_distance_of_moments` with
  ``Tr sqrt(S1 S2) = sum sqrt(eig(S1^1/2 S2 S1^1/2))`` (:func:`~ganzoo.evaluation.stats.trace_sqrt_product`;
  equal to the ``scipy.linalg.sqrtm`` form of :func:`ganzoo.evaluation.stats.frechet_distance`).
* :class:`KernelDistance` (``kid`` / ``kcd``): the unbiased MMD^2
  (:func:`ganzoo.evaluation.stats.unbiased_mmd2`) of each validation batch (of each replica's
  share of it under ``tf.distribute``), averaged over batches (the keras.io GAN-ADA estimator). The offline ``ganzoo eval`` KID averages 100
  random subsets of 1000 instead.
* :class:`ScoreMetric` (``is`` / ``cs``): exact single-split Inception/classifier score (the
  offline one averages 10 splits, the standard protocol).
* :class:`ClassCoverage`, :class:`LabelAccuracy`: predicted-class histogram entropy and the
  share of fakes classified as the label they were generated for.

The reference here is the validation data, not the cached train-split statistics that
``ganzoo eval`` uses, and the sample count is the validation set's: compare numbers within
one setting. Classifier metrics use the domain classifier of the model's dataset
(:func:`ganzoo.evaluation.classifier.load_classifier`, :func:`ganzoo.zoo_eval.load_classifier` for a
zoo entry); Inception metrics build the 2015 FID Inception (``network="fid2015"``, the default:
:class:`~ganzoo.evaluation.fid_extractor.FIDInceptionExtractor`, whose weights must be on the
machine; its card is logged and returned by :meth:`QualityMetric.card`) or Keras' ImageNet
InceptionV3 (``network="keras"``), slow on CPU either way (~10 images/s per core at 299x299).
"""

from __future__ import annotations

import math
from typing import Optional

import keras
from keras import ops

from ganzoo.evaluation import stats
from ganzoo.evaluation.features import FeatureExtractor


__all__ = [
    "QualityMetric",
    "FrechetDistance",
    "FrechetClassifierDistance",
    "FrechetInceptionDistance",
    "KernelDistance",
    "KernelClassifierDistance",
    "KernelInceptionDistance",
    "ScoreMetric",
    "InceptionScore",
    "ClassifierScore",
    "ClassCoverage",
    "LabelAccuracy",
    "frechet_distance_tf",
    "get_quality_metrics",
    "QUALITY_METRICS",
]

_INCEPTION: dict = {}


def _state_dtype() -> str:
    """The dtype of the metrics' sums: float64, except on JAX without ``jax_enable_x64`` (JAX's
    default), whose widest float is float32 (Keras would truncate a float64 variable to it,
    with a warning per variable). The sums and the Frechet distance are then float32: with more
    images than feature dimensions within ~1e-5 relative of float64's; with fewer (a rank-deficient
    covariance) ~1e-4 (tests/evaluation/test_keras_metrics.py). ``ganzoo eval`` computes its
    numbers in NumPy float64 on either backend; set ``JAX_ENABLE_X64=1`` for float64 sums here."""
    if keras.backend.backend() == "jax":
        import jax  # noqa: PLC0415

        return "float64" if jax.config.jax_enable_x64 else "float32"
    return "float64"


def _xlogy(x, y):
    """``x * log(y)``, 0 where ``x == 0`` (``tf.math.xlogy`` in keras.ops)."""
    safe = ops.where(ops.equal(x, 0.0), ops.ones_like(y), y)
    return ops.where(ops.equal(x, 0.0), ops.zeros_like(x), x * ops.log(safe))


def _inception(network: str, weights, resize: int, logits: bool, fid_weights=None,
               fid_protocol: str = "pytorch-fid") -> FeatureExtractor:
    """One Inception per (network, weights, resize, logits, protocol) per process (metrics share
    it): the 2015 FID network (``"fid2015"``, the default) or Keras' ImageNet InceptionV3
    (``"keras"``). The first time, the card of what the numbers mean is printed."""
    from ganzoo.evaluation.fid_extractor import make_inception_extractor  # noqa: PLC0415

    key = (network, weights, resize, logits, None if fid_weights is None else str(fid_weights), fid_protocol)
    if key not in _INCEPTION:
        extractor = make_inception_extractor(network, fid_weights=fid_weights, protocol=fid_protocol,
                                             keras_weights=weights, resize=resize, logits=logits)
        from ganzoo.evaluation.evaluate import format_card  # noqa: PLC0415

        # printed once per network: the streaming numbers in fit's logs cannot carry it themselves
        print(f"ganzoo: Inception metrics (validation data as the reference) use: "
              f"{format_card({**extractor.card(), 'n': 'the validation set'})}", flush=True)
        _INCEPTION[key] = extractor
    return _INCEPTION[key]


def _classifier(spec, train: bool = True):
    from ganzoo.evaluation.classifier import DomainClassifier, load_classifier  # noqa: PLC0415

    if isinstance(spec, DomainClassifier):
        return spec
    return load_classifier(spec, train=train)


def frechet_distance_tf(mu1, sigma1, mu2, sigma2):
    """Frechet distance of two Gaussians on tensors (float64, graph- and XLA-safe; float32 on
    JAX without x64): :func:`ganzoo.evaluation.stats.frechet_distance_of_moments` with
    ``ops=keras.ops``, on either backend."""
    mu1, sigma1, mu2, sigma2 = (ops.cast(t, _state_dtype()) for t in (mu1, sigma1, mu2, sigma2))
    return stats.frechet_distance_of_moments(mu1, sigma1, mu2, sigma2, ops=keras.ops)


class QualityMetric(keras.metrics.Metric):
    """Base of the quality metrics: ``update_state(real_images, fake_images, labels=None)``.

    Subclasses choose their extractor from serialisable arguments (``classifier`` spec or
    Inception ``weights``/``resize``) so that ``get_config`` round-trips through a saved model.

    Every state variable is a sum over examples (or batches), so the states of several
    replicas add up to the state of all their examples; a subclass computes its value from a
    state in ``_result(state)`` (``state``: variable name -> tensor), and
    :meth:`result_of` evaluates it on any state, e.g. the replicas' summed one
    (:func:`ganzoo.models.distributed.global_metric_results`).
    """

    #: "classifier" or "inception"
    space = "classifier"

    def __init__(self, name: str, classifier=None, network: str = "fid2015", inception_weights: Optional[str] = "imagenet",
                 fid_weights: Optional[str] = None, fid_protocol: str = "pytorch-fid", resize: int = 299, dtype=None,
                 **kwargs):
        super().__init__(name=name, dtype=dtype or "float32", **kwargs)
        self.network, self.inception_weights = network, inception_weights
        self.fid_weights, self.fid_protocol = fid_weights, fid_protocol
        self.resize = int(resize)
        if self.space == "classifier":
            self.extractor: FeatureExtractor = _classifier(classifier if classifier is not None else "mnist_classifier")
        else:
            self.extractor = _inception(network, inception_weights, self.resize, logits=self._needs_probs,
                                        fid_weights=fid_weights, fid_protocol=fid_protocol)

    def card(self) -> Optional[dict]:
        """For an Inception metric, what its number means (network, weights, protocol); else None."""
        return self.extractor.card() if self.space == "inception" and hasattr(self.extractor, "card") else None

    _needs_probs = False

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """As Keras's, for a state that is a sum (``aggregation="sum"``), remembered by ``name``
        for :meth:`result_of`."""
        if aggregation != "sum":
            raise ValueError(f"{type(self).__name__}: quality-metric states must be sums (aggregation='sum')")
        variable = super().add_variable(shape, initializer, dtype=dtype, aggregation=aggregation, name=name)
        self.__dict__.setdefault("_state_names", []).append(name)
        return variable

    def result_of(self, values):
        """The metric's value for the state ``values`` (one tensor per ``self.variables``, in order)."""
        values = list(values)
        if len(values) != len(self._state_names):
            raise ValueError(f"{self.name}: expected {len(self._state_names)} state tensors, got {len(values)}")
        return self._result(dict(zip(self._state_names, values)))

    def result(self):
        return self.result_of([v.value for v in self.variables])

    def _result(self, state: dict):  # pragma: no cover
        raise NotImplementedError

    def get_config(self):
        config = {"name": self.name}
        if self.space == "classifier":
            config["classifier"] = self.extractor.spec  # a shipped name or a .keras path
        else:
            config.update({"network": self.network, "inception_weights": self.inception_weights,
                           "fid_weights": None if self.fid_weights is None else str(self.fid_weights),
                           "fid_protocol": self.fid_protocol, "resize": self.resize})
        return config

    def _features(self, images):
        return self.extractor(images)

    def update_state(self, real_images, fake_images, labels=None, sample_weight=None):  # pragma: no cover
        raise NotImplementedError


# ---------------------------------------------------------------------- Frechet distance

@keras.saving.register_keras_serializable(package="ganzoo")
class FrechetDistance(QualityMetric):
    """Frechet distance between the real and the fake feature Gaussians (streaming sums)."""

    def __init__(self, name: str = "fcd", **kwargs):
        super().__init__(name=name, **kwargs)
        d, dtype = self.extractor.feature_dim, _state_dtype()
        self.stream_vars = {}
        for stream in ("real", "fake"):
            self.stream_vars[stream] = (
                self.add_variable(shape=(), initializer="zeros", dtype=dtype, name=f"{stream}_count"),
                self.add_variable(shape=(d,), initializer="zeros", dtype=dtype, name=f"{stream}_sum"),
                self.add_variable(shape=(d, d), initializer="zeros", dtype=dtype, name=f"{stream}_outer"),
            )

    def _accumulate(self, stream: str, features):
        count, total, outer = self.stream_vars[stream]
        f = ops.cast(features, count.dtype)
        count.assign_add(ops.cast(ops.shape(f)[0], count.dtype))
        total.assign_add(ops.sum(f, axis=0))
        outer.assign_add(ops.matmul(ops.transpose(f), f))

    def update_state(self, real_images, fake_images, labels=None, sample_weight=None):
        self._accumulate("real", self._features(real_images)[0])
        self._accumulate("fake", self._features(fake_images)[0])

    @staticmethod
    def _moments(state: dict, stream: str):
        count, total, outer = (state[f"{stream}_{key}"] for key in ("count", "sum", "outer"))
        n = ops.maximum(count, 2.0)
        mu = total / n
        sigma = (outer - n * mu[:, None] * mu[None, :]) / (n - 1.0)
        return mu, sigma

    def _result(self, state):
        enough = ops.logical_and(state["real_count"] >= 2.0, state["fake_count"] >= 2.0)
        fd = frechet_distance_tf(*self._moments(state, "real"), *self._moments(state, "fake"))
        return ops.cast(ops.where(enough, fd, ops.full_like(fd, float("nan"))), self.dtype)


@keras.saving.register_keras_serializable(package="ganzoo")
class FrechetClassifierDistance(FrechetDistance):
    """FCD: Frechet distance in the domain classifier's ``features`` space."""

    space = "classifier"

    def __init__(self, name: str = "fcd", classifier=None, **kwargs):
        super().__init__(name=name, classifier=classifier, **kwargs)


@keras.saving.register_keras_serializable(package="ganzoo")
class FrechetInceptionDistance(FrechetDistance):
    """FID: Frechet distance in the Inception's pool3 space (the 2015 FID network by default)."""

    space = "inception"

    def __init__(self, name: str = "fid", network: str = "fid2015", inception_weights: Optional[str] = "imagenet",
                 fid_weights: Optional[str] = None, fid_protocol: str = "pytorch-fid", resize: int = 299, **kwargs):
        super().__init__(name=name, network=network, inception_weights=inception_weights, fid_weights=fid_weights,
                         fid_protocol=fid_protocol, resize=resize, **kwargs)


# ---------------------------------------------------------------------- KID

@keras.saving.register_keras_serializable(package="ganzoo")
class KernelDistance(QualityMetric):
    """Mean over validation batches of the unbiased MMD^2 (cubic kernel) of real vs fake features."""

    space = "inception"

    def __init__(self, name: str = "kid", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype=_state_dtype(), name="total")
        self.batches = self.add_variable(shape=(), initializer="zeros", dtype=_state_dtype(), name="batches")

    def update_state(self, real_images, fake_images, labels=None, sample_weight=None):
        real = self._features(real_images)[0]
        fake = self._features(fake_images)[0]
        dtype = self.total.dtype
        self.total.assign_add(ops.cast(stats.unbiased_mmd2(ops.cast(real, dtype), ops.cast(fake, dtype), ops=keras.ops),
                                       dtype))
        self.batches.assign_add(ops.ones((), dtype))

    def _result(self, state):
        return ops.cast(state["total"] / ops.maximum(state["batches"], 1.0), self.dtype)


@keras.saving.register_keras_serializable(package="ganzoo")
class KernelClassifierDistance(KernelDistance):
    """KID's estimator in the domain classifier's ``features`` space (``kcd``)."""

    space = "classifier"

    def __init__(self, name: str = "kcd", classifier=None, **kwargs):
        super().__init__(name=name, classifier=classifier, **kwargs)


@keras.saving.register_keras_serializable(package="ganzoo")
class KernelInceptionDistance(KernelDistance):
    """KID in Inception-V3 pool3 space (per-batch estimator; see the module docstring)."""

    space = "inception"

    def __init__(self, name: str = "kid", network: str = "fid2015", inception_weights: Optional[str] = "imagenet",
                 fid_weights: Optional[str] = None, fid_protocol: str = "pytorch-fid", resize: int = 299, **kwargs):
        super().__init__(name=name, network=network, inception_weights=inception_weights, fid_weights=fid_weights,
                         fid_protocol=fid_protocol, resize=resize, **kwargs)


# ---------------------------------------------------------------------- class-probability metrics

class _ProbabilityMetric(QualityMetric):
    _needs_probs = True

    def _probs(self, images):
        probs = self._features(images)[1]
        if probs is None:
            raise ValueError(f"{self.name} needs class probabilities; the extractor {self.extractor.name} has none")
        return ops.cast(probs, _state_dtype())


@keras.saving.register_keras_serializable(package="ganzoo")
class ScoreMetric(_ProbabilityMetric):
    """``exp(E_x KL(p(y|x) || p(y)))`` of the fakes over the whole validation set (one split).

    Exact from sums: ``E_x sum_y p log p - sum_y p(y) log p(y)``.
    """

    space = "classifier"

    def __init__(self, name: str = "cs", **kwargs):
        super().__init__(name=name, **kwargs)
        k = self.extractor.num_classes if self.space == "classifier" else 1000
        dtype = _state_dtype()
        self.prob_sum = self.add_variable(shape=(k,), initializer="zeros", dtype=dtype, name="prob_sum")
        self.neg_entropy_sum = self.add_variable(shape=(), initializer="zeros", dtype=dtype, name="neg_entropy")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype=dtype, name="count")

    def update_state(self, real_images, fake_images, labels=None, sample_weight=None):
        p = self._probs(fake_images)
        self.prob_sum.assign_add(ops.sum(p, axis=0))
        self.neg_entropy_sum.assign_add(ops.sum(_xlogy(p, p)))
        self.count.assign_add(ops.cast(ops.shape(p)[0], p.dtype))

    def _result(self, state):
        n = ops.maximum(state["count"], 1.0)
        marginal = state["prob_sum"] / n
        kl = state["neg_entropy"] / n - ops.sum(_xlogy(marginal, marginal))
        return ops.cast(ops.exp(kl), self.dtype)


@keras.saving.register_keras_serializable(package="ganzoo")
class ClassifierScore(ScoreMetric):
    """The Inception-Score analogue with the domain classifier (``cs``)."""

    space = "classifier"

    def __init__(self, name: str = "cs", classifier=None, **kwargs):
        super().__init__(name=name, classifier=classifier, **kwargs)


@keras.saving.register_keras_serializable(package="ganzoo")
class InceptionScore(ScoreMetric):
    """Inception Score (single split over the validation set)."""

    space = "inception"

    def __init__(self, name: str = "is", network: str = "fid2015", inception_weights: Optional[str] = "imagenet",
                 fid_weights: Optional[str] = None, fid_protocol: str = "pytorch-fid", resize: int = 299, **kwargs):
        super().__init__(name=name, network=network, inception_weights=inception_weights, fid_weights=fid_weights,
                         fid_protocol=fid_protocol, resize=resize, **kwargs)


@keras.saving.register_keras_serializable(package="ganzoo")
class ClassCoverage(_ProbabilityMetric):
    """Normalised entropy of the histogram of the fakes' predicted classes: 1.0 when every class
    is predicted equally often, 0.0 when all fakes fall in one class (mode collapse)."""

    space = "classifier"

    def __init__(self, name: str = "coverage", classifier=None, **kwargs):
        super().__init__(name=name, classifier=classifier, **kwargs)
        self.histogram = self.add_variable(shape=(self.extractor.num_classes,), initializer="zeros",
                                           dtype=_state_dtype(), name="histogram")

    def update_state(self, real_images, fake_images, labels=None, sample_weight=None):
        predicted = ops.argmax(self._probs(fake_images), axis=-1)
        self.histogram.assign_add(ops.sum(ops.one_hot(predicted, self.extractor.num_classes,
                                                      dtype=self.histogram.dtype), axis=0))

    def _result(self, state):
        histogram = state["histogram"]
        freq = histogram / ops.maximum(ops.sum(histogram), 1.0)
        entropy = -ops.sum(_xlogy(freq, freq))
        return ops.cast(entropy / math.log(self.extractor.num_classes), self.dtype)


@keras.saving.register_keras_serializable(package="ganzoo")
class LabelAccuracy(_ProbabilityMetric):
    """Share of the fakes that the domain classifier assigns to the label they were generated
    for (conditional models only)."""

    space = "classifier"

    def __init__(self, name: str = "label_accuracy", classifier=None, **kwargs):
        super().__init__(name=name, classifier=classifier, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", dtype=_state_dtype(), name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", dtype=_state_dtype(), name="total")

    def update_state(self, real_images, fake_images, labels=None, sample_weight=None):
        if labels is None:
            raise ValueError("label_accuracy needs the labels the fakes were generated for: use it with a "
                             "conditional model and labelled validation data")
        predicted = ops.cast(ops.argmax(self._probs(fake_images), axis=-1), "int32")
        hits = ops.cast(ops.equal(predicted, ops.cast(ops.reshape(labels, [-1]), "int32")), self.correct.dtype)
        self.correct.assign_add(ops.sum(hits))
        self.total.assign_add(ops.cast(ops.shape(hits)[0], self.correct.dtype))

    def _result(self, state):
        return ops.cast(state["correct"] / ops.maximum(state["total"], 1.0), self.dtype)


# ---------------------------------------------------------------------- by name

#: metric name -> class (the names ``ganzoo eval --metrics`` uses, where they exist in streaming form).
QUALITY_METRICS = {
    "fcd": FrechetClassifierDistance,
    "kcd": KernelClassifierDistance,
    "cs": ClassifierScore,
    "coverage": ClassCoverage,
    "label_accuracy": LabelAccuracy,
    "fid": FrechetInceptionDistance,
    "kid": KernelInceptionDistance,
    "is": InceptionScore,
}


def get_quality_metrics(specs, data=None, *, train_classifier: bool = True,
                        context: str = "get_quality_metrics") -> list:
    """Metric instances from names (``"fcd"``), serialized dicts (a saved model's compile config)
    or instances. Classifier metrics named by string use the domain classifier of the model's
    dataset ``data`` (a data description such as the ``DataConfig`` of the model's config, or a
    :class:`~ganzoo.evaluation.real.RealData`; MNIST when None).

    ``train_classifier``: whether a name may train (and cache) that classifier when it is
    missing; False (``compile(metrics=...)``) raises ValueError instead, naming the dataset and
    how to build the metric objects beforehand.
    """
    if specs is None:
        return []
    if isinstance(specs, (str, dict, keras.metrics.Metric)):
        specs = [specs]
    out = []
    classifier = None
    for spec in specs:
        if isinstance(spec, QualityMetric):
            out.append(spec)
        elif isinstance(spec, dict):
            out.append(keras.saving.deserialize_keras_object(spec))
        elif isinstance(spec, str):
            cls = QUALITY_METRICS.get(spec)
            if cls is None:
                raise ValueError(f"unknown quality metric '{spec}'; choose from {', '.join(QUALITY_METRICS)} "
                                 "(pr needs whole feature sets: use ganzoo eval / EvaluationCallback)")
            if cls.space == "classifier":
                if classifier is None:
                    classifier = _named_classifier(spec, cls, data, train_classifier, context)
                out.append(cls(classifier=classifier))
            else:
                out.append(cls())
        else:
            raise ValueError(f"{context} takes ganzoo quality metrics (QualityMetric instances such as "
                             f"FrechetClassifierDistance(classifier=...), or names such as 'fcd'), got {spec!r}; "
                             "GAN losses are tracked already")
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"two quality metrics share a name: {names}")
    return out


def _named_classifier(name: str, cls, data, train: bool, context: str):
    """The domain classifier a metric named ``name`` uses; with ``train`` False, a missing
    one is an error that says how to build the metric object instead."""
    try:
        return _classifier(data, train=train)
    except FileNotFoundError as err:
        from ganzoo.evaluation.paths import dataset_key  # noqa: PLC0415

        dataset = dataset_key(data) if data is not None else "mnist"
        raise ValueError(
            f"{context}: metric '{name}' needs the domain classifier of dataset '{dataset}', which is not "
            f"trained yet ({err}), and compile() never trains one. Build the metric objects first: "
            f"`clf = ganzoo.zoo_eval.load_classifier(config)` (trains and caches it once), then "
            f"`compile(..., metrics=[{cls.__name__}(classifier=clf), ...])` "
            f"(from ganzoo.evaluation.keras_metrics)") from None
