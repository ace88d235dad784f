import keras
import numpy as np

import layers


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
