"""Tests for ganzoo.evaluation.stats (pure NumPy/SciPy metric math).

Every expected value is computed independently in this file (closed forms,
brute-force loops, eigen-decompositions) rather than by re-using the code
under test.
"""

import ast
import itertools
import math
import pathlib

import numpy as np
import pytest
import scipy.linalg
from scipy.spatial.distance import cdist

from ganzoo.evaluation import stats
from ganzoo.evaluation.stats import (
    activation_statistics,
    class_coverage,
    classifier_score,
    frechet_distance,
    frechet_distance_from_activations,
    inception_score,
    kernel_inception_distance,
    label_accuracy,
    precision_recall,
)


# ---------------------------------------------------------------------------
# Module hygiene
# ---------------------------------------------------------------------------


def test_stats_module_does_not_import_tensorflow():
    source = pathlib.Path(stats.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {"numpy", "scipy", "warnings"}, imported


def test_package_exports():
    import ganzoo.evaluation as ev

    for name in stats.__all__:
        assert getattr(ev, name) is getattr(stats, name)


# ---------------------------------------------------------------------------
# activation_statistics / Frechet distance
# ---------------------------------------------------------------------------


def _psd_sqrt(mat):
    w, v = scipy.linalg.eigh(mat)
    w = np.clip(w, 0.0, None)
    return (v * np.sqrt(w)) @ v.T


def _reference_fd(mu1, s1, mu2, s2):
    """Tr sqrt(s1 s2) = Tr sqrt(s1^1/2 s2 s1^1/2), a symmetric PSD matrix."""
    r = _psd_sqrt(s1)
    inner = r @ s2 @ r
    inner = 0.5 * (inner + inner.T)
    eig = np.clip(scipy.linalg.eigh(inner, eigvals_only=True), 0.0, None)
    diff = mu1 - mu2
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.sum(np.sqrt(eig))


def test_activation_statistics_matches_definition():
    a = np.array([[1.0, 2.0], [3.0, 0.0], [5.0, 7.0], [-1.0, 1.0]], np.float32)
    mu, sigma = activation_statistics(a)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    a64 = a.astype(np.float64)
    expected_mu = a64.sum(0) / 4
    centred = a64 - expected_mu
    expected_sigma = centred.T @ centred / 3  # unbiased, divisor N - 1
    np.testing.assert_allclose(mu, expected_mu, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sigma, expected_sigma, rtol=0, atol=1e-12)


def test_activation_statistics_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        activation_statistics(np.zeros(5))
    with pytest.raises(ValueError, match="at least 2"):
        activation_statistics(np.zeros((1, 3)))


def test_fd_diagonal_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    d1, d2 = rng.uniform(0.1, 3.0, size=6), rng.uniform(0.1, 3.0, size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(d1 + d2 - 2 * np.sqrt(d1 * d2))
    got = frechet_distance(mu1, np.diag(d1), mu2, np.diag(d2))
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_fd_full_covariance_matches_eigh_reference():
    rng = np.random.default_rng(1)
    dim = 7
    a = rng.normal(size=(40, dim)) @ rng.normal(size=(dim, dim))
    b = rng.normal(size=(30, dim)) @ rng.normal(size=(dim, dim)) + 0.7
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    expected = _reference_fd(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance_from_activations(a, b) == pytest.approx(
        expected, rel=1e-8
    )


def test_fd_is_symmetric():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(50, 5))
    b = rng.normal(size=(60, 5)) * 2.0 + 1.0
    assert frechet_distance_from_activations(a, b) == pytest.approx(
        frechet_distance_from_activations(b, a), rel=1e-8
    )


def test_fd_identical_sets_is_zero():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(200, 16)) @ rng.normal(size=(16, 16))
    fd = frechet_distance_from_activations(a, a.copy())
    assert abs(fd) < 1e-6
    assert fd >= -1e-6


def test_fd_constant_shift_gives_squared_norm():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(100, 8))
    c = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 0.25, -1.0, 2.0])
    fd = frechet_distance_from_activations(a, a + c)
    assert fd == pytest.approx(float(c @ c), rel=1e-6, abs=1e-6)


