"""ganzoo.evaluation.resize against the implementations each kind names: PIL (clean-fid's "clean"),
torch F.interpolate ("bilinear"), TF1 resize_bilinear ("tf1-bilinear"), TF2 tf.image.resize
(the same formula as torch up to float32 coordinate rounding); hand-computed golden matrices;
the keras.ops path against the NumPy product, eager and traced.

Measured on this machine (max |ours - reference|, uniform [0, 255] float32 images, NumPy path):
1.5e-5 to 4.6e-5 (float32 rounding of 255) for "clean" vs PIL, "bilinear" vs torch and
"tf1-bilinear" vs TF1 at every size below; the matrices read off basis images are torch's and
TF1's bit for bit and PIL's to float32 rounding of each weight. Rounding the bilinear source
coordinate differently (float64, or twice in float32 as TF2's CPU kernel does, instead of the
one fused multiply-add torch uses) already gives 2.4e-4 (32->299) to 9e-4 (512->299) against
torch, so the 1e-4 tolerance checks the weights, not just the formula.
"""

from fractions import Fraction

import keras
import numpy as np
import pytest
from keras import ops

from ganzoo import seam
from ganzoo.evaluation.resize import RESIZE_KINDS, resize, resize_matrix, resize_numpy

ATOL = 1e-4  # on [0, 255] data

#: (input (H, W), output (h, w)): upsampling as for CIFAR/MNIST-sized GANs, downsampling (where
#: "clean" antialiases and the bilinear kinds do not), non-square, and the identity.
CASES = [
    ((32, 32), (299, 299)),
    ((28, 28), (299, 299)),
    ((64, 64), (299, 299)),
    ((512, 512), (299, 299)),
    ((400, 400), (299, 299)),
    ((20, 36), (299, 299)),
    ((299, 299), (299, 299)),
]
IDS = [f"{h}x{w}->{oh}x{ow}" for (h, w), (oh, ow) in CASES]


def _images(shape, seed=0, batch=1, channels=3):
    rng = np.random.default_rng(seed + shape[0] * 1000 + shape[1])
    return rng.uniform(0.0, 255.0, size=(batch, *shape, channels)).astype(np.float32)


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _compiled(fn):
    """``fn`` traced on this backend: ``jax.jit`` or ``tf.function``."""
    if seam.BACKEND == "jax":
        import jax
        return jax.jit(fn)
    import tensorflow as tf
    return tf.function(fn)


# ------------------------------------------------------------------- against the references

@pytest.mark.both_backends
@pytest.mark.parametrize("shape,out", CASES, ids=IDS)
def test_clean_matches_pil_float_bicubic(shape, out):
    """clean-fid's resizer: PIL mode "F" BICUBIC per channel (then clipped, which leaves
    in-range PIL output alone except where bicubic overshoots, tested separately)."""
    from PIL import Image
    x = _images(shape)
    ref = np.stack([np.stack([np.asarray(Image.fromarray(x[n, :, :, c], mode="F")
                                         .resize((out[1], out[0]), resample=Image.BICUBIC))
                              for c in range(x.shape[-1])], axis=-1) for n in range(x.shape[0])])
    np.testing.assert_allclose(resize_numpy(x, out, "clean", clip=False), ref, rtol=0, atol=ATOL)
    np.testing.assert_allclose(resize_numpy(x, out, "clean"), np.clip(ref, 0, 255), rtol=0, atol=ATOL)


@pytest.mark.both_backends
@pytest.mark.parametrize("shape,out", CASES, ids=IDS)
def test_pil_bilinear_matches_pil_float_bilinear(shape, out):
    """StudioGAN's --post_resizer friendly: PIL mode "F" BILINEAR per channel, not clipped."""
    from PIL import Image
    x = _images(shape)
    ref = np.stack([np.stack([np.asarray(Image.fromarray(x[n, :, :, c], mode="F")
                                         .resize((out[1], out[0]), resample=Image.BILINEAR))
                              for c in range(x.shape[-1])], axis=-1) for n in range(x.shape[0])])
    np.testing.assert_allclose(resize_numpy(x, out, "pil-bilinear"), ref, rtol=0, atol=ATOL)
    np.testing.assert_allclose(_np(resize(x, out, "pil-bilinear")), ref, rtol=0, atol=2 * ATOL)


