"""Spectral normalisation as SN-GAN defines it (Miyato et al. 2018, arXiv:1802.05957).

Each layer here keeps its raw kernel W as the trainable variable and computes, in every
forward pass, the reparametrised kernel ``W_bar = W / sigma(W)`` that it applies; W_bar is
never written back into the kernel. ``sigma(W) = u^T W v`` is the largest singular value
estimated by power iteration, with the singular vectors ``u``, ``v`` kept as non-trainable
state and treated as constants by the gradient, so that (the paper's eq. 12, for the loss
gradient G with respect to W_bar)

    dL/dW = (G - <G, W_bar> u v^T) / sigma(W)

As in the reference code (pfnet-research/sngan_projection ``SNLinear``, ``SNConvolution2D``,
``SNEmbedID``; PyTorch's ``torch.nn.utils.spectral_norm``):

* a forward pass with ``training=True`` runs ``power_iterations`` steps (the paper: 1) from
  the stored ``u`` and stores the new ``u`` and ``v``; a GAN step that calls D three times
  (real, fake, G's view) therefore advances the estimate three times, as the reference does;
* a forward pass with ``training=False`` runs no iteration and changes no state: it divides by
  ``u^T W v`` from the stored vectors (as PyTorch's eval mode), so inference is deterministic
  and matches the last training pass for the same W.

The matrix whose spectral norm is taken is the kernel as a linear map from the inputs
(rows: kernel taps x input channels, or the classes of an embedding) to the outputs
(columns): Dense ``(in, out)``; Conv2D ``(kh*kw*in, out)``; Conv2DTranspose ``(kh*kw*in, out)``
(Keras stores it ``(kh, kw, out, in)``); Embedding ``(classes, dim)``, as ``SNEmbedID``.
``u`` has the output size (the paper's u, for W of shape out x in) and ``v`` the input size.
``v`` starts at ``normalise(W u)`` of the initial kernel, so an untrained layer already
divides by a positive estimate.

Why not ``keras.layers.SpectralNormalization``: it assigns ``W / sigma`` to the kernel on each
training call and the layer then uses that variable as a plain weight, so no gradient flows
through sigma (dL/dW = G, without the ``-<G, W_bar> u v^T`` term) and the optimizer updates
the normalised weights themselves: a different method (tests/networks/test_spectral.py shows the
difference).

Distribution: u and v depend only on the (mirrored) kernel, never on a replica's data, so every
replica computes the same vectors; they are ``only_first_replica`` variables (as Keras'
optimizer step counter): the first replica's value is kept, with no all-reduce.
Mixed precision: the layers do not autocast their variables; sigma is computed in float32 from
the float32 kernel and only W_bar (and the bias) are cast to the compute dtype.
Saving: all four variables (kernel, bias, u, v) are saved and loaded by position, as
``keras.layers.Layer`` does (LoRA and quantization, which Dense/Conv/Embedding save specially,
are not supported here).
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

__all__ = ["SNDense", "SNConv2D", "SNConv2DTranspose", "SNEmbedding", "SpectralNormalized",
           "spectral_normalized"]


def _l2_normalize(x, eps):
    return x / (ops.sqrt(ops.sum(ops.square(x))) + eps)


class SpectralNormalized:
    """Mixin of the layers below: power-iteration state and the normalised kernel.

    A subclass names its kernel variable (``_sn_kernel``) and how the kernel becomes the
    ``(inputs, outputs)`` matrix (``_sn_matrix``), calls :meth:`_sn_build` at the end of
    ``build`` and :meth:`normalized_kernel` in ``call``.
    """

    def _sn_init(self, power_iterations, eps, kwargs):
        if int(power_iterations) != power_iterations or power_iterations < 1:
            raise ValueError(f"{type(self).__name__}: power_iterations must be an integer >= 1, "
                             f"got {power_iterations!r}")
        if eps <= 0:
            raise ValueError(f"{type(self).__name__}: eps must be > 0, got {eps!r}")
        self.power_iterations = int(power_iterations)
        self.eps = float(eps)
        return kwargs

    def add_weight(self, *args, **kwargs):
        """As Keras' ``add_weight``, never autocast: sigma is computed in float32 from the float32
        kernel, and only W_bar and the bias are cast to the compute dtype (by hand)."""
        kwargs["autocast"] = False
        return super().add_weight(*args, **kwargs)

    def save_own_variables(self, store):
        """All variables by position (Dense/Conv/Embedding would save only kernel and bias)."""
        layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        """All variables by position, as :meth:`save_own_variables` wrote them."""
        layers.Layer.load_own_variables(self, store)

    def _sn_kernel(self):
        raise NotImplementedError

    def _sn_matrix(self, kernel):
        raise NotImplementedError

    def _sn_build(self):
        shape = tuple(int(d) for d in self._sn_kernel().shape)
        cols = shape[-2] if isinstance(self, layers.Conv2DTranspose) else shape[-1]
        rows = math.prod(shape) // cols
        self.sn_u = self.add_weight(name="sn_u", shape=(cols,), initializer=self._initial_u, dtype="float32",
                                    trainable=False, aggregation="only_first_replica")
        self.sn_v = self.add_weight(name="sn_v", shape=(rows,), initializer=self._initial_v, dtype="float32",
                                    trainable=False, aggregation="only_first_replica")

    def _initial_u(self, shape, dtype=None):
        return _l2_normalize(keras.initializers.RandomNormal(stddev=1.0)(shape, dtype="float32"), self.eps)

    def _initial_v(self, shape, dtype=None):
        matrix = self._sn_matrix(ops.cast(ops.convert_to_tensor(self._sn_kernel()), "float32"))
        return _l2_normalize(ops.matmul(matrix, ops.convert_to_tensor(self.sn_u)), self.eps)

    def normalized_kernel(self, training=False):
        """``W / sigma(W)`` in the compute dtype; with ``training`` it first advances u, v."""
        kernel = ops.cast(ops.convert_to_tensor(self._sn_kernel()), "float32")
        matrix = self._sn_matrix(kernel)
        if training:
            constant = ops.stop_gradient(matrix)
            u = ops.convert_to_tensor(self.sn_u)
            for _ in range(self.power_iterations):
                v = _l2_normalize(ops.matmul(constant, u), self.eps)
                u = _l2_normalize(ops.matmul(ops.transpose(constant), v), self.eps)
            u, v = ops.stop_gradient(u), ops.stop_gradient(v)
            self.sn_u.assign(u)
            self.sn_v.assign(v)
        else:
            u, v = ops.convert_to_tensor(self.sn_u), ops.convert_to_tensor(self.sn_v)
        sigma = ops.sum(v * ops.matmul(matrix, u))
        return ops.cast(kernel / sigma, self.compute_dtype)

    def sigma(self):
        """The current estimate ``u^T W v`` from the stored vectors (float32 scalar)."""
        matrix = self._sn_matrix(ops.cast(ops.convert_to_tensor(self._sn_kernel()), "float32"))
        return ops.sum(ops.convert_to_tensor(self.sn_v) * ops.matmul(matrix, ops.convert_to_tensor(self.sn_u)))

    def _float_input(self, inputs):
        return ops.cast(inputs, self.compute_dtype)

    def _add_bias(self, outputs, rank=0):
        if not self.use_bias:
            return outputs
        bias = ops.cast(ops.convert_to_tensor(self.bias), self.compute_dtype)
        if rank and self.data_format == "channels_first":
            bias = ops.reshape(bias, (1, self.filters) + (1,) * rank)
        return ops.add(outputs, bias)

    def _sn_config(self, config):
        config.update(power_iterations=self.power_iterations, eps=self.eps)
        return config


@keras.saving.register_keras_serializable(package="ganzoo")
class SNDense(SpectralNormalized, layers.Dense):
    """``keras.layers.Dense`` applying ``W / sigma(W)`` (SN-GAN's ``SNLinear``)."""

    def __init__(self, units, power_iterations=1, eps=1e-12, **kwargs):
        kwargs = self._sn_init(power_iterations, eps, kwargs)
        if kwargs.get("lora_rank") or kwargs.get("quantization_config"):
            raise ValueError("SNDense does not support LoRA or quantization")
        super().__init__(units, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        self._sn_build()

    def _sn_kernel(self):
        return self._kernel

    def _sn_matrix(self, kernel):
        return kernel

    def call(self, inputs, training=False):
        x = ops.matmul(self._float_input(inputs), self.normalized_kernel(training))
        x = self._add_bias(x)
        return self.activation(x) if self.activation is not None else x

    def get_config(self):
        return self._sn_config(super().get_config())


class _SNConvMixin(SpectralNormalized):
    def _sn_init_conv(self, power_iterations, eps, kwargs):
        kwargs = self._sn_init(power_iterations, eps, kwargs)
        if kwargs.get("lora_rank"):
            raise ValueError(f"{type(self).__name__} does not support LoRA")
        return kwargs

    def build(self, input_shape):
        super().build(input_shape)
        self._sn_build()

    def get_config(self):
        return self._sn_config(super().get_config())


@keras.saving.register_keras_serializable(package="ganzoo")
class SNConv2D(_SNConvMixin, layers.Conv2D):
    """``keras.layers.Conv2D`` applying ``W / sigma(W)`` (SN-GAN's ``SNConvolution2D``); W is
    the ``(kh*kw*in, out)`` matrix."""

    def __init__(self, filters, kernel_size, power_iterations=1, eps=1e-12, **kwargs):
        super().__init__(filters, kernel_size, **self._sn_init_conv(power_iterations, eps, kwargs))

    def _sn_kernel(self):
        return self._kernel

    def _sn_matrix(self, kernel):
        return ops.reshape(kernel, (-1, kernel.shape[-1]))

    def call(self, inputs, training=False):
        x = self.convolution_op(self._float_input(inputs), self.normalized_kernel(training))
        x = self._add_bias(x, rank=self.rank)
        return self.activation(x) if self.activation is not None else x


@keras.saving.register_keras_serializable(package="ganzoo")
class SNConv2DTranspose(_SNConvMixin, layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` applying ``W / sigma(W)``; W is the ``(kh*kw*in, out)``
    matrix (PyTorch's ``spectral_norm`` takes the same one, with dim=1 for transposed convs)."""

    def __init__(self, filters, kernel_size, power_iterations=1, eps=1e-12, **kwargs):
        super().__init__(filters, kernel_size, **self._sn_init_conv(power_iterations, eps, kwargs))

    def _sn_kernel(self):
        return self.kernel

    def _sn_matrix(self, kernel):
        # Keras stores (kh, kw, out, in): swap to (kh, kw, in, out) so the columns are the outputs.
        return ops.reshape(ops.transpose(kernel, (0, 1, 3, 2)), (-1, kernel.shape[-2]))

    def call(self, inputs, training=False):
        x = ops.conv_transpose(self._float_input(inputs), self.normalized_kernel(training),
                               strides=list(self.strides), padding=self.padding, output_padding=self.output_padding,
                               dilation_rate=self.dilation_rate, data_format=self.data_format)
        x = self._add_bias(x, rank=self.rank)
        return self.activation(x) if self.activation is not None else x


@keras.saving.register_keras_serializable(package="ganzoo")
class SNEmbedding(SpectralNormalized, layers.Embedding):
    """``keras.layers.Embedding`` looking up rows of ``E / sigma(E)`` for the ``(classes, dim)``
    table E (sngan_projection's ``SNEmbedID``, used for the projection discriminator's class
    embedding)."""

    def __init__(self, input_dim, output_dim, power_iterations=1, eps=1e-12, **kwargs):
        kwargs = self._sn_init(power_iterations, eps, kwargs)
        if kwargs.get("lora_rank") or kwargs.get("quantization_config") or kwargs.get("mask_zero"):
            raise ValueError("SNEmbedding does not support LoRA, quantization or mask_zero")
        super().__init__(input_dim, output_dim, **kwargs)

    def build(self, input_shape=None):
        super().build(input_shape)
        self._sn_build()

    def _sn_kernel(self):
        return self._embeddings

    def _sn_matrix(self, kernel):
        return kernel

    def call(self, inputs, training=False):
        if inputs.dtype not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        return ops.take(self.normalized_kernel(training), inputs, axis=0)

    def compute_output_spec(self, inputs, training=False):
        """Embedding's output spec (``training`` only matters to the power iteration)."""
        return super().compute_output_spec(inputs)

    def get_config(self):
        return self._sn_config(super().get_config())


#: Plain Keras layer -> its spectrally normalised subclass.
_SPECTRAL = {layers.Dense: SNDense, layers.Conv2D: SNConv2D, layers.Conv2DTranspose: SNConv2DTranspose,
             layers.Embedding: SNEmbedding}


def spectral_normalized(layer):
    """The spectrally normalised twin of an unbuilt Dense/Conv2D/Conv2DTranspose/Embedding layer
    (same config, same name)."""
    if isinstance(layer, SpectralNormalized):
        return layer
    cls = _SPECTRAL.get(type(layer))
    if cls is None:
        raise TypeError(f"spectral normalisation supports {', '.join(c.__name__ for c in _SPECTRAL)}; "
                        f"got {type(layer).__name__} '{layer.name}'")
    if layer.built:
        raise ValueError(f"spectral_normalized() takes an unbuilt layer; '{layer.name}' is already built")
    return cls.from_config(layer.get_config())
