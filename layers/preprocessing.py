"""Input preprocessing that travels inside a model, so serving clients send raw values."""

import math

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="seqgraph")
class Standardize(keras.layers.Layer):
    """Standardises features inside a model, so a served model takes raw values.

    ``y = (x - mean) / sqrt(variance)`` per feature (variance 0 is treated as 1), then clipped
    to ``[-clip, clip]``: the clip keeps a few extreme values (PROTEINS has one node attribute at
    z = 63 among values within z = 3) from setting the range of everything downstream, which an
    int8 model shares between all values of a tensor.

    Args:
        mean: per-feature means (a list).
        variance: per-feature variances.
        clip: bound of the result, in standard deviations (None: no clip).

    Call arguments:
        x: ``[..., features]``.

    Returns:
        The standardised features, same shape.

    Example:

    >>> Standardize([10.0, 0.0], [4.0, 1.0], clip=5.0)(np.array([[12.0, 1.0]])).numpy()
    array([[1., 1.]], dtype=float32)
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
    """Zeroes the steps of a padded batch past each sequence's length, and masks them.

    Zeroed padding reaches a following convolution as the zeros its own padding adds, so a
    sequence gets the same outputs alone or padded in a batch; the Keras mask ``t < length``
    goes on to the layers that take one (attention, RNNs).

    Args:
        carry_mask: pass the mask on (False before layers that take no mask: convolutions).

    Call arguments:
        inputs: ``[x [B, T, F], lengths [B]]``.

    Returns:
        x with steps ``t >= length`` zeroed (and the mask ``t < length``).

    Example:

    >>> SequenceMask()([np.ones((2, 5, 3), "float32"), np.array([5, 2])]).numpy()[1, :, 0]
    array([1., 1., 0., 0., 0.], dtype=float32)
    """

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
    """SpecAugment's masking (Park et al. 2019), in training only.

    Per example, ``freq_masks`` bands of up to ``freq_width`` features and ``time_masks`` spans
    of up to ``time_width`` x T steps of standardised features are set to 0 (their mean).

    Args:
        freq_masks: frequency bands masked per example.
        freq_width: the widest band, in features.
        time_masks: time spans masked per example.
        time_width: the longest span, as a share of the steps.
        seed: seed of the draws.

    Call arguments:
        x: ``[B, T, F]``.
        training: mask only in training.

    Returns:
        x with the masks applied, same shape.

    Example:

    >>> SpecAugment(seed=0)(np.ones((2, 100, 40), "float32"), training=True).shape
    TensorShape([2, 100, 40])
    """

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
        return {
            **super().get_config(),
            "freq_masks": self.freq_masks,
            "freq_width": self.freq_width,
            "time_masks": self.time_masks,
            "time_width": self.time_width,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="seqgraph")
class MelSpectrogram(keras.layers.MelSpectrogram):
    """``keras.layers.MelSpectrogram`` whose mel projection stays in float in int8 TFLite.

    The same arguments and values as Keras' layer, with the mel projection done band by band
    (each triangular filter gathers its few frequency bins and sums them weighted) instead of as a
    matrix product: dynamic-range int8 quantisation rounds a matrix product's input to int8 on
    each call, and a power spectrum spans about 100 dB where int8 keeps about 48, so quiet bands
    would read as silence (measured in docs/speech.md).

    Args:
        As ``keras.layers.MelSpectrogram``.

    Call arguments:
        inputs: waveforms ``[batch, samples]``.

    Returns:
        ``[batch, num_mel_bins, frames]`` (in dB with ``mag_exp=2``, as Keras').

    Example:

    >>> mel = MelSpectrogram(fft_length=256, sequence_stride=80, sequence_length=200,
    ...                      sampling_rate=8000, num_mel_bins=40)
    >>> mel(np.zeros((1, 8000), "float32")).shape
    TensorShape([1, 40, 101])
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        matrix = ops.convert_to_numpy(
            self.linear_to_mel_weight_matrix(
                num_mel_bins=self.num_mel_bins,
                num_spectrogram_bins=self.fft_length // 2 + 1,
                sampling_rate=self.sampling_rate,
                lower_edge_hertz=self.min_freq,
                upper_edge_hertz=self.max_freq,
            )
        )
        bins = [np.flatnonzero(matrix[:, m]) for m in range(self.num_mel_bins)]
        width = max(1, max(len(b) for b in bins))
        first = np.array([b[0] if len(b) else 0 for b in bins])
        index = np.minimum(first[:, None] + np.arange(width), matrix.shape[0] - 1)  # [mels, width]
        weight = np.take_along_axis(matrix.T, index, axis=1) * (np.arange(width) < [[len(b)] for b in bins])
        self._band_index, self._band_weight = index.astype("int32"), weight.astype("float32")

    def _melscale(self, inputs):
        bands = ops.take(inputs, self._band_index, axis=-1)  # [..., mels, width]
        return ops.sum(bands * ops.convert_to_tensor(self._band_weight, bands.dtype), axis=-1)