def test_fd_nearly_singular_covariances_is_finite_and_non_negative():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(5, 64))
    b = rng.normal(size=(5, 64)) + 0.5
    fd = frechet_distance_from_activations(a, b)
    assert np.isfinite(fd)
    assert fd >= 0.0
    mu1, s1 = activation_statistics(a)
    mu2, s2 = activation_statistics(b)
    assert fd == pytest.approx(_reference_fd(mu1, s1, mu2, s2), abs=1e-4)


def test_fd_retries_with_eps_when_sqrtm_is_not_finite(monkeypatch):
    calls = []
    real_sqrtm = stats._sqrtm

    def flaky_sqrtm(mat):
        calls.append(np.array(mat))
        if len(calls) == 1:
            return np.full_like(mat, np.nan)
        return real_sqrtm(mat)

    monkeypatch.setattr(stats, "_sqrtm", flaky_sqrtm)
    s1 = np.diag([1.0, 2.0, 0.0])
    s2 = np.diag([4.0, 0.0, 1.0])
    mu = np.zeros(3)
    eps = 1e-2
    fd = frechet_distance(mu, s1, mu, s2, eps=eps)
    assert len(calls) == 2
    offset = eps * np.eye(3)
    np.testing.assert_allclose(calls[1], (s1 + offset) @ (s2 + offset))
    d1, d2 = np.diag(s1), np.diag(s2)
    expected = np.sum(d1 + d2) - 2 * np.sum(np.sqrt((d1 + eps) * (d2 + eps)))
    assert fd == pytest.approx(expected, rel=1e-10)


def test_fd_raises_on_large_imaginary_component():
    # sigma2 is not PSD, so sqrt(sigma1 sigma2) has an imaginary diagonal.
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.diag([-1.0, 1.0]))


def test_fd_shape_validation():
    with pytest.raises(ValueError, match="mu1 shape"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="sigma2"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))
    with pytest.raises(ValueError, match="sigma1"):
        frechet_distance(np.zeros(3), np.ones((3, 2)), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="dim"):
        frechet_distance_from_activations(np.zeros((4, 3)), np.zeros((4, 5)))


# ---------------------------------------------------------------------------
# Kernel Inception distance
# ---------------------------------------------------------------------------


def _brute_force_unbiased_mmd2(x, y, degree, gamma, coef0):
    def k(u, v):
        return (gamma * float(np.dot(u, v)) + coef0) ** degree

    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / (m * m)


@pytest.mark.parametrize(
    "degree,gamma,coef0", [(3, None, 1.0), (2, 0.5, 0.3), (1, 1.0, 0.0)]
)
def test_kid_single_subset_matches_brute_force(degree, gamma, coef0):
    rng = np.random.default_rng(6)
    a = rng.normal(size=(6, 3))
    b = rng.normal(size=(6, 3)) * 1.5 + 0.4
    expected = _brute_force_unbiased_mmd2(
        a, b, degree, 1.0 / 3 if gamma is None else gamma, coef0
    )
    mean, std = kernel_inception_distance(
        a, b, num_subsets=1, subset_size=6, degree=degree, gamma=gamma,
        coef0=coef0,
    )
    assert mean == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert std == 0.0


def test_kid_subset_size_clipped_to_smallest_set():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(6, 3))
    b = rng.normal(size=(9, 3)) + 1.0
    mean, _ = kernel_inception_distance(a, b, num_subsets=1, subset_size=1000)
    # a is fully used (permutation-invariant); reproduce b's draw.
    draw = np.random.default_rng(0)
    draw.choice(6, 6, replace=False)
    idx_b = draw.choice(9, 6, replace=False)
    expected = _brute_force_unbiased_mmd2(a, b[idx_b], 3, 1.0 / 3, 1.0)
    assert mean == pytest.approx(expected, rel=1e-10)