@pytest.mark.parametrize("n", [28, 32, 64, 128])
def test_pil_bilinear_is_torch_bilinear_when_enlarging_but_not_when_shrinking(n):
    """Why StudioGAN's friendly and legacy resizers agree on CIFAR-10 (32 -> 299), and where
    they part: PIL antialiases when shrinking."""
    # to float32 rounding of torch's source coordinate (PIL works in double): a few 1e-6
    np.testing.assert_allclose(resize_matrix(n, 299, "pil-bilinear"), resize_matrix(n, 299, "bilinear"),
                               rtol=0, atol=5e-6)
    assert np.abs(resize_matrix(512, 299, "pil-bilinear") - resize_matrix(512, 299, "bilinear")).max() > 0.1


@pytest.mark.parametrize("shape,out", CASES, ids=IDS)
def test_bilinear_matches_tf2_image_resize(shape, out):
    """TF2 computes the source coordinate (i + .5) * scale - .5 with two float32 roundings on the
    CPU, torch (whose weights "bilinear" are) with one, so a few weights differ by one float32 step
    of the coordinate; the images agree to ~1e-3 on [0, 255] (measured up to 9.1e-4 at 512->299)."""
    import tensorflow as tf
    x = _images(shape, seed=1)
    ref = tf.image.resize(x, out, method="bilinear", antialias=False).numpy()
    np.testing.assert_allclose(resize_numpy(x, out, "bilinear"), ref, rtol=0, atol=2e-3)
    np.testing.assert_allclose(_np(resize(x, out, "bilinear")), ref, rtol=0, atol=2e-3)
    for n, o in zip(shape, out):
        basis = np.eye(n, dtype=np.float32).reshape(n, 1, n, 1)
        tf2 = tf.image.resize(basis, (1, o), method="bilinear").numpy()[:, 0, :, 0].T.astype(np.float64)
        diff = np.abs(tf2 - resize_matrix(n, o, "bilinear"))
        assert diff.max() <= np.spacing(np.float32(n))  # at most one step of the coordinate
        assert (diff.max(axis=1) > 0).mean() < 0.2  # and only in a few rows


@pytest.mark.parametrize("shape,out", CASES, ids=IDS)
def test_tf1_bilinear_matches_tf1_resize_bilinear(shape, out):
    import tensorflow as tf
    x = _images(shape, seed=2)
    ref = tf.compat.v1.image.resize_bilinear(x, out, align_corners=False, half_pixel_centers=False).numpy()
    np.testing.assert_allclose(resize_numpy(x, out, "tf1-bilinear"), ref, rtol=0, atol=ATOL)
    np.testing.assert_allclose(_np(resize(x, out, "tf1-bilinear")), ref, rtol=0, atol=ATOL)


@pytest.mark.both_backends
@pytest.mark.parametrize("shape,out", CASES, ids=IDS)
def test_bilinear_matches_torch_interpolate(shape, out):
    """What pytorch-fid's InceptionV3 (resize_input=True) and StudioGAN do before the network."""
    torch = pytest.importorskip("torch")
    x = _images(shape, seed=3)
    nchw = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    ref = torch.nn.functional.interpolate(nchw, size=out, mode="bilinear", align_corners=False,
                                          antialias=False).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(resize_numpy(x, out, "bilinear"), ref, rtol=0, atol=ATOL)


# Matrices read off basis images (one-hot rows) through each reference: the weights themselves.
MATRIX_CASES = [(32, 299), (28, 299), (64, 299), (512, 299), (400, 299), (20, 299), (36, 299), (299, 299),
                (7, 640), (299, 17)]


