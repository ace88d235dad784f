import os

import numpy as np
import pytest

from seqgraph.cli import quiet_tensorflow

if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
    quiet_tensorflow()  # TensorFlow's start-up messages, before a test module imports keras


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
