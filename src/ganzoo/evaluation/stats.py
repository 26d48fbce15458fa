"""Pure NumPy/SciPy math behind the GAN evaluation metrics.

This module holds no feature extractor and does **not** import TensorFlow:
each function takes arrays that were already computed (Inception pool
features, classifier softmax outputs, predicted labels, ...) and returns
plain Python floats, tuples or dicts.  All arithmetic is done in float64.

Metrics and the papers / reference code they follow:

* :func:`frechet_distance` -- FID, Heusel et al. 2017, "GANs Trained by a Two
  Time-Scale Update Rule Converge to a Local Nash Equilibrium" (reference
  code: bioinf-jku/TTUR and mseitzer/pytorch-fid).
* :func:`kernel_inception_distance` -- KID, Binkowski et al. 2018,
  "Demystifying MMD GANs".
* :func:`inception_score` / :func:`classifier_score` -- IS, Salimans et al.
  2016, "Improved Techniques for Training GANs" (reference code:
  openai/improved-gan).
* :func:`precision_recall` -- improved precision and recall, Kynkaanniemi et
  al. 2019, "Improved Precision and Recall Metric for Assessing Generative
  Models" (reference code: kynkaat/improved-precision-and-recall-metric).
* :func:`class_coverage` and :func:`label_accuracy` -- simple diagnostics of
  mode coverage and of conditional generators, computed from the predictions
  of a domain classifier.
"""

import warnings

import numpy as np
import scipy.linalg
from scipy.special import xlogy

__all__ = [
    "activation_statistics",
    "frechet_distance",
    "frechet_distance_from_activations",
    "kernel_inception_distance",
    "inception_score",
    "classifier_score",
    "precision_recall",
    "class_coverage",
    "label_accuracy",
]

# Tolerance on ``sum(row) == 1`` when validating probability vectors.  Softmax
# outputs stored in float32 are typically off by ~1e-6 at most.
PROBABILITY_SUM_ATOL = 1e-3

# Largest |imaginary part| tolerated on the diagonal of sqrtm(sigma1 @ sigma2)
# (same threshold as TTUR / pytorch-fid).
IMAGINARY_ATOL = 1e-3


#: The array operations of the math that NumPy and the streaming Keras metrics share
#: (:func:`frechet_distance_of_moments`, :func:`trace_sqrt_product`, :func:`unbiased_mmd2`):
#: NumPy's here; ``keras.ops`` has the same names, so
#: :mod:`ganzoo.evaluation.keras_metrics` passes ``ops=keras.ops`` and runs the same
#: functions inside a traced step (this module still never imports TensorFlow).
class _NumpyOps:
    matmul = staticmethod(np.matmul)
    transpose = staticmethod(np.transpose)
    sqrt = staticmethod(np.sqrt)
    maximum = staticmethod(np.maximum)
    sum = staticmethod(np.sum)
    trace = staticmethod(np.trace)
    eigh = staticmethod(np.linalg.eigh)
    shape = staticmethod(np.shape)

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x, dtype=dtype)


NUMPY_OPS = _NumpyOps()


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _as_2d_float(x, name):
    """Return ``x`` as a finite float64 array of shape (N, D)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (num_samples, dim), "
            f"got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_same_dim(a, b, name_a, name_b):
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"feature dimension mismatch: {name_a} has dim {a.shape[1]} "
            f"(shape {a.shape}) but {name_b} has dim {b.shape[1]} "
            f"(shape {b.shape})"
        )


def _sqrtm(mat):
    """``scipy.linalg.sqrtm`` returning only the matrix, without warnings.

    The reference code calls ``sqrtm(..., disp=False)``; the ``disp``
    argument is deprecated since SciPy 1.16 and removed in 1.18, so it is not
    passed here.  Failure is detected the same way as in the reference: by
    checking the result for non-finite entries.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scipy.linalg.sqrtm(mat)
    if isinstance(result, tuple):  # very old SciPy / disp=False style result
        result = result[0]
    return np.asarray(result)


def _squared_distances(x, y, x_sq=None, y_sq=None):
    """Pairwise squared Euclidean distances ``||x_i - y_j||^2`` (float64).

    Uses ``||x||^2 + ||y||^2 - 2 x.y`` and clamps the (round-off) negative
    values at 0.
    """
    if x_sq is None:
        x_sq = np.einsum("ij,ij->i", x, x)
    if y_sq is None:
        y_sq = np.einsum("ij,ij->i", y, y)
    d = x_sq[:, None] + y_sq[None, :] - 2.0 * (x @ y.T)
    np.maximum(d, 0.0, out=d)
    return d