@pytest.mark.parametrize("n,o", MATRIX_CASES)
def test_matrices_are_the_references_weights(n, o):
    """"tf1-bilinear" is TF1's op bit for bit; "clean" is PIL's double-precision weights (PIL
    stores each float32-rounded when the height is left alone, hence 1e-7 relative)."""
    import tensorflow as tf
    from PIL import Image
    basis = np.eye(n, dtype=np.float32)
    tf1 = tf.compat.v1.image.resize_bilinear(basis.reshape(n, 1, n, 1), (1, o), align_corners=False,
                                             half_pixel_centers=False).numpy()[:, 0, :, 0].T
    np.testing.assert_array_equal(tf1.astype(np.float64), resize_matrix(n, o, "tf1-bilinear"))
    pil = np.stack([np.asarray(Image.fromarray(row[None, :], mode="F").resize((o, 1), resample=Image.BICUBIC))[0]
                    for row in basis], axis=1)
    np.testing.assert_allclose(pil, resize_matrix(n, o, "clean"), rtol=1e-7, atol=1e-9)


@pytest.mark.both_backends
@pytest.mark.parametrize("n,o", MATRIX_CASES)
def test_bilinear_matrix_is_torchs_bit_for_bit(n, o):
    torch = pytest.importorskip("torch")
    basis = torch.eye(n, dtype=torch.float32).reshape(n, 1, 1, n)
    ref = torch.nn.functional.interpolate(basis, size=(1, o), mode="bilinear", align_corners=False)[:, 0, 0, :]
    np.testing.assert_array_equal(ref.numpy().T.astype(np.float64), resize_matrix(n, o, "bilinear"))


def test_clean_antialiases_when_shrinking_and_the_bilinear_kinds_do_not():
    """512 -> 299: PIL stretches the bicubic kernel by 512/299 (6-7 taps per output pixel, fewer
    only where the border cuts it); the bilinear kinds read at most 2 source pixels, as the
    references do."""
    taps = {kind: (resize_matrix(512, 299, kind) != 0).sum(axis=1) for kind in RESIZE_KINDS}
    assert taps["clean"].max() == 7 and taps["clean"][2:-2].min() == 6
    assert taps["bilinear"].max() == 2 and taps["tf1-bilinear"].max() == 2
    # upsampling: the plain 4-tap bicubic
    assert (resize_matrix(32, 299, "clean") != 0).sum(axis=1).max() == 4


# ------------------------------------------------------------------- golden values by hand

def _fractions(rows):
    return np.array([[float(Fraction(v)) for v in row] for row in rows])


# 2 -> 4 (scale 1/2). bilinear: sources (i + .5)/2 - .5 = -.25 (clamped to 0), .25, .75, 1.25
# (upper neighbour clamped). tf1-bilinear: sources i/2 = 0, .5, 1, 1.5. clean: centres
# (i + .5)/2 = .25, .75, ...; taps 0 and 1 at distances .25/1.25 and .25/.75 from the kernel
# centre; Keys(a=-.5): k(.25) = 111/128, k(1.25) = -9/128, k(.75) = 29/128; normalised per row.
GOLDEN_UP = {
    "bilinear": [[1, 0], ["3/4", "1/4"], ["1/4", "3/4"], [0, 1]],
    "tf1-bilinear": [[1, 0], ["1/2", "1/2"], [0, 1], [0, 1]],
    "clean": [["37/34", "-3/34"], ["111/140", "29/140"], ["29/140", "111/140"], ["-3/34", "37/34"]],
    # the triangle at the same centres: row 0 keeps only tap 0 (tap 1 is 1.25 away), then
    # .75/.25 and .25/.75 (distances .25, .75), then tap 1 alone.
    "pil-bilinear": [[1, 0], ["3/4", "1/4"], ["1/4", "3/4"], [0, 1]],
}
# 4 -> 2 (scale 2). bilinear: sources 2(i + .5) - .5 = .5, 2.5. tf1-bilinear: 0, 2. clean: the
# kernel stretched 2x (support 4), centres 1 and 3, taps at k((x - 1 + .5)/2) for x = 0..3:
# k(-.25), k(.25), k(.75), k(1.25) = 111, 111, 29, -9 (/128), normalised by their sum 242.
GOLDEN_DOWN = {
    "bilinear": [["1/2", "1/2", 0, 0], [0, 0, "1/2", "1/2"]],
    "tf1-bilinear": [[1, 0, 0, 0], [0, 0, 1, 0]],
    "clean": [["111/242", "111/242", "29/242", "-9/242"], ["-9/242", "29/242", "111/242", "111/242"]],
    # the triangle stretched 2x (support 2), centres 1 and 3: taps 0..2 at tri(-.25, .25, .75) =
    # .75, .75, .25 (sum 1.75), and 1..3 mirrored: PIL averages 3 pixels where torch takes 2.
    "pil-bilinear": [["3/7", "3/7", "1/7", 0], [0, "1/7", "3/7", "3/7"]],
}


