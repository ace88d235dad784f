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


def _valid_steps(x, lengths):
    """``[B, T]``: True where step ``t`` of ``x`` ([B, T, ...]) is before its sequence's length."""
    # step indices as a cumulative sum: no arange of a dimension unknown while a model is built
    steps = ops.cumsum(ops.ones_like(x[..., 0], dtype="int32"), axis=1) - 1
    return steps < ops.expand_dims(ops.cast(lengths, "int32"), -1)


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

    def call(self, inputs):
        x, lengths = inputs
        if x.shape[0] is None and lengths.shape[0] is not None and None not in x.shape[2:]:
            # the batch size of ``lengths`` where an op before (an STFT) lost it: TFLite lowers a
            # following RNN only with a static batch size
            x = ops.reshape(x, (lengths.shape[0], -1) + tuple(x.shape[2:]))
        return x * ops.expand_dims(ops.cast(_valid_steps(x, lengths), x.dtype), -1)

    def compute_mask(self, inputs, mask=None):
        return _valid_steps(*inputs) if self.carry_mask else None

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "carry_mask": self.carry_mask}


@keras.saving.register_keras_serializable(package="seqgraph")
class UtteranceMeanNormalization(keras.layers.Layer):
    """Subtracts each sequence's own mean of each feature over its valid steps (cepstral mean
    normalisation, applied to log-mel features): a fixed filter on the recording channel (a
    microphone, a room's colouring) adds a constant to every frame of a log spectrum, and goes.

    Args:
        None beyond Keras' (``name``, ...).

    Call arguments:
        inputs: ``[x [B, T, F], lengths [B]]``; steps ``t >= length`` are padding: they are left
            out of the mean (and come out shifted like the rest; mask them after).

    Returns:
        ``x - mean over t < length of x``, same shape.

    Example:

    >>> x = np.array([[[1.0], [3.0], [9.0]]], "float32")
    >>> UtteranceMeanNormalization()([x, np.array([2])]).numpy()[0, :, 0]
    array([-1.,  1.,  7.], dtype=float32)
    """

    def call(self, inputs):
        x, lengths = inputs
        valid = ops.expand_dims(ops.cast(_valid_steps(x, lengths), x.dtype), -1)
        count = ops.reshape(ops.cast(ops.maximum(lengths, 1), x.dtype), (-1, 1, 1))
        return x - ops.sum(x * valid, axis=1, keepdims=True) / count

    def compute_output_shape(self, input_shape):
        return input_shape[0]


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


def _hertz_to_mel(hertz, log1p=np.log1p):
    """The HTK mel scale, as Keras' and TensorFlow's mel filterbanks use it (``log1p``:
    ``ops.log1p`` for tensors)."""
    return 1127.0 * log1p(hertz / 700.0)


@keras.saving.register_keras_serializable(package="seqgraph")
class VocalTractLengthPerturbation(keras.layers.Layer):
    """Vocal tract length perturbation (Jaitly & Hinton 2013) of mel features, in training only.

    Per example, a warp factor ``alpha`` is drawn from ``[1 - max_warp, 1 + max_warp]`` and the
    frequency axis is warped piecewise linearly: ``f -> alpha f`` up to a boundary, then the
    line that keeps ``max_freq`` in place:

        f' = alpha f                                          if f <= b min(alpha, 1) / alpha
        f' = top - (top - b min(alpha, 1)) / (top - b min(alpha, 1) / alpha) (top - f)  otherwise

    with ``top = max_freq`` and ``b = boundary x max_freq``. Band ``j`` (centre ``c_j`` on the mel
    scale of ``keras.layers.MelSpectrogram``) takes the value the input has at the frequency
    the warp sends to ``c_j``, interpolated linearly between the input's bands: a speaker with
    a shorter (``alpha > 1``) or longer vocal tract, pitch and formants moved together, tempo
    unchanged.

    Args:
        min_freq: the lowest frequency of the mel bands (as given to the mel layer).
        max_freq: the highest (half the sample rate for the full band).
        max_warp: the largest change of ``alpha`` from 1 (0.1: 0.9 to 1.1, the paper's range).
        boundary: where the linear warp ends, as a share of ``max_freq`` (0.8; the paper's
            4,800 Hz of 8,000 is 0.6, for 16 kHz audio whose formants sit lower in the band).
        seed: seed of the draws.

    Call arguments:
        x: ``[B, T, bands]`` mel features (log or linear).
        training: warp only in training.

    Returns:
        x warped, same shape.

    Example:

    >>> layer = VocalTractLengthPerturbation(20.0, 4000.0, seed=0)
    >>> layer(np.ones((2, 100, 40), "float32"), training=True).shape
    TensorShape([2, 100, 40])
    """

    def __init__(self, min_freq, max_freq, max_warp=0.1, boundary=0.8, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.min_freq, self.max_freq = float(min_freq), float(max_freq)
        self.max_warp, self.boundary = float(max_warp), float(boundary)
        if not 0 <= self.max_warp < 1 or not 0 < self.boundary < 1:
            raise ValueError(f"max_warp must be in [0, 1) and boundary in (0, 1), got {max_warp}, {boundary}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def draw(self, batch):
        """``[batch]`` warp factors, uniform in ``[1 - max_warp, 1 + max_warp]``."""
        return 1.0 + self.max_warp * keras.random.uniform((batch,), -1.0, 1.0, seed=self.seed_generator)

    def warp(self, x, alpha):
        """``x`` ([B, T, bands]) warped by ``alpha`` ([B]), as described above."""
        bands = x.shape[-1]
        edges = np.linspace(_hertz_to_mel(self.min_freq), _hertz_to_mel(self.max_freq), bands + 2)
        centres = 700.0 * np.expm1(edges[1:-1] / 1127.0)
        alpha = ops.expand_dims(ops.cast(alpha, "float32"), -1)  # [B, 1]
        top = self.max_freq
        cut = self.boundary * top * ops.minimum(alpha, 1.0)  # the boundary after the warp
        out = ops.convert_to_tensor(centres[None], "float32")
        source = ops.where(out <= cut, out / alpha, top - (top - out) * (top - cut / alpha) / (top - cut))
        position = (_hertz_to_mel(source, ops.log1p) - edges[1]) / (edges[2] - edges[1])
        position = ops.clip(position, 0.0, bands - 1.0)  # [B, bands out], in input bands
        band = ops.cast(ops.arange(bands), "float32")[None, :, None]
        weights = ops.relu(1.0 - ops.abs(band - ops.expand_dims(position, 1)))  # [B, in, out]: linear interpolation
        return ops.einsum("btf,bfg->btg", x, ops.cast(weights, x.dtype))

    def call(self, x, training=None):
        if not training or self.max_warp == 0:
            return x
        return self.warp(x, self.draw(ops.shape(x)[0]))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "min_freq": self.min_freq,
            "max_freq": self.max_freq,
            "max_warp": self.max_warp,
            "boundary": self.boundary,
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
