"""Input preprocessing that travels inside a model, so serving clients send raw values."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seqgraph")
class Standardize(keras.layers.Layer):
    """(x - mean) / sqrt(variance) per feature, then clipped to [-clip, clip] when ``clip`` is set.

    The clip keeps a few extreme values (PROTEINS has one node attribute at z = 63 among
    values within z = 3) from setting the range of everything downstream, which an int8 model
    shares between all values of a tensor. Variance 0 is treated as 1.
    """

    def __init__(self, mean, variance, clip=None, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(m) for m in mean]
        self.variance = [float(v) for v in variance]
        if len(self.mean) != len(self.variance):
            raise ValueError(f"mean has {len(self.mean)} values, variance {len(self.variance)}")
        self.clip = clip if clip is None else float(clip)

    def call(self, x):
        scale = [1.0 / math.sqrt(v) if v > 0 else 1.0 for v in self.variance]
        z = (x - ops.convert_to_tensor(self.mean, x.dtype)) * ops.convert_to_tensor(scale, x.dtype)
        return z if self.clip is None else ops.clip(z, -self.clip, self.clip)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "variance": self.variance, "clip": self.clip}