def test_kid_identical_near_zero_shifted_positive_and_deterministic():
    rng = np.random.default_rng(8)
    a = rng.normal(size=(200, 8))
    c = np.full(8, 1.0)
    same_mean, same_std = kernel_inception_distance(
        a, a, num_subsets=50, subset_size=50
    )
    shift_mean, shift_std = kernel_inception_distance(
        a, a + c, num_subsets=50, subset_size=50
    )
    assert shift_mean > 0.0
    assert shift_mean > 5 * shift_std
    assert abs(same_mean) < 0.05 * shift_mean
    assert same_std > 0.0
    again = kernel_inception_distance(a, a + c, num_subsets=50, subset_size=50)
    assert again == (shift_mean, shift_std)
    other_seed = kernel_inception_distance(
        a, a + c, num_subsets=50, subset_size=50, seed=1
    )
    assert other_seed != (shift_mean, shift_std)


def test_kid_validation():
    with pytest.raises(ValueError, match="dim"):
        kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        kernel_inception_distance(np.zeros((1, 3)), np.zeros((5, 3)))


# ---------------------------------------------------------------------------
# Inception score / classifier score
# ---------------------------------------------------------------------------


def test_is_uniform_rows_gives_one():
    probs = np.full((50, 10), 0.1)
    mean, std = inception_score(probs, splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_is_one_hot_equally_spread_gives_num_classes():
    num_classes = 4
    probs = np.eye(num_classes)[np.arange(40) % num_classes]
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(4.0, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_is_hand_example_two_classes():
    # p(y) = [0.75, 0.25]; KL_1 = log(4/3), KL_2 = 0.5 log(2/3) + 0.5 log 2.
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    expected = math.exp(0.5 * (math.log(4 / 3) + 0.5 * math.log(4 / 3)))
    assert expected == pytest.approx((4 / 3) ** 0.75)
    mean, std = inception_score(probs, splits=1)
    assert mean == pytest.approx(expected, rel=1e-12)
    assert std == 0.0


def test_is_split_order_is_preserved():
    # First half uniform (IS 1), second half one-hot over 3 classes (IS 3).
    probs = np.concatenate([np.full((6, 3), 1 / 3), np.eye(3)[[0, 1, 2] * 2]])
    mean, std = inception_score(probs, splits=2)
    assert mean == pytest.approx(2.0, rel=1e-12)
    assert std == pytest.approx(1.0, rel=1e-12)


def test_is_matches_reference_formula_on_random_probs():
    rng = np.random.default_rng(9)
    probs = rng.dirichlet(np.full(5, 0.3), size=23)
    scores = []
    for part in np.array_split(probs, 3):
        py = part.mean(0)
        kl = [np.sum(p * (np.log(p) - np.log(py))) for p in part]
        scores.append(np.exp(np.mean(kl)))
    mean, std = inception_score(probs, splits=3)
    assert mean == pytest.approx(np.mean(scores), rel=1e-10)
    assert std == pytest.approx(np.std(scores), rel=1e-8)
    assert classifier_score(probs, splits=3) == (mean, std)


def test_is_rejects_non_probabilities():
    with pytest.raises(ValueError, match="negative"):
        inception_score(np.array([[1.2, -0.2], [0.5, 0.5]]), splits=1)
    with pytest.raises(ValueError, match="sum to 1"):
        inception_score(np.array([[2.0, 1.0], [0.5, 0.5]]), splits=1)
    with pytest.raises(ValueError, match="splits"):
        inception_score(np.full((3, 2), 0.5), splits=4)
    with pytest.raises(ValueError, match="2-D"):
        inception_score(np.full(4, 0.25), splits=1)


# ---------------------------------------------------------------------------
# Improved precision and recall
# ---------------------------------------------------------------------------


def _brute_force_precision_recall(real, fake, k):
    def radii(x):
        d = cdist(x, x)
        return np.array(
            [np.sort(np.delete(d[i], i))[k - 1] for i in range(len(x))]
        )

    r_real, r_fake = radii(real), radii(fake)
    d = cdist(fake, real)
    precision = np.mean([(d[i] <= r_real).any() for i in range(len(fake))])
    recall = np.mean([(d[:, j] <= r_fake).any() for j in range(len(real))])
    return precision, recall


def test_pr_identical_sets():
    rng = np.random.default_rng(10)
    a = rng.normal(size=(30, 4))
    assert precision_recall(a, a.copy(), k=3) == (1.0, 1.0)


def test_pr_far_away_fake_set_has_zero_precision_and_recall():
    rng = np.random.default_rng(11)
    real = rng.normal(size=(30, 4))
    fake = rng.normal(size=(30, 4)) + 100.0
    assert precision_recall(real, fake, k=3) == (0.0, 0.0)


def test_pr_fake_covering_one_of_two_clusters():
    rng = np.random.default_rng(12)
    cluster_a = rng.normal(size=(20, 3))
    cluster_b = rng.normal(size=(20, 3)) + 50.0
    real = np.concatenate([cluster_a, cluster_b])
    fake = cluster_a + rng.normal(scale=1e-3, size=cluster_a.shape)
    precision, recall = precision_recall(real, fake, k=3)
    assert precision == 1.0
    assert recall == 0.5
    # A fake set drawn from the same distribution as cluster A only.
    fake2 = rng.normal(size=(40, 3))
    precision2, recall2 = precision_recall(real, fake2, k=3)
    assert precision2 > 0.8
    assert 0.4 <= recall2 <= 0.5


@pytest.mark.parametrize("batch_size", [1, 3, 7, 5000])
def test_pr_matches_brute_force_for_any_batch_size(batch_size):
    rng = np.random.default_rng(13)
    real = rng.normal(size=(17, 3))
    fake = rng.normal(size=(13, 3)) + 1.5
    for k in (1, 3):
        expected = _brute_force_precision_recall(real, fake, k)
        got = precision_recall(real, fake, k=k, batch_size=batch_size)
        assert got == pytest.approx(expected, abs=1e-12)
    # Non-trivial case: neither metric is 0 or 1.
    p, r = _brute_force_precision_recall(real, fake, 3)
    assert 0.0 < p < 1.0 and 0.0 < r < 1.0


def test_pr_validation():
    with pytest.raises(ValueError, match="dim"):
        precision_recall(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="k=3"):
        precision_recall(np.zeros((3, 2)), np.zeros((5, 2)), k=3)


# ---------------------------------------------------------------------------
# Class coverage / label accuracy
# ---------------------------------------------------------------------------


def test_class_coverage_single_class_is_zero():
    result = class_coverage(np.full(12, 2), num_classes=5)
    np.testing.assert_array_equal(result["histogram"], [0, 0, 12, 0, 0])
    np.testing.assert_allclose(result["frequencies"], [0, 0, 1, 0, 0])
    assert result["entropy"] == 0.0
    assert result["coverage"] == 0.0


def test_class_coverage_uniform_is_one():
    result = class_coverage(np.arange(30) % 10, num_classes=10)
    np.testing.assert_array_equal(result["histogram"], np.full(10, 3))
    assert result["entropy"] == pytest.approx(math.log(10), rel=1e-12)
    assert result["coverage"] == pytest.approx(1.0, rel=1e-12)


def test_class_coverage_exact_histogram_and_entropy():
    preds = np.array([0, 1, 1, 3, 3, 3, 3, 0])
    result = class_coverage(preds, num_classes=4)
    np.testing.assert_array_equal(result["histogram"], [2, 2, 0, 4])
    np.testing.assert_allclose(result["frequencies"], [0.25, 0.25, 0.0, 0.5])
    expected_entropy = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5))
    assert result["entropy"] == pytest.approx(expected_entropy, rel=1e-12)
    assert result["coverage"] == pytest.approx(
        expected_entropy / math.log(4), rel=1e-12
    )


def test_class_coverage_accepts_probabilities():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5],
                      [0.6, 0.3, 0.1]])
    result = class_coverage(probs, num_classes=3)
    np.testing.assert_array_equal(result["histogram"], [2, 1, 1])


def test_class_coverage_validation():
    with pytest.raises(ValueError, match="outside"):
        class_coverage(np.array([0, 1, 5]), num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        class_coverage(np.full((4, 2), 0.5), num_classes=3)


def test_label_accuracy_literal():
    assert label_accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    assert label_accuracy(probs, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="requested"):
        label_accuracy([0, 1, 2], [0, 1])