def _as_class_predictions(predicted, name, num_classes=None):
    """Turn int class ids (N,) or probabilities / scores (N, C) into ids."""
    arr = np.asarray(predicted)
    if arr.ndim == 2:
        if arr.shape[1] == 0:
            raise ValueError(f"{name} has zero columns, got shape {arr.shape}")
        if num_classes is not None and arr.shape[1] != num_classes:
            raise ValueError(
                f"{name} has {arr.shape[1]} columns (probabilities) but "
                f"num_classes={num_classes}"
            )
        labels = np.argmax(arr, axis=1)
    elif arr.ndim == 1:
        if arr.size and not (
            np.issubdtype(arr.dtype, np.integer)
            or np.issubdtype(arr.dtype, np.bool_)
        ):
            if not np.issubdtype(arr.dtype, np.floating) or not np.all(
                arr == np.round(arr)
            ):
                raise ValueError(
                    f"{name} must hold integer class ids (1-D) or "
                    f"probabilities (2-D), got non-integer values with dtype "
                    f"{arr.dtype}"
                )
        labels = arr.astype(np.int64)
    else:
        raise ValueError(
            f"{name} must be 1-D class ids of shape (N,) or 2-D "
            f"probabilities of shape (N, C), got shape {arr.shape}"
        )
    if labels.size == 0:
        raise ValueError(f"{name} must not be empty")
    if num_classes is not None and (
        labels.min() < 0 or labels.max() >= num_classes
    ):
        raise ValueError(
            f"{name} contains class ids outside [0, {num_classes}): "
            f"min={labels.min()}, max={labels.max()}"
        )
    return labels


# ---------------------------------------------------------------------------
# Frechet distance (FID)
# ---------------------------------------------------------------------------


def activation_statistics(activations):
    """Mean and covariance of a set of activations (the FID statistics).

    Protocol (Heusel et al. 2017): the activations are the 2048-d pool3
    features of Inception-v3 for (typically 50k) images; FID compares the
    Gaussians fitted to the real and the generated features.

    Args:
        activations: array of shape (N, D), N >= 2.

    Returns:
        ``(mu, sigma)``: float64 arrays of shapes (D,) and (D, D);
        ``sigma = np.cov(activations, rowvar=False)`` (unbiased, divisor
        N - 1), as in the reference implementations.
    """
    act = _as_2d_float(activations, "activations")
    if act.shape[0] < 2:
        raise ValueError(
            "need at least 2 samples to estimate a covariance, got "
            f"{act.shape[0]}"
        )
    mu = np.mean(act, axis=0)
    sigma = np.atleast_2d(np.cov(act, rowvar=False))
    return mu, sigma


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 sqrt(sigma1 sigma2))``

    (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule
    Converge to a Local Nash Equilibrium"; the computation mirrors the
    reference TTUR / pytorch-fid code):

    * ``sqrt(sigma1 sigma2)`` is computed with ``scipy.linalg.sqrtm``.
    * If the product is (nearly) singular and ``sqrtm`` returns non-finite
      values, ``eps * I`` is added to both covariances and the square root is
      recomputed.
    * A negligible imaginary part produced by round-off is dropped; if any
      diagonal entry has ``|imag| > 1e-3`` a ``ValueError`` is raised.

    The result is returned as computed, *not* clamped at 0: round-off can make
    it very slightly negative.  For identical, full-rank statistics (more
    samples than feature dimensions, as in the standard 50k x 2048 protocol)
    it is ``>= -1e-6`` (typically |fd| ~ 1e-10).  With rank-deficient
    covariances (N <= D) ``sqrtm`` of the singular product is less accurate
    and identical inputs can give values of order -1e-5 (e.g. 5 samples in
    64 dims).  Callers that need a non-negative value may use
    ``max(fd, 0.0)``.

    Args:
        mu1, mu2: mean vectors of shape (D,).
        sigma1, sigma2: covariance matrices of shape (D, D).
        eps: diagonal offset used only when the first ``sqrtm`` fails.

    Returns:
        The squared Frechet distance as a Python float (this is what is
        reported as "FID").

    Raises:
        ValueError: on shape mismatches, non-finite inputs, a failed matrix
            square root, or a significant imaginary component.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))

    if mu1.ndim != 1 or mu2.ndim != 1:
        raise ValueError(
            f"means must be 1-D vectors, got mu1 shape {mu1.shape} and "
            f"mu2 shape {mu2.shape}"
        )
    if mu1.shape != mu2.shape:
        raise ValueError(
            f"mean vectors have different lengths: mu1 shape {mu1.shape} vs "
            f"mu2 shape {mu2.shape}"
        )
    dim = mu1.shape[0]
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if sigma.shape != (dim, dim):
            raise ValueError(
                f"{name} has shape {sigma.shape} but the means have "
                f"dimension {dim}; expected ({dim}, {dim})"
            )
    for name, arr in (
        ("mu1", mu1), ("mu2", mu2), ("sigma1", sigma1), ("sigma2", sigma2)
    ):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values")

    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(dim) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
        if not np.all(np.isfinite(covmean)):
            raise ValueError(
                "matrix square root of sigma1 @ sigma2 is not finite even "
                f"after adding eps={eps} to the diagonals"
            )

    if np.iscomplexobj(covmean):
        max_imag = np.max(np.abs(np.diagonal(covmean).imag))
        if max_imag > IMAGINARY_ATOL:
            raise ValueError(
                "matrix square root of sigma1 @ sigma2 has a significant "
                f"imaginary component: max |imag(diag)| = {max_imag:.3g}"
            )
        covmean = covmean.real

    return float(frechet_distance_of_moments(mu1, sigma1, mu2, sigma2, np.trace(covmean)))


