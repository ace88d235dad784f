"""Positional encodings added to a sequence (or an image patch grid): e^i + a^i in the lecture."""

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
    """Adds the fixed sinusoidal encoding to ``[batch, time, features]``; any length, no weights."""

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
    """Adds a trained vector per position to ``[batch, time, features]``; time <= max_length."""

    def __init__(self, max_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.max_length = int(max_length)
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[1] is not None and input_shape[1] > self.max_length:
            raise ValueError(f"sequence length {input_shape[1]} exceeds max_length {self.max_length}")
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.max_length, input_shape[-1]), initializer=self.initializer)

    def call(self, inputs):
        return inputs + ops.cast(self.embeddings[: ops.shape(inputs)[1]], inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length,
                "initializer": keras.initializers.serialize(self.initializer)}


@keras.saving.register_keras_serializable(package="seqgraph")
class SinusoidalPositionalEncoding2D(keras.layers.Layer):
    """Adds a 2-D sinusoidal encoding to a patch grid ``[batch, rows, cols, features]``.

    The first half of the features encodes the row, the second half the column (features must be
    even). Any grid size, no weights.
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
        grid = ops.concatenate([
            ops.broadcast_to(ops.expand_dims(rows, 1), (shape[1], shape[2], half)),
            ops.broadcast_to(ops.expand_dims(cols, 0), (shape[1], shape[2], half)),
        ], axis=-1)
        return inputs + ops.cast(grid, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}



@keras.saving.register_keras_serializable(package="seqgraph")
class ClassToken(keras.layers.Layer):
    """Prepends one trained vector to ``[batch, time, features]`` (ViT's [class] token): attention
    lets it gather what the classifier needs, read from position 0 of the last block. A padding
    mask gains a True for the token."""

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
