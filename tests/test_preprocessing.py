import keras
import numpy as np

from seqgraph import layers
from tests import reference


def test_standardize_matches_numpy_and_clips():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3)).astype("float32") * [1, 10, 100] + [0, 5, -20]
    x[0, 2] = 5000.0  # an outlier
    mean, variance = [0.0, 5.0, -20.0], [1.0, 100.0, 0.0]  # variance 0: left unscaled
    z = keras.ops.convert_to_numpy(layers.Standardize(mean, variance, clip=3.0)(x))
    expected = np.clip((x - mean) / np.sqrt([1.0, 100.0, 1.0]), -3, 3)
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-5)
    unclipped = keras.ops.convert_to_numpy(layers.Standardize(mean, variance)(x))
    assert unclipped[0, 2] == 5020.0


def test_standardize_round_trips_through_keras_file(tmp_path):
    inputs = keras.Input((2,))
    model = keras.Model(inputs, layers.Standardize([1.0, 2.0], [4.0, 9.0], clip=5.0)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = np.array([[3.0, 2.0], [100.0, -100.0]], "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), [[1.0, 0.0], [5.0, -5.0]], atol=1e-6)


def test_sequence_mask_zeroes_padding_and_carries_the_mask():
    x = np.ones((3, 5, 2), "float32")
    lengths = np.array([5, 2, 0], "int32")
    layer = layers.SequenceMask()
    expected = np.arange(5)[None] < lengths[:, None]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer([x, lengths])), np.repeat(expected[..., None], 2, -1)
    )
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.compute_mask([x, lengths])), expected)
    assert layers.SequenceMask(carry_mask=False).compute_mask([x, lengths]) is None
    # in a model, the mask reaches an RNN: outputs past the length repeat the last valid state
    inputs, lengths_in = keras.Input((None, 2)), keras.Input((), dtype="int32")
    out = keras.layers.SimpleRNN(3, return_sequences=True)(layers.SequenceMask()([inputs, lengths_in]))
    y = keras.ops.convert_to_numpy(keras.Model([inputs, lengths_in], out)([x, lengths]))
    np.testing.assert_allclose(y[1, 2:], np.repeat(y[1, 1:2], 3, 0), atol=1e-6)


def test_spec_augment_masks_bands_and_spans_in_training_only():
    x = np.ones((4, 100, 40), "float32")
    layer = layers.SpecAugment(freq_masks=2, freq_width=8, time_masks=2, time_width=0.1, seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    assert set(np.unique(y)) <= {0.0, 1.0}
    for example in y:
        zero_bands = np.all(example == 0, axis=0)  # features hidden at every step
        zero_steps = np.all(example == 0, axis=1)  # steps hidden in every feature
        assert zero_bands.sum() <= 2 * 8 and zero_steps.sum() <= 2 * 10
        # everything zeroed lies in a hidden band or a hidden span
        assert np.all((example == 1) | zero_bands[None, :] | zero_steps[:, None])
    assert np.any(y == 0) and not np.array_equal(y[0], y[1])  # drawn per example


def test_vtlp_matches_the_papers_warp():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 7, 40)).astype("float32")
    alphas = np.array([0.9, 0.95, 1.0, 1.1], "float32")
    layer = layers.VocalTractLengthPerturbation(20.0, 4000.0)
    y = keras.ops.convert_to_numpy(layer.warp(x, alphas))
    np.testing.assert_allclose(y, reference.vtlp(x, alphas, 20.0, 4000.0), atol=2e-4)
    np.testing.assert_allclose(y[2], x[2], atol=1e-4)  # alpha 1: unchanged
    other = layers.VocalTractLengthPerturbation(0.0, 8000.0, boundary=0.6)  # the paper's 16 kHz setting
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(other.warp(x, alphas)), reference.vtlp(x, alphas, 0.0, 8000.0, 0.6), atol=2e-4
    )


def test_vtlp_moves_a_tone_to_the_warped_frequency():
    """A 1 kHz tone warped by 1.1 peaks in the band of an 1.1 kHz tone; by 0.9, of a 900 Hz one."""
    mel = layers.MelSpectrogram(
        fft_length=256, sequence_stride=80, sequence_length=200, sampling_rate=8000, num_mel_bins=40, top_db=200.0
    )
    t = np.arange(8000) / 8000

    def features(hz):
        return np.transpose(
            keras.ops.convert_to_numpy(mel(np.sin(2 * np.pi * hz * t)[None].astype("float32"))), (0, 2, 1)
        )

    layer = layers.VocalTractLengthPerturbation(20.0, 4000.0)
    for alpha in (0.9, 1.1):
        warped = keras.ops.convert_to_numpy(layer.warp(features(1000.0), np.array([alpha])))
        np.testing.assert_array_equal(warped[0, 10:-10].argmax(-1), features(1000.0 * alpha)[0, 10:-10].argmax(-1))


def test_vtlp_draws_a_factor_per_example_in_training_only():
    x = np.random.default_rng(1).normal(size=(8, 5, 40)).astype("float32")
    layer = layers.VocalTractLengthPerturbation(20.0, 4000.0, seed=3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    alphas = keras.ops.convert_to_numpy(layers.VocalTractLengthPerturbation(20.0, 4000.0, seed=3).draw(8))
    assert np.all((alphas >= 0.9) & (alphas <= 1.1)) and len(np.unique(alphas)) == 8
    y = keras.ops.convert_to_numpy(layer(x, training=True))  # the same seed draws the same factors
    np.testing.assert_allclose(y, reference.vtlp(x, alphas, 20.0, 4000.0), atol=2e-4)


def test_utterance_mean_normalization_subtracts_each_sequences_own_mean():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 9, 4)).astype("float32") + np.array([[[5.0]], [[-2.0]], [[0.5]]], "float32")
    lengths = np.array([9, 4, 1])
    y = keras.ops.convert_to_numpy(layers.UtteranceMeanNormalization()([x, lengths]))
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(y[b], x[b] - x[b, :n].mean(0), atol=1e-5)  # padding out of the mean
    channel = np.array([3.0, -1.0, 0.0, 2.0], "float32")  # a constant added by the channel is removed
    shifted = keras.ops.convert_to_numpy(layers.UtteranceMeanNormalization()([x + channel, lengths]))
    np.testing.assert_allclose(shifted, y, atol=1e-5)