def frechet_distance_of_moments(mu1, sigma1, mu2, sigma2, tr_covmean=None, ops=NUMPY_OPS):
    """``||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr sqrt(sigma1 sigma2)``: the Frechet
    distance of two Gaussians, the one formula behind :func:`frechet_distance` and the
    streaming :class:`ganzoo.evaluation.keras_metrics.FrechetDistance`.

    ``tr_covmean``: ``Tr sqrt(sigma1 sigma2)`` when the caller computed it
    (:func:`frechet_distance` takes it from ``scipy.linalg.sqrtm``, as the reference code);
    None computes it with :func:`trace_sqrt_product`. ``ops``: the array operations
    (:data:`NUMPY_OPS`, or ``keras.ops`` in a traced step). No input checks: see
    :func:`frechet_distance` for the checked NumPy entry point.
    """
    if tr_covmean is None:
        tr_covmean = trace_sqrt_product(sigma1, sigma2, ops=ops)
    diff = mu1 - mu2
    return ops.sum(diff * diff) + ops.trace(sigma1) + ops.trace(sigma2) - 2.0 * tr_covmean


def trace_sqrt_product(sigma1, sigma2, ops=NUMPY_OPS):
    """``Tr sqrt(sigma1 sigma2)`` for covariance matrices by symmetric eigendecomposition.

    It is the sum of the square roots of the eigenvalues of the symmetric PSD matrix
    ``sigma1^1/2 sigma2 sigma1^1/2`` (the same eigenvalues as ``sigma1 sigma2``); round-off
    negatives are clamped at 0. Equal to the ``sqrtm`` form for PSD inputs, and graph-safe
    (XLA included) with ``ops=keras.ops``, where ``scipy.linalg.sqrtm`` does not exist.
    """
    e1, v1 = ops.eigh(sigma1)
    sqrt1 = ops.matmul(v1 * ops.sqrt(ops.maximum(e1, 0.0))[None, :], ops.transpose(v1))
    inner = ops.matmul(ops.matmul(sqrt1, sigma2), sqrt1)
    inner = 0.5 * (inner + ops.transpose(inner))
    eigenvalues, _ = ops.eigh(inner)
    return ops.sum(ops.sqrt(ops.maximum(eigenvalues, 0.0)))


def frechet_distance_from_activations(a, b, eps=1e-6):
    """FID between two activation sets of shapes (N1, D) and (N2, D).

    Equivalent to ``frechet_distance(*activation_statistics(a),
    *activation_statistics(b), eps=eps)``.
    """
    a = _as_2d_float(a, "a")
    b = _as_2d_float(b, "b")
    _check_same_dim(a, b, "a", "b")
    mu1, sigma1 = activation_statistics(a)
    mu2, sigma2 = activation_statistics(b)
    return frechet_distance(mu1, sigma1, mu2, sigma2, eps=eps)


# ---------------------------------------------------------------------------
# Kernel Inception distance (KID)
# ---------------------------------------------------------------------------


