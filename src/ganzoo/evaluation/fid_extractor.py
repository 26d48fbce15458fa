"""The standard FID/KID/IS extractor: the 2015 Inception with an explicit protocol.

:class:`FIDInceptionExtractor` turns float images in [-1, 1] into the 2015 Inception's pool3
features (FID, KID, precision/recall) and its class probabilities (IS) the way the reference
tools do, each step named on the result's card:

1. **quantise** to uint8: ``floor(127.5 * (x + 1) + 0.5)`` clipped to [0, 255] (round half up, as
   StudioGAN's ``quantize_images`` and NVlabs' ``x * 127.5 + 128`` then ``uint8``), so generated
   images are scored as the PNG files a user would save; real images, already uint8, are unchanged;
2. grayscale is repeated to three channels;
3. **resize** to 299x299 (:mod:`ganzoo.evaluation.resize`) and **normalise** to [-1, 1]; and
4. the network (:mod:`ganzoo.evaluation.fid_inception`): pool3 and the 1,008 logits; IS takes the
   softmax of the logits without the ``fc`` bias (``pool3 @ W``, as OpenAI's improved-gan code,
   NVlabs and torch-fidelity) or with it (StudioGAN), over 10 splits or 1 (StudioGAN).

Steps 3 and 4 follow a preset (``protocol``), each reproducing a reference tool:

=============  ======================================  ==================  ===========  =================================
``protocol``   resize                                  normalise           IS           reproduces
=============  ======================================  ==================  ===========  =================================
``pytorch-fid`` bilinear, half-pixel centres            ``x / 127.5 - 1``   no bias, 10  pytorch-fid (which has no IS)
``studiogan``  as StudioGAN's ``--post_resizer``        ``x / 127.5 - 1``   bias, 1      StudioGAN's tables
               ``friendly`` (PIL bilinear)
``tf``         TF1 ``resize_bilinear`` (no half-pixel)  ``(x - 128) / 128``  no bias, 10  the 2015 graph: TTUR, NVlabs,
                                                                                         torch-fidelity, improved-gan
``clean``      PIL bicubic on float, clipped           ``(x - 128) / 128``  no bias, 10  clean-fid's default "clean"
=============  ======================================  ==================  ===========  =================================

When upsampling (CIFAR-10's 32 to 299) the ``pytorch-fid`` and ``studiogan`` resizes agree to
float precision (and with StudioGAN's ``legacy`` resizer); they differ when shrinking, where PIL
antialiases. The resize and the normalisation are linear and commute, so their order does not
matter except for ``clean``'s clip, done on [0, 255] as clean-fid does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from ganzoo.evaluation.features import FeatureExtractor

__all__ = ["FIDInceptionExtractor", "PROTOCOLS", "make_inception_extractor", "INCEPTION_NETWORKS"]

#: protocol -> (resize kind of ganzoo.evaluation.resize, normalisation, IS logits, IS splits, what it reproduces)
PROTOCOLS = {
    "pytorch-fid": ("bilinear", "127.5", "unbiased", 10, "pytorch-fid: bilinear (half-pixel) resize, x/127.5 - 1"),
    "studiogan": ("pil-bilinear", "127.5", "biased", 1,
                  "StudioGAN (InceptionV3_tf, --post_resizer friendly): PIL bilinear, x/127.5 - 1, IS with the fc "
                  "bias over 1 split"),
    "tf": ("tf1-bilinear", "128", "unbiased", 10,
           "the 2015 TF graph (TTUR, NVlabs, torch-fidelity): TF1 resize_bilinear, (x - 128)/128"),
    "clean": ("clean", "128", "unbiased", 10, "clean-fid 'clean': PIL bicubic resize on float, clipped, (x - 128)/128"),
}

#: ``--inception`` choices: the 2015 FID network, or Keras' ImageNet InceptionV3.
INCEPTION_NETWORKS = ("fid2015", "keras")

NETWORK_NAME = "inception-2015-12-05 (pytorch-fid port)"


class FIDInceptionExtractor(FeatureExtractor):
    """The 2015 FID Inception (pool3 features, IS probabilities) with the protocol of ``protocol``.

    Args:
        weights: a ``.pth`` / ``.weights.h5`` path, or None to find the standard file
            (:func:`ganzoo.evaluation.fid_weights.resolve_fid_weights`: env, cache, torch hub,
            download). ``"random"``: random weights (tests, benchmarks; never cached).
        protocol: ``"pytorch-fid"`` (default), ``"studiogan"``, ``"tf"`` or ``"clean"`` (see the
            module docstring).
        quantise: round images to uint8 first (the protocol; False only for experiments).
        is_logits: ``"unbiased"`` or ``"biased"``; default: the protocol's.
        check: require the standard weights (SHA-256 prefix 6726825d); False for other ports.
        cache: the cache folder (default ``$GANZOO_CACHE_DIR``).
        size: the network's input side (299 is the protocol; smaller for fast tests).
    """

    cacheable = True

    def __init__(self, weights: Optional[Union[str, Path]] = None, protocol: str = "pytorch-fid",
                 quantise: bool = True, is_logits: Optional[str] = None, check: bool = True,
                 cache: Optional[Union[str, Path]] = None, size: int = 299):
        from ganzoo.evaluation import fid_inception, fid_weights  # noqa: PLC0415

        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown FID protocol '{protocol}': choose one of {', '.join(PROTOCOLS)}")
        resize_kind, normalisation, default_logits, self.is_splits, _ = PROTOCOLS[protocol]
        is_logits = is_logits or default_logits
        if is_logits not in ("unbiased", "biased"):
            raise ValueError(f"is_logits must be 'unbiased' or 'biased', got {is_logits!r}")
        if size < 75:
            raise ValueError(f"the Inception needs images of at least 75x75, got size={size}")
        self.protocol, self.quantise, self.is_logits, self.size = protocol, bool(quantise), is_logits, int(size)
        self.resize_kind, self.normalisation = resize_kind, normalisation
        self.model = fid_inception.build_fid_inception((self.size, self.size, 3), outputs=("pool3", "logits"))
        if weights == "random":
            self.weights_file, self.source_sha256 = None, None
            self.cacheable = False
            self.digest = fid_weights.weights_digest(self.model.get_weights())
        else:
            path = fid_weights.resolve_fid_weights(weights, cache=cache, check=check)
            self.model.load_weights(str(path))
            provenance = fid_weights.read_provenance(path)
            self.digest = fid_weights.weights_digest(self.model.get_weights())
            if provenance["digest"] is not None and provenance["digest"] != self.digest:
                raise fid_weights.FIDWeightsError(
                    f"{path}: its weights do not match the digest recorded at conversion (damaged file?); delete it "
                    "and convert the .pth again")
            source = provenance["source_sha256"]
            if check and not fid_weights.is_standard(source):
                raise fid_weights.FIDWeightsError(
                    f"{path}: not converted from pytorch-fid's {fid_weights.PTH_NAME} (recorded source SHA-256: "
                    f"{source or 'none'}); convert that file with ganzoo.evaluation.fid_weights.convert_pth, or "
                    "pass check=False to use other weights knowingly")
            self.weights_file, self.source_sha256 = str(path), source
        self.standard = fid_weights.is_standard(self.source_sha256)
        self._fc_bias = self.model.get_layer("fc").bias
        tag = f"pth{self.source_sha256[:12]}" if self.source_sha256 else ("random" if weights == "random"
                                                                          else f"w{self.digest[:12]}")
        quant = "" if self.quantise else "-float"
        self.name = f"fid_inception_2015-{tag}-{self.protocol}{quant}-{self.size}px"

    # ------------------------------------------------------------ protocol
    def preprocess(self, images):
        """[-1, 1] floats -> the network's input: uint8 levels, 3 channels, resized, normalised."""
        import keras  # noqa: PLC0415

        ops = keras.ops
        levels = (images + 1.0) * 127.5
        if self.quantise:
            levels = ops.floor(ops.clip(levels + 0.5, 0.0, 255.0))
        if images.shape[-1] == 1:
            levels = ops.repeat(levels, 3, axis=-1)
        elif images.shape[-1] != 3:
            raise ValueError(f"the Inception takes 1 or 3 channels, got images of shape {tuple(images.shape)}")
        if tuple(images.shape[1:3]) != (self.size, self.size):
            from ganzoo.evaluation.resize import resize  # noqa: PLC0415

            levels = resize(levels, self.size, self.resize_kind, clip=(0.0, 255.0) if self.resize_kind == "clean"
                            else None)
        if self.normalisation == "128":
            return (levels - 128.0) / 128.0
        return levels / 127.5 - 1.0

    def __call__(self, images):
        import keras  # noqa: PLC0415

        ops = keras.ops
        pool3, logits = self.model(self.preprocess(ops.cast(images, "float32")), training=False)
        if self.is_logits == "unbiased":
            logits = logits - ops.cast(self._fc_bias, logits.dtype)
        return ops.cast(pool3, "float32"), ops.softmax(ops.cast(logits, "float32"), axis=-1)

    @property
    def has_probs(self) -> bool:
        return True

    def card(self) -> dict:
        """What makes the numbers comparable: network, weights, quantisation, resize, normalisation."""
        return {
            "network": NETWORK_NAME,
            "weights_sha256": self.source_sha256,
            "weights_digest": self.digest,
            "standard_weights": self.standard,
            "protocol": self.protocol,
            "quantise": "uint8, round half up" if self.quantise else "none (float images)",
            "resize": f"{self.resize_kind} to {self.size}x{self.size}",
            "normalise": "x/127.5 - 1" if self.normalisation == "127.5" else "(x - 128)/128",
            "is_logits": f"{self.is_logits} (fc {'without' if self.is_logits == 'unbiased' else 'with'} bias), "
                         "1008 classes",
            "is_splits": self.is_splits,
        }

    def describe(self) -> dict:
        return {**super().describe(), **self.card(), "weights_file": self.weights_file}


def make_inception_extractor(network: str = "fid2015", *, fid_weights=None, protocol: str = "pytorch-fid",
                             keras_weights: Optional[str] = "imagenet", resize: int = 299, logits: bool = True,
                             cache=None) -> FeatureExtractor:
    """The extractor behind ``--inception``: ``"fid2015"`` (the standard one; raises
    :class:`~ganzoo.evaluation.fid_weights.FIDWeightsError` with instructions when its weights
    are missing) or ``"keras"`` (Keras' ImageNet InceptionV3, comparable within ganzoo only)."""
    if network == "fid2015":
        return FIDInceptionExtractor(weights=fid_weights, protocol=protocol, cache=cache, size=resize)
    if network == "keras":
        from ganzoo.evaluation.features import InceptionExtractor  # noqa: PLC0415

        return InceptionExtractor(weights=keras_weights, resize=resize, logits=logits)
    raise ValueError(f"unknown Inception network '{network}': choose one of {', '.join(INCEPTION_NETWORKS)}")
