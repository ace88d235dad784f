"""Fresh layers: every randomly initialised weight is a draw of its own.

A Keras 3 initializer instance that is unseeded (or seeded with an int) returns the same values
on every call; a layer that passes one instance to several ``add_weight`` calls would start, say,
its query, key and value kernels equal. The other tests overwrite every weight, so only these
see what a freshly built layer holds.
"""

import itertools

import keras
import numpy as np
import pytest

from seqgraph import layers
from tests.helpers import to_numpy

F = 8
GRAPH = [
    np.random.default_rng(0).normal(size=(5, F)).astype("float32"),
    np.array([0, 1, 2, 3], "int32"),
    np.array([1, 2, 3, 4], "int32"),
]
SEQUENCE = np.random.default_rng(0).normal(size=(2, 6, F)).astype("float32")
WORDS = [np.array([1, 2], "int32"), np.array([[1, 2, 3], [4, 5, 6]], "int32")]

# name -> (layer factory taking the kernel initializer, an input)
LAYERS = {
    "attention_dot": (lambda init: layers.MultiHeadSelfAttention(4, 16, kernel_initializer=init), SEQUENCE),
    "attention_additive": (
        lambda init: layers.MultiHeadSelfAttention(4, 16, score="additive", window=2, kernel_initializer=init),
        SEQUENCE,
    ),
    "peephole_lstm": (
        lambda init: layers.PeepholeLSTM(16, kernel_initializer=init, recurrent_initializer=init),
        SEQUENCE,
    ),
    "gin": (lambda init: layers.GINConv(16), GRAPH),
    "gat": (lambda init: layers.GATConv(16, heads=4, kernel_initializer=init), GRAPH),
    "cheb": (lambda init: layers.ChebConv(16, K=3, kernel_initializer=init), GRAPH),
    "sage": (lambda init: layers.GraphSAGEConv(16, kernel_initializer=init), GRAPH),
    "skipgram": (lambda init: layers.SkipGram(50, 16), WORDS),
    "learned_position": (lambda init: layers.LearnedPositionalEmbedding(16, initializer=init), SEQUENCE),
}


def fresh_random_weights(make, inputs, init):
    """{path: values} of a new layer's random weights (not biases, zero tables or peepholes)."""
    layer = make(init)
    layer(inputs)
    values = {w.path: to_numpy(w).ravel() for w in layer.weights if not w.path.endswith("bias")}
    return {path: v for path, v in values.items() if v.std() > 0}


def correlated(a, b):
    """Whether the first values of two weights are (nearly) proportional: the same draw, scaled."""
    n = min(len(a), len(b))
    return abs(np.corrcoef(a[:n], b[:n])[0, 1]) > 0.5


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("init", ["glorot_uniform", "seeded"])
def test_no_two_fresh_weights_of_a_layer_are_the_same_draw(name, init):
    make, inputs = LAYERS[name]
    init = keras.initializers.GlorotUniform(seed=7) if init == "seeded" else keras.initializers.get(init)
    weights = fresh_random_weights(make, inputs, init)
    for (path_a, a), (path_b, b) in itertools.combinations(weights.items(), 2):
        assert not correlated(a, b), f"{path_a} and {path_b} start as the same draw"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_two_fresh_layers_differ(name):
    make, inputs = LAYERS[name]
    first = fresh_random_weights(make, inputs, "glorot_uniform")
    second = fresh_random_weights(make, inputs, "glorot_uniform")
    assert first, f"{name} has no random weights"
    for a, b in zip(first.values(), second.values()):
        assert not correlated(a, b)


def test_an_int_seed_still_reproduces_a_layer():
    make, inputs = LAYERS["attention_dot"]
    first = fresh_random_weights(make, inputs, keras.initializers.GlorotUniform(seed=7))
    second = fresh_random_weights(make, inputs, keras.initializers.GlorotUniform(seed=7))
    for a, b in zip(first.values(), second.values()):
        np.testing.assert_array_equal(a, b)