@pytest.mark.both_backends
@pytest.mark.parametrize("kind", sorted(RESIZE_KINDS))
def test_golden_matrices_by_hand(kind):
    np.testing.assert_allclose(resize_matrix(2, 4, kind), _fractions(GOLDEN_UP[kind]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(resize_matrix(4, 2, kind), _fractions(GOLDEN_DOWN[kind]), rtol=0, atol=1e-12)
    # and applied to a 2x2 image through keras.ops: A_h @ X @ A_w^T
    image = np.array([[0.0, 100.0], [200.0, 40.0]], dtype=np.float32)
    a = _fractions(GOLDEN_UP[kind])
    got = _np(resize(image[None, :, :, None], 4, kind, clip=False))[0, :, :, 0]
    np.testing.assert_allclose(got, a @ image @ a.T, rtol=0, atol=1e-4)


@pytest.mark.both_backends
@pytest.mark.parametrize("kind", sorted(RESIZE_KINDS))
@pytest.mark.parametrize("n", [1, 7, 299])
def test_identity_when_the_size_does_not_change(kind, n):
    np.testing.assert_array_equal(resize_matrix(n, n, kind), np.eye(n))
    x = _images((n, n), seed=4, batch=1)
    np.testing.assert_array_equal(_np(resize(x, n, kind)), x)


@pytest.mark.both_backends
@pytest.mark.parametrize("kind", sorted(RESIZE_KINDS))
@pytest.mark.parametrize("in_size,out_size", [(1, 5), (3, 299), (32, 299), (299, 32), (512, 299), (36, 20)])
def test_rows_are_weights_summing_to_one(kind, in_size, out_size):
    """A constant image stays constant (PIL normalises every row in float64; the bilinear weights
    lam and 1 - lam are float32 numbers, as in torch and TF)."""
    matrix = resize_matrix(in_size, out_size, kind)
    assert matrix.shape == (out_size, in_size) and matrix.dtype == np.float64
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=0, atol=1e-12 if kind == "clean" else 1e-7)
    if kind != "clean":
        assert matrix.min() >= 0.0


# ------------------------------------------------------------------- the keras.ops path

@pytest.mark.both_backends
@pytest.mark.parametrize("kind", sorted(RESIZE_KINDS))
@pytest.mark.parametrize("shape,out", [((32, 32), (299, 299)), ((20, 36), (299, 299)),
                                       ((96, 400), (299, 299)), ((28, 28), (45, 17))])
def test_keras_path_equals_the_numpy_product(kind, shape, out):
    x = _images(shape, seed=5)
    rows = np.einsum("oh,nhwc->nowc", resize_matrix(shape[0], out[0], kind), x.astype(np.float64))
    expected = np.einsum("pw,nowc->nopc", resize_matrix(shape[1], out[1], kind), rows)
    got = resize(x, out, kind, clip=False)
    assert tuple(got.shape) == (1, *out, 3) and keras.backend.standardize_dtype(got.dtype) == "float32"
    np.testing.assert_allclose(_np(got), expected, rtol=0, atol=ATOL)
    np.testing.assert_allclose(resize_numpy(x, out, kind, clip=False), expected, rtol=0, atol=ATOL)


@pytest.mark.both_backends
@pytest.mark.parametrize("kind", sorted(RESIZE_KINDS))
def test_traced_resize_equals_eager(kind):
    """Inside jax.jit (JAX) or tf.function (TensorFlow), uint8 input, square int size."""
    x = np.random.default_rng(6).integers(0, 256, size=(3, 28, 28, 3), dtype=np.uint8)
    eager = _np(resize(x, 299, kind))
    traced = _np(_compiled(lambda images: resize(images, 299, kind))(ops.convert_to_tensor(x)))
    np.testing.assert_allclose(traced, eager, rtol=0, atol=1e-4)
    np.testing.assert_allclose(eager, resize_numpy(x, 299, kind), rtol=0, atol=ATOL)


def test_tf_function_with_an_unknown_batch_size():
    import tensorflow as tf
    fn = tf.function(lambda images: resize(images, (40, 50), "clean"),
                     input_signature=[tf.TensorSpec((None, 20, 30, 3), tf.float32)])
    x = _images((20, 30), seed=7, batch=5)
    np.testing.assert_allclose(fn(x).numpy(), resize_numpy(x, (40, 50), "clean"), rtol=0, atol=ATOL)
    dynamic = tf.function(lambda images: resize(images, 299, "clean"),
                          input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)])
    with pytest.raises(ValueError, match="height and width must be static"):
        dynamic.get_concrete_function()


