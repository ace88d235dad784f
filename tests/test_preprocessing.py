import keras
import numpy as np

from seqgraph import layers


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
