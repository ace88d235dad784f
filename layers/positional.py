"""Positional encodings added to a sequence or an image patch grid (``e^i + a^i`` in the lecture),
and ViT's class token."""

import keras
from keras import ops


def sinusoid(positions, dim, max_wavelength=10000.0):
    """Vaswani et al. 2017 table for float ``positions`` [T]: even channels sin, odd cos -> [T, dim]."""
    channel = ops.arange(dim)
    exponent = ops.cast(2 * (channel // 2), "float32") / float(dim)
    angle = ops.expand_dims(ops.cast(positions, "float32"), -1) / ops.power(max_wavelength, exponent)
    return ops.where(channel % 2 == 0, ops.sin(angle), ops.cos(angle))


@keras.saving.register_keras_serializable(package="seqgraph")
class SinusoidalPositionalEncoding(keras.layers.Layer):
    """Adds the fixed sinusoidal position encoding to a sequence (Vaswani et al. 2017).

    ``y[:, t, 2i] = x[:, t, 2i] + sin(t / max_wavelength^(2i / F))`` and
    ``y[:, t, 2i+1] = x[:, t, 2i+1] + cos(t / max_wavelength^(2i / F))``: the lecture's
    ``e^i + a^i``, a hand-made ``e^i``. Any length, no weights; masks pass through.

    Args:
        max_wavelength: the longest wavelength, in positions.

    Call arguments:
        inputs: ``[batch, time, features]``.

    Returns:
        The inputs plus the encoding, same shape.

    Example:

    >>> x = np.zeros((2, 50, 16), "float32")
    >>> SinusoidalPositionalEncoding()(x).shape
    TensorShape([2, 50, 16])
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = float(max_wavelength)
        self.supports_masking = True

    def call(self, inputs):
        table = sinusoid(ops.arange(ops.shape(inputs)[1]), inputs.shape[-1], self.max_wavelength)
        return inputs + ops.cast(table, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}


@keras.saving.register_keras_serializable(package="seqgraph")
class LearnedPositionalEmbedding(keras.layers.Layer):
    """Adds a trained vector per position to a sequence: the lecture's ``e^i`` learned from data.

    Args:
        max_length: the longest sequence; position t gets row t of a ``[max_length, features]``
            table.
        initializer: initializer of the table.

    Call arguments:
        inputs: ``[batch, time, features]`` with ``time <= max_length``.

    Returns:
        The inputs plus each position's vector, same shape.

    Example:

    >>> LearnedPositionalEmbedding(max_length=64)(np.zeros((2, 50, 16), "float32")).shape
    TensorShape([2, 50, 16])
    """

    def __init__(self, max_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.max_length = int(max_length)
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[1] is not None and input_shape[1] > self.max_length:
            raise ValueError(f"sequence length {input_shape[1]} exceeds max_length {self.max_length}")
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.max_length, input_shape[-1]), initializer=self.initializer
        )

    def call(self, inputs):
        return inputs + ops.cast(self.embeddings[: ops.shape(inputs)[1]], inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "max_length": self.max_length,
            "initializer": keras.initializers.serialize(self.initializer),
        }


@keras.saving.register_keras_serializable(package="seqgraph")
class SinusoidalPositionalEncoding2D(keras.layers.Layer):
    """Adds a 2-D sinusoidal encoding to a grid of patches (images as sets of patch vectors).

    The first half of the features gets ``SinusoidalPositionalEncoding``'s encoding of the
    row, the second half that of the column, so attention can tell where a patch lies in both
    directions. Any grid size, no weights.

    Args:
        max_wavelength: the longest wavelength, in rows or columns.

    Call arguments:
        inputs: ``[batch, rows, cols, features]``, features even.

    Returns:
        The inputs plus the encoding, same shape.

    Example:

    >>> SinusoidalPositionalEncoding2D()(np.zeros((2, 4, 4, 64), "float32")).shape
    TensorShape([2, 4, 4, 64])
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = float(max_wavelength)

    def build(self, input_shape):
        if input_shape[-1] % 2:
            raise ValueError(f"features must be even for a 2-D encoding, got {input_shape[-1]}")

    def call(self, inputs):
        shape = ops.shape(inputs)
        half = inputs.shape[-1] // 2
        rows = sinusoid(ops.arange(shape[1]), half, self.max_wavelength)  # [R, half]
        cols = sinusoid(ops.arange(shape[2]), half, self.max_wavelength)  # [C, half]
        grid = ops.concatenate(
            [
                ops.broadcast_to(ops.expand_dims(rows, 1), (shape[1], shape[2], half)),
                ops.broadcast_to(ops.expand_dims(cols, 0), (shape[1], shape[2], half)),
            ],
            axis=-1,
        )
        return inputs + ops.cast(grid, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}


@keras.saving.register_keras_serializable(package="seqgraph")
class ClassToken(keras.layers.Layer):
    """Prepends one trained vector to a sequence: ViT's [class] token (Dosovitskiy et al. 2021).

    Attention lets the token gather what a classifier needs; read it from position 0 of the last
    block. A padding mask gains a True for the token.

    Args:
        initializer: initializer of the token.

    Call arguments:
        inputs: ``[batch, time, features]``.

    Returns:
        ``[batch, time + 1, features]``, the token first.

    Example:

    >>> ClassToken()(np.zeros((2, 16, 64), "float32")).shape
    TensorShape([2, 17, 64])
    """

    def __init__(self, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        self.token = self.add_weight(name="token", shape=(1, 1, input_shape[-1]), initializer=self.initializer)

    def call(self, inputs):
        token = ops.broadcast_to(ops.cast(self.token, inputs.dtype), (ops.shape(inputs)[0], 1, inputs.shape[-1]))
        return ops.concatenate([token, inputs], axis=1)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.concatenate([ops.ones_like(mask[:, :1]), mask], axis=1)

    def compute_output_shape(self, input_shape):
        time = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], time, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "initializer": keras.initializers.serialize(self.initializer)}