def unbiased_mmd2(x, y, degree=3, gamma=None, coef0=1.0, ops=NUMPY_OPS):
    """Unbiased MMD^2 estimate for two samples of equal size m >= 2, polynomial kernel
    ``k(a, b) = (gamma a.b + coef0) ** degree`` (``gamma`` None: ``1 / dim``):

    ``(sum_{i!=j} k(x_i,x_j) + sum_{i!=j} k(y_i,y_j)) / (m (m-1))
    - 2 sum_{i,j} k(x_i,y_j) / m^2``  (Binkowski et al. 2018, eq. for the
    "unbiased" estimator in their reference code).

    The one implementation behind :func:`kernel_inception_distance` (per subset) and the
    streaming :class:`ganzoo.evaluation.keras_metrics.KernelDistance` (per batch, with
    ``ops=keras.ops`` on float64 tensors). No input checks.
    """
    m = ops.cast(ops.shape(x)[0], "float64")
    if gamma is None:
        gamma = 1.0 / ops.cast(ops.shape(x)[1], "float64")

    def kernel(a, b):
        return (gamma * ops.matmul(a, ops.transpose(b)) + coef0) ** degree

    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    sum_xx = ops.sum(k_xx) - ops.trace(k_xx)
    sum_yy = ops.sum(k_yy) - ops.trace(k_yy)
    return (sum_xx + sum_yy) / (m * (m - 1.0)) - 2.0 * ops.sum(k_xy) / (m * m)


def kernel_inception_distance(
    a,
    b,
    num_subsets=100,
    subset_size=1000,
    degree=3,
    gamma=None,
    coef0=1.0,
    seed=0,
):
    """Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD
    GANs").

    KID is the squared maximum mean discrepancy between the two feature sets
    under the polynomial kernel ``k(x, y) = (gamma x.y + coef0) ** degree``
    (``gamma`` defaults to ``1 / dim``), estimated with the unbiased estimator
    (diagonal terms of ``K_xx`` and ``K_yy`` excluded) and averaged over
    ``num_subsets`` random subsets, as in the authors' reference code.

    Protocol: ``m = min(subset_size, len(a), len(b))``; for every subset,
    ``m`` rows of ``a`` and then ``m`` rows of ``b`` are drawn without
    replacement with ``np.random.default_rng(seed)`` (the subsets are
    independent of each other).  The estimate is unbiased, so it can be
    slightly negative when the two distributions match.

    Args:
        a, b: feature arrays of shapes (N1, D) and (N2, D).
        num_subsets: number of random subsets (>= 1).
        subset_size: requested subset size (clipped as described; the
            effective size must be >= 2).
        degree, gamma, coef0: polynomial-kernel parameters.
        seed: seed for ``np.random.default_rng``.

    Returns:
        ``(mean, std)`` of the per-subset MMD^2 values (population std,
        ``ddof=0``, as in the reference code) as Python floats.
    """
    a = _as_2d_float(a, "a")
    b = _as_2d_float(b, "b")
    _check_same_dim(a, b, "a", "b")
    if int(num_subsets) < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    num_subsets = int(num_subsets)
    m = min(int(subset_size), a.shape[0], b.shape[0])
    if m < 2:
        raise ValueError(
            "KID needs subsets of at least 2 samples, got effective "
            f"subset_size={m} (subset_size={subset_size}, len(a)="
            f"{a.shape[0]}, len(b)={b.shape[0]})"
        )
    dim = a.shape[1]
    if gamma is None:
        gamma = 1.0 / dim
    rng = np.random.default_rng(seed)
    values = np.empty(num_subsets, dtype=np.float64)
    for i in range(num_subsets):
        idx_a = rng.choice(a.shape[0], m, replace=False)
        idx_b = rng.choice(b.shape[0], m, replace=False)
        values[i] = unbiased_mmd2(a[idx_a], b[idx_b], degree, gamma, coef0)
    return float(np.mean(values)), float(np.std(values))


# ---------------------------------------------------------------------------
# Inception score
# ---------------------------------------------------------------------------


def _validate_probs(probs, name="probs"):
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (num_samples, "
            f"num_classes), got shape {p.shape}"
        )
    if p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"{name} must not be empty, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(p < 0):
        raise ValueError(
            f"{name} must be probabilities (softmax outputs), found "
            f"negative values (min {p.min():.3g})"
        )
    sums = p.sum(axis=1)
    bad = np.abs(sums - 1.0) > PROBABILITY_SUM_ATOL
    if np.any(bad):
        row = int(np.argmax(bad))
        raise ValueError(
            f"each row of {name} must sum to 1 (softmax outputs, not "
            f"logits); {int(bad.sum())} rows do not, e.g. row {row} sums to "
            f"{sums[row]:.6g}"
        )
    return p


