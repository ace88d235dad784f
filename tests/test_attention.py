import keras
import numpy as np
import pytest

from seqgraph import layers
from tests import reference
from tests.helpers import randomise, to_numpy, weights_by_name

B, T, F = 2, 37, 6  # T not a multiple of the block size


def _layer(rng, **kwargs):
    layer = layers.MultiHeadSelfAttention(num_heads=2, key_dim=4, **kwargs)
    layer.build((None, None, F))
    randomise(layer, rng)
    return layer


def _mask(rng):
    mask = np.ones((B, T), bool)
    mask[0, 30:] = False  # right padding
    mask[1, [3, 17, 18]] = False  # holes
    return mask


@pytest.mark.parametrize("score", ["dot", "additive"])
@pytest.mark.parametrize("window", [None, 0, 2, 20, 40])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_numpy_equations(rng, score, window, causal, masked):
    x = rng.normal(size=(B, T, F)).astype("float32")
    mask = _mask(rng) if masked else None
    layer = _layer(rng, score=score, window=window, causal=causal)
    out, weights = layer(x, mask=mask, return_attention_scores=True)
    want, want_weights = reference.attention(x, weights_by_name(layer), 2, score, window, causal, mask)
    np.testing.assert_allclose(to_numpy(out), want, atol=2e-5)
    weights = to_numpy(weights)
    if window is None:
        np.testing.assert_allclose(weights, want_weights, atol=1e-6)
    else:  # banded: column m is key i + m - window
        for m in range(2 * window + 1):
            for i in range(T):
                j = i + m - window
                expected = want_weights[:, :, i, j] if 0 <= j < T else 0.0
                np.testing.assert_allclose(weights[:, :, i, m], expected, atol=1e-6)


@pytest.mark.parametrize("window", [None, 5])
def test_matches_keras_multi_head_attention(rng, window):
    """keras.layers.MultiHeadAttention with the same weights and a padding (and band) mask."""
    x = rng.normal(size=(B, T, F)).astype("float32")
    mask = _mask(rng)
    ours = _layer(rng, window=window)
    peer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    peer(x, x)
    w = weights_by_name(ours)
    for dense, name in [
        (peer._query_dense, "query"),
        (peer._key_dense, "key"),
        (peer._value_dense, "value"),
        (peer._output_dense, "output"),
    ]:
        dense.set_weights([w[f"{name}_kernel"], w[f"{name}_bias"]])
    allowed = mask[:, None, :] & mask[:, :, None]
    if window is not None:
        pos = np.arange(T)
        allowed &= np.abs(pos[:, None] - pos[None, :]) <= window
    want = to_numpy(peer(x, x, attention_mask=allowed))
    got = to_numpy(ours(x, mask=mask))
    np.testing.assert_allclose(got[mask], want[mask], atol=2e-5)
    assert np.all(got[~mask] == 0)


@pytest.mark.parametrize("causal", [False, True])
def test_fused_path_equals_explicit_path(rng, causal):
    """Without attention weights requested, full dot attention runs keras.ops.dot_product_attention."""
    x = rng.normal(size=(B, T, F)).astype("float32")
    layer = _layer(rng, causal=causal)
    fused = to_numpy(layer(x, mask=_mask(rng)))
    explicit, _ = layer(x, mask=_mask(rng), return_attention_scores=True)
    np.testing.assert_allclose(fused, to_numpy(explicit), atol=1e-5)


def test_truncated_output_ignores_inputs_beyond_window(rng):
    window, i = 3, 20
    layer = _layer(rng, window=window)
    x = rng.normal(size=(1, T, F)).astype("float32")
    changed = x.copy()
    far = np.abs(np.arange(T) - i) > window
    changed[0, far] = rng.normal(size=(far.sum(), F))
    a, b = to_numpy(layer(x)), to_numpy(layer(changed))
    np.testing.assert_allclose(a[0, i], b[0, i], atol=1e-6)
    assert not np.allclose(a[0, i + window + 1], b[0, i + window + 1])


def test_padded_keys_change_nothing(rng):
    """Whatever sits in padded positions, the valid outputs are the same."""
    layer = _layer(rng, window=4)
    x = rng.normal(size=(B, T, F)).astype("float32")
    mask = _mask(rng)
    noisy = np.where(mask[..., None], x, 100.0).astype("float32")
    np.testing.assert_allclose(to_numpy(layer(x, mask=mask)), to_numpy(layer(noisy, mask=mask)), atol=1e-5)


