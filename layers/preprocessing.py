"""Input preprocessing that travels inside a model, so serving clients send raw values."""

import math

import keras
import numpy as np
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


@keras.saving.register_keras_serializable(package="seqgraph")
class SequenceMask(keras.layers.Layer):
    """``[x [B, T, F], lengths [B]]`` -> x with steps ``t >= length`` zeroed, carrying the Keras
    mask ``t < length`` to the layers after it (attention, RNNs). Zeroed padding reaches a
    following convolution as the zeros its own 'same' padding adds, so an utterance gets the same
    outputs alone or padded in a batch. ``carry_mask=False`` before layers that take no mask
    (convolutions)."""

    def __init__(self, carry_mask=True, **kwargs):
        super().__init__(**kwargs)
        self.carry_mask = bool(carry_mask)
        self.supports_masking = True

    def _valid(self, x, lengths):
        # step indices as a cumulative sum: no arange of a dimension unknown while a model is built
        steps = ops.cumsum(ops.ones_like(x[..., 0], dtype="int32"), axis=1) - 1
        return steps < ops.expand_dims(ops.cast(lengths, "int32"), -1)

    def call(self, inputs):
        x, lengths = inputs
        if x.shape[0] is None and lengths.shape[0] is not None and None not in x.shape[2:]:
            # the batch size of ``lengths`` where an op before (an STFT) lost it: TFLite lowers a
            # following RNN only with a static batch size
            x = ops.reshape(x, (lengths.shape[0], -1) + tuple(x.shape[2:]))
        return x * ops.expand_dims(ops.cast(self._valid(x, lengths), x.dtype), -1)

    def compute_mask(self, inputs, mask=None):
        return self._valid(*inputs) if self.carry_mask else None

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "carry_mask": self.carry_mask}


@keras.saving.register_keras_serializable(package="seqgraph")
class SpecAugment(keras.layers.Layer):
    """SpecAugment's masking (Park et al. 2019) on standardised features ``[B, T, F]``, in
    training only: ``freq_masks`` bands of up to ``freq_width`` features and ``time_masks`` spans
    of up to ``time_width`` x T steps set to 0 (the features' mean), drawn per example."""

    def __init__(self, freq_masks=2, freq_width=8, time_masks=2, time_width=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.freq_masks, self.freq_width = int(freq_masks), int(freq_width)
        self.time_masks, self.time_width = int(time_masks), float(time_width)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def _spans(self, batch, size, count, max_width):
        """[B, size] True inside ``count`` random spans of width 0..max_width per example (None
        for no spans)."""
        position = ops.expand_dims(ops.cast(ops.arange(size), "float32"), 0)
        length = ops.cast(size, "float32")
        hidden = None
        for _ in range(count):
            width = keras.random.uniform((batch, 1), seed=self.seed_generator) * max_width
            start = keras.random.uniform((batch, 1), seed=self.seed_generator) * (length - width)
            span = ops.logical_and(position >= start, position < start + width)
            hidden = span if hidden is None else ops.logical_or(hidden, span)
        return hidden

    def call(self, x, training=None):
        if not training:
            return x
        shape = ops.shape(x)
        batch, steps = shape[0], shape[1]
        hidden = ops.zeros_like(x, dtype="bool")
        hidden_time = self._spans(batch, steps, self.time_masks, self.time_width * ops.cast(steps, "float32"))
        if hidden_time is not None:
            hidden = ops.logical_or(hidden, ops.expand_dims(hidden_time, -1))
        hidden_freq = self._spans(batch, x.shape[-1], self.freq_masks, float(self.freq_width))
        if hidden_freq is not None:
            hidden = ops.logical_or(hidden, ops.expand_dims(hidden_freq, 1))
        return ops.where(hidden, ops.zeros_like(x), x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "freq_masks": self.freq_masks, "freq_width": self.freq_width,
                "time_masks": self.time_masks, "time_width": self.time_width, "seed": self.seed}


@keras.saving.register_keras_serializable(package="seqgraph")
class MelSpectrogram(keras.layers.MelSpectrogram):
    """Keras' MelSpectrogram with the mel projection done band by band (each triangular filter
    gathers its few frequency bins and sums them weighted) instead of as a matrix product, so that
    int8 TFLite leaves it in float. Dynamic-range quantisation rounds a matrix product's input to
    int8 on each call; the power spectrum spans about 100 dB and int8 keeps about 48, so the quiet
    bands read as silence (the speech model's WER went from 0.2% in float to 64% in int8). Same
    values as Keras' layer; the gather (at most 13 bins per band here) costs about 0.02 s more
    per training batch than Keras' matrix product, a few percent of a step."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        matrix = ops.convert_to_numpy(self.linear_to_mel_weight_matrix(
            num_mel_bins=self.num_mel_bins, num_spectrogram_bins=self.fft_length // 2 + 1,
            sampling_rate=self.sampling_rate, lower_edge_hertz=self.min_freq, upper_edge_hertz=self.max_freq))
        bins = [np.flatnonzero(matrix[:, m]) for m in range(self.num_mel_bins)]
        width = max(1, max(len(b) for b in bins))
        first = np.array([b[0] if len(b) else 0 for b in bins])
        index = np.minimum(first[:, None] + np.arange(width), matrix.shape[0] - 1)  # [mels, width]
        weight = np.take_along_axis(matrix.T, index, axis=1) * (np.arange(width) < [[len(b)] for b in bins])
        self._band_index, self._band_weight = index.astype("int32"), weight.astype("float32")

    def _melscale(self, inputs):
        bands = ops.take(inputs, self._band_index, axis=-1)  # [..., mels, width]
        return ops.sum(bands * ops.convert_to_tensor(self._band_weight, bands.dtype), axis=-1)