def inception_score(probs, splits=10):
    """Inception Score (Salimans et al. 2016, "Improved Techniques for
    Training GANs").

    ``IS = exp(E_x KL(p(y|x) || p(y)))`` where ``p(y)`` is the mean of the
    conditional distributions over the split.  Following the reference code
    (openai/improved-gan) the samples are split into ``splits`` consecutive
    chunks (``np.array_split``, order preserved), the score is computed per
    chunk, and the mean and std (``ddof=0``) over chunks are returned.  The
    standard protocol uses 50k samples, 10 splits and the Inception-v3
    softmax.

    ``0 * log 0`` is taken as 0 (``scipy.special.xlogy``), so exact zeros in
    the probabilities are safe.  The score lies in ``[1, num_classes]``.

    Args:
        probs: array (N, C) of class probabilities; every row must be
            non-negative and sum to 1 (within 1e-3).
        splits: number of chunks, ``1 <= splits <= N``.

    Returns:
        ``(mean, std)`` as Python floats.
    """
    p = _validate_probs(probs)
    splits = int(splits)
    if splits < 1 or splits > p.shape[0]:
        raise ValueError(
            f"splits must be in [1, num_samples={p.shape[0]}], got {splits}"
        )
    scores = []
    for part in np.array_split(p, splits, axis=0):
        py = np.mean(part, axis=0, keepdims=True)
        # KL(p(y|x) || p(y)) per row; xlogy(0, .) == 0 so zeros are exact.
        kl = np.sum(xlogy(part, part) - xlogy(part, py), axis=1)
        scores.append(np.exp(np.mean(kl)))
    scores = np.asarray(scores)
    return float(np.mean(scores)), float(np.std(scores))


def classifier_score(probs, splits=10):
    """Inception-Score analogue computed with a domain classifier.

    Same math and protocol as :func:`inception_score` (Salimans et al. 2016)
    but ``probs`` come from a classifier trained on the target domain (e.g.
    an MNIST/CIFAR classifier) instead of Inception-v3.  Returns
    ``(mean, std)``.
    """
    return inception_score(probs, splits=splits)


# ---------------------------------------------------------------------------
# Improved precision and recall
# ---------------------------------------------------------------------------


def _knn_radii_sq(features, k, batch_size):
    """Squared distance of every row to its k-th nearest other row.

    Computed block by block (memory ~ batch_size^2 floats): for each row block
    the ``k + 1`` smallest distances (self included, at distance 0) are kept
    while iterating over column blocks.
    """
    n = features.shape[0]
    sq = np.einsum("ij,ij->i", features, features)
    radii = np.empty(n, dtype=np.float64)
    for r0 in range(0, n, batch_size):
        r1 = min(r0 + batch_size, n)
        best = np.full((r1 - r0, k + 1), np.inf)
        for c0 in range(0, n, batch_size):
            c1 = min(c0 + batch_size, n)
            d = _squared_distances(
                features[r0:r1], features[c0:c1], sq[r0:r1], sq[c0:c1]
            )
            # Exact zero self-distance (the formula leaves round-off).
            lo, hi = max(r0, c0), min(r1, c1)
            if lo < hi:
                idx = np.arange(lo, hi)
                d[idx - r0, idx - c0] = 0.0
            combined = np.concatenate([best, d], axis=1)
            best = np.partition(combined, k, axis=1)[:, : k + 1]
        radii[r0:r1] = np.partition(best, k, axis=1)[:, k]
    return radii


def _fraction_inside(manifold, radii_sq, queries, batch_size):
    """Fraction of ``queries`` within some hypersphere of ``manifold``."""
    m_sq = np.einsum("ij,ij->i", manifold, manifold)
    q_sq = np.einsum("ij,ij->i", queries, queries)
    inside = np.zeros(queries.shape[0], dtype=bool)
    for q0 in range(0, queries.shape[0], batch_size):
        q1 = min(q0 + batch_size, queries.shape[0])
        for m0 in range(0, manifold.shape[0], batch_size):
            m1 = min(m0 + batch_size, manifold.shape[0])
            d = _squared_distances(
                queries[q0:q1], manifold[m0:m1], q_sq[q0:q1], m_sq[m0:m1]
            )
            inside[q0:q1] |= np.any(d <= radii_sq[None, m0:m1], axis=1)
    return float(np.mean(inside))