def test_mask_propagates_through_a_model(rng):
    inputs = keras.Input((None, F))
    h = keras.layers.Masking(0.0)(inputs)
    h = layers.MultiHeadSelfAttention(2, 4, window=3)(h)
    out = keras.layers.GlobalAveragePooling1D()(h)
    model = keras.Model(inputs, out)
    x = rng.normal(size=(1, 10, F)).astype("float32")
    padded = np.concatenate([x, np.zeros((1, 5, F), "float32")], axis=1)
    np.testing.assert_allclose(to_numpy(model(x)), to_numpy(model(padded)), atol=1e-5)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="score"):
        layers.MultiHeadSelfAttention(2, 4, score="cosine")
    with pytest.raises(ValueError, match="window"):
        layers.MultiHeadSelfAttention(2, 4, window=-1)


def test_gradients_flow(rng):
    layer = _layer(rng, window=3, dropout=0.1)
    x = keras.ops.convert_to_tensor(rng.normal(size=(B, T, F)).astype("float32"))
    out = layer(x, training=True)
    assert out.shape == (B, T, F)
    assert np.all(np.isfinite(to_numpy(out)))


def test_positional_encodings_match_formula(rng):
    x = rng.normal(size=(2, 50, 10)).astype("float32")
    got = to_numpy(layers.SinusoidalPositionalEncoding()(x))
    np.testing.assert_allclose(got - x, np.broadcast_to(reference.sinusoid(50, 10), x.shape), atol=1e-5)
    long = np.zeros((1, 5000, 8), "float32")  # no maximum length
    np.testing.assert_allclose(
        to_numpy(layers.SinusoidalPositionalEncoding()(long))[0], reference.sinusoid(5000, 8), atol=2e-3
    )

    grid = np.zeros((1, 3, 4, 8), "float32")
    got = to_numpy(layers.SinusoidalPositionalEncoding2D()(grid))[0]
    rows, cols = reference.sinusoid(3, 4), reference.sinusoid(4, 4)
    for r in range(3):
        for c in range(4):
            np.testing.assert_allclose(got[r, c], np.concatenate([rows[r], cols[c]]), atol=1e-6)


def test_learned_positional_embedding(rng):
    layer = layers.LearnedPositionalEmbedding(max_length=20)
    x = rng.normal(size=(2, 7, 4)).astype("float32")
    got = to_numpy(layer(x))
    np.testing.assert_allclose(got - x, np.broadcast_to(to_numpy(layer.embeddings)[:7], x.shape), atol=1e-6)
    with pytest.raises(ValueError, match="max_length"):
        layers.LearnedPositionalEmbedding(max_length=5)(x)


def test_class_token_is_prepended_to_every_sequence(rng):
    layer = layers.ClassToken(initializer="random_normal")
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    got = to_numpy(layer(x))
    assert got.shape == (3, 6, 4)
    np.testing.assert_allclose(got[:, 1:], x)
    np.testing.assert_allclose(got[:, 0], np.broadcast_to(to_numpy(layer.token)[0, 0], (3, 4)))
    mask = np.array([[True] * 5, [True] * 3 + [False] * 2, [True] + [False] * 4])
    new_mask = to_numpy(layer.compute_mask(x, keras.ops.convert_to_tensor(mask)))
    np.testing.assert_array_equal(new_mask, np.concatenate([np.ones((3, 1), bool), mask], 1))


def test_attention_weights_as_functional_model_outputs(rng):
    """A functional model can output the weights (the image app's rollout maps read them)."""
    layer = _layer(rng)
    inputs = keras.Input((None, F))
    out, weights = layer(inputs, return_attention_scores=True)
    model = keras.Model(inputs, {"out": out, "weights": weights})
    x = rng.normal(size=(B, T, F)).astype("float32")
    got = model(x)
    eager_out, eager_weights = layer(x, return_attention_scores=True)
    assert got["weights"].shape == (B, 2, T, T)
    np.testing.assert_allclose(to_numpy(got["weights"]), to_numpy(eager_weights), atol=1e-6)
    np.testing.assert_allclose(to_numpy(got["out"]), to_numpy(eager_out), atol=1e-5)
