"""The speech recogniser (log-mel features inside the model, convolutional subsampling, truncated
self-attention blocks, a bidirectional peephole LSTM, CTC over characters) and its CTC trainer."""

import keras
import numpy as np
from keras import ops

from seqgraph import layers
from seqgraph.datasets import speech

NUM_CLASSES = len(speech.ALPHABET) + 1  # + the CTC blank, class 0
SUBSAMPLING = 4  # two stride-2 convolutions: one model step per 40 ms


def hop(sample_rate):
    """Samples between feature frames: 10 ms (80 at 8 kHz)."""
    return sample_rate // 100


def fft_length(sample_rate):
    """The FFT of a 25 ms window: the power of two that holds it (256 at 8 kHz, 512 at 16 kHz)."""
    return 1 << (sample_rate // 40 - 1).bit_length()


def log_mel(mels=40, sample_rate=speech.SAMPLE_RATE):
    """Keras' MelSpectrogram (25 ms Hann windows every 10 ms, 20 Hz to half ``sample_rate``), in
    dB, with its mel projection kept in float by int8 TFLite (``layers.MelSpectrogram``). Its
    top_db clip takes the maximum over the whole batch, which would make an utterance's features
    depend on its batch-mates: 200 dB is beyond the 1e-10 power floor's range, so it never clips."""
    return layers.MelSpectrogram(
        fft_length=fft_length(sample_rate),
        sequence_stride=hop(sample_rate),
        sequence_length=sample_rate // 40,
        sampling_rate=sample_rate,
        num_mel_bins=mels,
        min_freq=20.0,
        max_freq=sample_rate / 2,
        top_db=200.0,
        name="log_mel",
    )


def sample_rate_of(model):
    """The sample rate a recogniser takes (its log-mel layer's)."""
    return int(model.get_layer("log_mel").sampling_rate)


def frames_for(samples, sample_rate=speech.SAMPLE_RATE):
    """Feature frames of ``samples`` samples (the STFT is centred: one frame per hop, plus one)."""
    return samples // hop(sample_rate) + 1


def steps_for(frames):
    """Model steps after the two stride-2 convolutions (padded by one on each side)."""
    return (frames + SUBSAMPLING - 1) // SUBSAMPLING


def build_model(
    stats,
    sample_rate=speech.SAMPLE_RATE,
    mels=40,
    dim=96,
    blocks=2,
    heads=4,
    window=8,
    ffn_dim=192,
    lstm_units=96,
    dropout=0.1,
    spec_augment=True,
    vtlp=False,
    utterance_norm=False,
):
    """The recogniser: ``{"waveform" [B, S] float32 at ``sample_rate``, "lengths" [B] int32}`` ->
    ``{"logits" [B, T, classes], "lengths" [B]}``.

    Each waveform is scaled to peak 1 first; ``stats`` (mean, variance per mel band, from
    training audio) standardise the features; frames past an utterance's end are zeroed, so
    padding never reaches its outputs. ``vtlp`` and ``spec_augment`` change the features in
    training only; ``utterance_norm`` subtracts each utterance's mean feature per band.
    ``window`` is the attention radius in model steps (8 = +-320 ms; None: full attention)."""
    waveform = keras.Input((None,), name="waveform")
    lengths = keras.Input((), dtype="int32", name="lengths")
    # Samples past an utterance's end are zeroed and one FFT of zeros appended, so its last frames
    # see zeros whether it comes alone (the STFT would reflect its end) or padded in a batch.
    x = layers.SequenceMask(carry_mask=False, name="sample_mask")([keras.layers.Reshape((-1, 1))(waveform), lengths])
    # Peak-normalised: a recording's gain would otherwise shift every log-mel value.
    x = x / keras.ops.maximum(keras.ops.max(keras.ops.abs(x), axis=1, keepdims=True), 1e-4)
    x = keras.layers.Reshape((-1,))(keras.layers.ZeroPadding1D((0, fft_length(sample_rate)))(x))
    mel = log_mel(mels, sample_rate)
    x = keras.layers.Permute((2, 1), name="frames_first")(mel(x))
    if vtlp:
        x = layers.VocalTractLengthPerturbation(mel.min_freq, mel.max_freq, name="vtlp")(x)
    x = layers.Standardize(*stats, clip=6.0, name="standardize")(x)
    frame_lengths = frames_for(lengths, sample_rate)
    if utterance_norm:
        x = layers.UtteranceMeanNormalization(name="utterance_mean")([x, frame_lengths])
    if spec_augment:
        x = layers.SpecAugment(name="spec_augment")(x)
    x = layers.SequenceMask(carry_mask=False, name="frame_mask")([x, frame_lengths])
    for i in range(2):  # explicit padding: 'same' would pad the left by 0 or 1 with the length's parity
        x = keras.layers.ZeroPadding1D(1)(x)
        x = keras.layers.Conv1D(dim, 3, strides=2, activation="gelu", name=f"subsample_{i}")(x)
    step_lengths = steps_for(frame_lengths)
    x = layers.SequenceMask(name="step_mask")([x, step_lengths])  # its mask reaches attention and LSTM
    x = layers.SinusoidalPositionalEncoding(name="positional_encoding")(x)
    for i in range(blocks):
        h = keras.layers.LayerNormalization(epsilon=1e-6)(x)
        h = layers.MultiHeadSelfAttention(heads, dim // heads, window=window, dropout=dropout, name=f"attention_{i}")(h)
        x = keras.layers.Add()([x, keras.layers.Dropout(dropout)(h)])
        h = keras.layers.LayerNormalization(epsilon=1e-6)(x)
        h = keras.layers.Dense(ffn_dim, activation="gelu")(h)
        x = keras.layers.Add()([x, keras.layers.Dropout(dropout)(keras.layers.Dense(dim)(h))])
    x = keras.layers.Bidirectional(layers.PeepholeLSTM(lstm_units, return_sequences=True), name="bilstm")(x)
    logits = keras.layers.Dense(NUM_CLASSES, name="logits")(keras.layers.Dropout(dropout)(x))
    return keras.Model(
        {"waveform": waveform, "lengths": lengths},
        {"logits": logits, "lengths": step_lengths},
        name="speech_recognizer",
    )


def feature_stats(utterances, mels, limit=300, sample_rate=speech.SAMPLE_RATE):
    """Mean and variance of each log-mel band over the frames of up to ``limit`` utterances
    (peak-normalised, as the model sees them)."""
    layer = log_mel(mels, sample_rate)
    waves = [u.load(sample_rate) for u in utterances[:limit]]
    frames = [np.asarray(layer((w / max(np.abs(w).max(), 1e-4))[None]))[0].T for w in waves]
    frames = np.concatenate(frames)
    return frames.mean(0).tolist(), np.maximum(frames.var(0), 1e-3).tolist()


def trainer(acoustic):
    """``acoustic`` wrapped for ``fit``: the loss is CTC over each utterance's own number of steps."""
    import tensorflow as tf

    class CTCTrainer(keras.Model):
        def __init__(self):
            super().__init__()
            self.acoustic = acoustic

        def call(self, inputs, training=False):
            return self.acoustic(inputs, training=training)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            label_lengths = ops.sum(ops.cast(ops.not_equal(y, -1), "int32"), axis=1)
            labels = ops.where(ops.equal(y, -1), ops.zeros_like(y), y)
            loss = ops.mean(layers.ctc_loss(labels, label_lengths, y_pred["logits"], y_pred["lengths"]))
            # Under tf.distribute the replicas' gradients are summed: each replica's mean counts 1/R,
            # as Keras' own losses do (and its loss tracker multiplies the R back).
            return loss / tf.distribute.get_strategy().num_replicas_in_sync

    return CTCTrainer()


def transcribe_batch(model, utterances, beam=0, batch_size=32, words=None):
    """Texts of ``utterances``, batched by length: greedy CTC decoding, beam search over
    characters of width ``beam``, or with ``words`` (a ``decoding.WordDecoder``) beam search over
    the words of a lexicon scored by a language model."""
    texts = [None] * len(utterances)
    rate = sample_rate_of(model)
    ds, _ = speech.tf_dataset(utterances, batch_size, sample_rate=rate)
    order = np.concatenate(speech.length_batches([u.samples(rate) for u in utterances], batch_size))
    done = 0
    for inputs, _ in ds:
        out = model(inputs, training=False)
        if words is not None:
            logits, lengths = ops.convert_to_numpy(out["logits"]), ops.convert_to_numpy(out["lengths"])
            for row, steps in zip(logits, lengths):
                texts[order[done]] = words(row[:steps])
                done += 1
            continue
        if beam:
            ids = ops.convert_to_numpy(layers.ctc_beam_decode(out["logits"], out["lengths"], beam_width=beam)[0][0])
        else:
            ids = ops.convert_to_numpy(layers.ctc_greedy_decode(out["logits"], out["lengths"]))
        for row in ids:
            texts[order[done]] = speech.decode(row)
            done += 1
    return texts


def score(model, utterances, beam=0, words=None):
    """``{"wer", "cer", "hypotheses"}`` (jiwer) of ``model`` on ``utterances`` (decoded as
    ``transcribe_batch`` decodes)."""
    import jiwer

    hypotheses = transcribe_batch(model, utterances, beam, words=words)
    references = [u.transcript for u in utterances]
    return {
        "wer": float(jiwer.wer(references, hypotheses)),
        "cer": float(jiwer.cer(references, hypotheses)),
        "hypotheses": hypotheses,
    }