def precision_recall(real_features, fake_features, k=3, batch_size=5000):
    """Improved precision and recall (Kynkaanniemi et al. 2019, "Improved
    Precision and Recall Metric for Assessing Generative Models").

    The real manifold is the union of hyperspheres centred at each real
    feature vector, with radius equal to the distance to its ``k``-th nearest
    real neighbour (itself excluded).  Precision is the fraction of fake
    samples that fall inside at least one real hypersphere (``<=``, as in the
    reference code); recall is the same with the roles of real and fake
    swapped (fake manifold, real queries).  The paper uses k = 3 and 50k
    VGG-16 fc2 features per set.

    Distances are computed in float64 as ``||a||^2 + ||b||^2 - 2 a.b``
    clamped at 0, in blocks of at most ``batch_size x batch_size`` (about
    200 MB for the default 5000), so memory does not grow with N^2.

    Args:
        real_features: array (N_real, D), N_real > k.
        fake_features: array (N_fake, D), N_fake > k.
        k: neighbourhood size (>= 1).
        batch_size: block size for the pairwise distances (>= 1).

    Returns:
        ``(precision, recall)`` as Python floats in [0, 1].
    """
    real = _as_2d_float(real_features, "real_features")
    fake = _as_2d_float(fake_features, "fake_features")
    _check_same_dim(real, fake, "real_features", "fake_features")
    k = int(k)
    batch_size = int(batch_size)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for name, arr in (("real_features", real), ("fake_features", fake)):
        if arr.shape[0] <= k:
            raise ValueError(
                f"{name} needs more than k={k} samples to define k-NN radii, "
                f"got {arr.shape[0]}"
            )
    real_radii = _knn_radii_sq(real, k, batch_size)
    fake_radii = _knn_radii_sq(fake, k, batch_size)
    precision = _fraction_inside(real, real_radii, fake, batch_size)
    recall = _fraction_inside(fake, fake_radii, real, batch_size)
    return precision, recall


# ---------------------------------------------------------------------------
# Classifier-based diagnostics
# ---------------------------------------------------------------------------


def class_coverage(predicted_classes_or_probs, num_classes):
    """How evenly generated samples cover the classes (mode-collapse check).

    Args:
        predicted_classes_or_probs: int array (N,) of predicted class ids, or
            an (N, num_classes) array of probabilities/scores (argmax taken).
        num_classes: number of classes C (>= 1).

    Returns:
        dict with

        * ``histogram``: int64 array (C,), number of samples per class;
        * ``frequencies``: float64 array (C,), ``histogram / N``;
        * ``entropy``: Shannon entropy of ``frequencies`` in nats
          (``0 log 0 = 0``);
        * ``coverage``: ``entropy / log(C)`` in [0, 1] -- 1.0 when every class
          is predicted equally often, 0.0 when only one class occurs.  For
          ``C == 1`` coverage is defined as 1.0.
    """
    num_classes = int(num_classes)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    labels = _as_class_predictions(
        predicted_classes_or_probs, "predicted_classes_or_probs", num_classes
    )
    histogram = np.bincount(labels, minlength=num_classes).astype(np.int64)
    frequencies = histogram / float(labels.size)
    entropy = float(-np.sum(xlogy(frequencies, frequencies)))
    entropy = max(entropy, 0.0)  # -0.0 -> 0.0
    if num_classes == 1:
        coverage = 1.0
    else:
        coverage = float(entropy / np.log(num_classes))
    return {
        "histogram": histogram,
        "frequencies": frequencies,
        "entropy": entropy,
        "coverage": coverage,
    }


def label_accuracy(predicted_classes_or_probs, requested_labels):
    """Share of samples classified as the label they were generated for.

    Used for conditional generators (cGAN, AC-GAN, ...): a domain classifier
    labels each generated sample and the prediction is compared with the
    conditioning label.

    Args:
        predicted_classes_or_probs: int array (N,) of predicted class ids or
            (N, C) probabilities/scores (argmax taken).
        requested_labels: int array (N,) of conditioning labels, or one-hot
            (N, C) (argmax taken).

    Returns:
        Accuracy in [0, 1] as a Python float.
    """
    pred = _as_class_predictions(
        predicted_classes_or_probs, "predicted_classes_or_probs"
    )
    req = _as_class_predictions(requested_labels, "requested_labels")
    if pred.shape != req.shape:
        raise ValueError(
            f"got {pred.shape[0]} predictions but {req.shape[0]} requested "
            "labels"
        )
    return float(np.mean(pred == req))
