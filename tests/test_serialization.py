"""Every layer survives a .keras round trip and a SavedModel export with identical outputs."""

import os

import keras
import numpy as np
import pytest

from seqgraph import layers
from tests.helpers import saved_model_cli_run, tf_only, to_numpy

F = 6


def _sequence_model(layer):
    inputs = keras.Input((None, F))
    data = np.random.default_rng(1).normal(size=(2, 11, F)).astype("float32")
    data[1, 8:] = 0.0  # padding, masked
    return keras.Model(inputs, layer(keras.layers.Masking(0.0)(inputs))), data


def _lengths_model(layer):
    x, lengths = keras.Input((None, F)), keras.Input((), dtype="int32")
    data = [np.random.default_rng(1).normal(size=(2, 11, F)).astype("float32"), np.array([11, 8], "int32")]
    return keras.Model([x, lengths], layer([x, lengths])), data


def _graph_model(layer):
    x = keras.Input((F,), name="node_features")
    senders = keras.Input((), dtype="int32", name="senders")
    receivers = keras.Input((), dtype="int32", name="receivers")
    graph_ids = keras.Input((), dtype="int32", name="graph_ids")
    h = layer([x, senders, receivers])
    out = layers.GraphPooling("mean", num_graphs=2)([h, graph_ids])
    data = [
        np.random.default_rng(1).normal(size=(5, F)).astype("float32"),
        np.array([0, 1, 2, 3, 4], "int32"),
        np.array([1, 2, 0, 4, 3], "int32"),
        np.array([0, 0, 0, 1, 1], "int32"),
    ]
    return keras.Model([x, senders, receivers, graph_ids], out), data


def _words_model(layer):
    a = keras.Input((3,), dtype="int32")
    b = keras.Input((4,), dtype="int32")
    return keras.Model([a, b], layer([a, b])), [
        np.array([[1, 2, 0], [3, 4, 5]], "int32"),
        np.array([[1, 2, 3, 4], [5, 6, 7, 8]], "int32"),
    ]


CASES = {
    "attention_dot": lambda: _sequence_model(layers.MultiHeadSelfAttention(2, 3)),
    "attention_truncated": lambda: _sequence_model(layers.MultiHeadSelfAttention(2, 3, window=2, score="additive")),
    "sinusoidal": lambda: _sequence_model(layers.SinusoidalPositionalEncoding()),
    "learned_position": lambda: _sequence_model(layers.LearnedPositionalEmbedding(16)),
    "class_token": lambda: _sequence_model(layers.ClassToken()),
    "spec_augment": lambda: _sequence_model(layers.SpecAugment(seed=3)),
    "utterance_mean_norm": lambda: _lengths_model(layers.UtteranceMeanNormalization()),
    "vtlp": lambda: _sequence_model(layers.VocalTractLengthPerturbation(20.0, 4000.0, seed=3)),
    "mel_spectrogram": lambda: (
        keras.Sequential(
            [
                keras.Input((800,)),
                layers.MelSpectrogram(
                    fft_length=256, sequence_stride=80, sequence_length=200, sampling_rate=8000, num_mel_bins=8
                ),
            ]
        ),
        np.random.default_rng(1).normal(size=(2, 800)).astype("float32"),
    ),
    "positional_2d": lambda: (
        keras.Sequential([keras.Input((3, 4, F)), layers.SinusoidalPositionalEncoding2D()]),
        np.ones((2, 3, 4, F), "float32"),
    ),
    "peephole_lstm": lambda: _sequence_model(layers.PeepholeLSTM(4, return_sequences=True)),
    "bidirectional": lambda: _sequence_model(keras.layers.Bidirectional(layers.PeepholeLSTM(4))),
    "gin": lambda: _graph_model(layers.GINConv(4, train_eps=True)),
    "gin_symmetric_edges": lambda: _graph_model(layers.GINConv(4, symmetric_edges=True)),
    "gat": lambda: _graph_model(layers.GATConv(4, heads=2)),
    "cheb": lambda: _graph_model(layers.ChebConv(4, K=3)),
    "gcn": lambda: _graph_model(layers.GCNConv(4)),
    "sage": lambda: _graph_model(layers.GraphSAGEConv(4, aggregator="max")),
    "cbow": lambda: _words_model(layers.CBOW(10, 4)),
    "fused_batch_norm": lambda: (
        keras.Sequential([keras.Input((F,)), layers.FusedBatchNormalization()]),
        np.random.default_rng(1).normal(size=(3, F)).astype("float32"),
    ),
}


def _randomise(model):
    rng = np.random.default_rng(2)
    for w in model.weights:
        w.assign(rng.normal(0, 0.3, w.shape).astype(w.dtype))


@pytest.mark.parametrize("name", CASES)
def test_keras_file_round_trip(tmp_path, name):
    model, data = CASES[name]()
    _randomise(model)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(restored.predict(data, verbose=0)), to_numpy(model.predict(data, verbose=0)))


@tf_only
@pytest.mark.parametrize("name", CASES)
def test_saved_model_round_trip(tmp_path, name):
    import tensorflow as tf

    model, data = CASES[name]()
    _randomise(model)
    model.export(str(tmp_path / "sm"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    served = loaded.serve([tf.constant(d) for d in data] if isinstance(data, list) else tf.constant(data))
    np.testing.assert_allclose(to_numpy(served), to_numpy(model(data)), atol=1e-6, rtol=1e-6)  # float32 rounding


@tf_only
def test_saved_model_cli_runs_a_graph_model(tmp_path):
    """The loader TF Serving uses (saved_model_cli run) takes dynamic N and E."""
    model, _ = _graph_model(layers.GATConv(4, heads=2))
    _randomise(model)
    model.export(str(tmp_path / "sm"), verbose=False)
    x = np.random.default_rng(3).normal(size=(7, F)).astype("float32")
    s, r, g = np.array([0, 1, 5, 6], "int32"), np.array([1, 0, 6, 5], "int32"), np.array([0, 0, 0, 1, 1, 1, 1], "int32")
    feeds = []
    for name, array in zip(["node_features", "senders", "receivers", "graph_ids"], (x, s, r, g)):
        np.save(tmp_path / f"{name}.npy", array)
        feeds.append(f"{name}={tmp_path / name}.npy")
    out = saved_model_cli_run(tmp_path / "sm", "serving_default", tmp_path / "out", inputs=";".join(feeds))
    assert out.returncode == 0, out.stderr[-2000:]
    (result,) = [np.load(tmp_path / "out" / f) for f in os.listdir(tmp_path / "out")]
    np.testing.assert_allclose(result, to_numpy(model([x, s, r, g])), atol=1e-5)
