"""Shared test helpers."""

import keras
import pytest

BACKEND = keras.backend.backend()
tf_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="needs the TensorFlow backend")


def weights_by_name(layer):
    """{'query_kernel': array, ...} from a built layer (the last part of each weight's path)."""
    return {w.path.split("/")[-1]: keras.ops.convert_to_numpy(w) for w in layer.weights}


def randomise(layer, rng, scale=0.5):
    """Random values for every weight, so no test passes on zero-initialised parameters."""
    for w in layer.weights:
        w.assign(rng.normal(0, scale, w.shape).astype("float32"))


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)