@pytest.mark.both_backends
def test_clean_clips_its_bicubic_overshoot_to_0_255_as_clean_fid_does():
    """A black/white step: bicubic rings past 255 and below 0 next to the edge (PIL keeps that),
    clean-fid clips; clip=False keeps PIL's values, clip=(lo, hi) uses the given range."""
    x = np.zeros((1, 8, 8, 1), dtype=np.float32)
    x[:, :, 4:] = 255.0
    raw = _np(resize(x, 32, "clean", clip=False))
    assert raw.max() > 260.0 and raw.min() < -5.0
    clipped = _np(resize(x, 32, "clean"))
    np.testing.assert_array_equal(clipped, np.clip(raw, 0.0, 255.0))
    np.testing.assert_array_equal(_np(resize(x, 32, "clean", clip=(10, 200))), np.clip(raw, 10.0, 200.0))
    # the bilinear kinds never leave the input range and are not clipped by default
    scaled = x - 1000.0
    assert _np(resize(scaled, 32, "bilinear")).min() == pytest.approx(-1000.0)


# ------------------------------------------------------------------- API and errors

@pytest.mark.both_backends
def test_unknown_kind_names_the_kinds():
    with pytest.raises(ValueError, match=r"unknown resize kind 'bicubic'.*'bilinear'.*'tf1-bilinear'.*'clean'"):
        resize_matrix(32, 299, "bicubic")
    with pytest.raises(ValueError, match="unknown resize kind"):
        resize(np.zeros((1, 4, 4, 3), np.float32), 8, "lanczos")


@pytest.mark.both_backends
def test_bad_sizes_shapes_and_clip_are_refused():
    x = np.zeros((1, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="size must be an int or a"):
        resize(x, (8, 8, 8), "bilinear")
    with pytest.raises(ValueError, match="positive integer"):
        resize(x, 0, "bilinear")
    with pytest.raises(ValueError, match="positive integer"):
        resize_matrix(4, 2.5, "clean")
    with pytest.raises(ValueError, match="4-D NHWC"):
        resize(x[0], 8, "bilinear")
    with pytest.raises(ValueError, match="clip"):
        resize(x, 8, "clean", clip=(255, 0))
    with pytest.raises(ValueError, match="clip"):
        resize(x, 8, "clean", clip="yes")


@pytest.mark.both_backends
def test_matrices_are_cached_and_read_only():
    a = resize_matrix(32, 299, "clean")
    assert resize_matrix(32, 299, "clean") is a
    with pytest.raises(ValueError):
        a[0, 0] = 1.0
    assert set(RESIZE_KINDS) == {"bilinear", "tf1-bilinear", "clean", "pil-bilinear"}
    assert all(isinstance(text, str) and text for text in RESIZE_KINDS.values())
