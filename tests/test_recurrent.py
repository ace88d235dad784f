import keras
import numpy as np
import pytest

from seqgraph import layers
from tests import reference
from tests.helpers import randomise, to_numpy, weights_by_name

B, T, F, U = 3, 9, 4, 5


def _inputs(rng):
    x = rng.normal(size=(B, T, F)).astype("float32")
    mask = np.ones((B, T), bool)
    mask[1, 6:] = False
    mask[2, 3:] = False
    return x, mask


def _numpy(layer, x, mask=None):
    w = weights_by_name(layer)
    return reference.peephole_lstm(
        x, w["kernel"], w["recurrent_kernel"], w["bias"], w["peephole_i"], w["peephole_f"], w["peephole_o"], mask
    )


@pytest.mark.parametrize("masked", [False, True])
def test_matches_step_by_step_equations(rng, masked):
    x, mask = _inputs(rng)
    mask = mask if masked else None
    layer = layers.PeepholeLSTM(U, return_sequences=True, return_state=True)
    layer.build((None, None, F))
    randomise(layer, rng)
    seq, h, c = layer(x, mask=mask)
    want_seq, want_h, want_c = _numpy(layer, x, mask)
    np.testing.assert_allclose(to_numpy(h), want_h, atol=1e-5)
    np.testing.assert_allclose(to_numpy(c), want_c, atol=1e-5)
    np.testing.assert_allclose(to_numpy(seq), want_seq, atol=1e-5)


def test_zero_peepholes_equal_keras_lstm(rng):
    x, mask = _inputs(rng)
    ours = layers.PeepholeLSTM(U, return_sequences=True)
    peer = keras.layers.LSTM(U, return_sequences=True)
    ours.build((None, None, F))
    peer.build((None, None, F))
    w = weights_by_name(ours)
    peer.set_weights([w["kernel"], w["recurrent_kernel"], w["bias"]])
    assert np.all(w["peephole_i"] == 0)
    np.testing.assert_allclose(to_numpy(ours(x, mask=mask)), to_numpy(peer(x, mask=mask)), atol=1e-6)


def test_forget_bias_starts_at_one():
    layer = layers.PeepholeLSTM(U)
    layer.build((None, None, F))
    bias = to_numpy(layer.cell.bias)
    np.testing.assert_array_equal(bias[U : 2 * U], 1.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[U : 2 * U]), 0.0)


def test_bidirectional_and_go_backwards(rng):
    x, mask = _inputs(rng)
    bi = keras.layers.Bidirectional(layers.PeepholeLSTM(U, return_sequences=True))
    bi.build((None, None, F))
    randomise(bi, rng)
    got = to_numpy(bi(x, mask=mask))
    assert got.shape == (B, T, 2 * U)
    forward, _, _ = _numpy(bi.forward_layer, x, mask)
    np.testing.assert_allclose(got[..., :U], forward * mask[..., None], atol=1e-5)
    # The backward half reads each sequence's valid part reversed.
    for b in range(B):
        n = mask[b].sum()
        back, _, _ = _numpy(bi.backward_layer, x[b : b + 1, :n][:, ::-1])
        np.testing.assert_allclose(got[b, :n, U:], back[0, ::-1], atol=1e-5)


def test_cell_in_plain_rnn(rng):
    x, _ = _inputs(rng)
    rnn = keras.layers.RNN(layers.PeepholeLSTMCell(U))
    rnn.build((None, None, F))
    randomise(rnn, rng)
    w = weights_by_name(rnn)
    _, want, _ = reference.peephole_lstm(
        x, w["kernel"], w["recurrent_kernel"], w["bias"], w["peephole_i"], w["peephole_f"], w["peephole_o"]
    )
    np.testing.assert_allclose(to_numpy(rnn(x)), want, atol=1e-5)


def test_rejects_bad_units():
    with pytest.raises(ValueError, match="units"):
        layers.PeepholeLSTM(0)
