import keras
import numpy as np
from scipy.special import expit

from seqgraph import layers
from tests import reference
from tests.helpers import randomise, to_numpy

V, D = 30, 8


def _tables(layer, rng):
    layer.build(None)
    randomise(layer, rng)
    return to_numpy(layer.target_embeddings), to_numpy(layer.context_embeddings)


def test_skipgram_logits_and_loss(rng):
    layer = layers.SkipGram(V, D)
    target, context = _tables(layer, rng)
    centre = rng.integers(0, V, 6)
    candidates = rng.integers(0, V, (6, 4))
    logits = to_numpy(layer([centre, candidates]))
    want = np.einsum("bd,bcd->bc", target[centre], context[candidates])
    np.testing.assert_allclose(logits, want, atol=1e-5)
    loss = to_numpy(layers.negative_sampling_loss(None, logits))
    want_loss = -np.log(expit(want[:, 0])) - np.log(expit(-want[:, 1:])).sum(1)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)


def test_cbow_averages_unpadded_context(rng):
    layer = layers.CBOW(V, D)
    target, context = _tables(layer, rng)
    contexts = np.array([[3, 4, 5, 6], [7, 8, 0, 0], [9, 0, 0, 0]])
    candidates = rng.integers(1, V, (3, 3))
    logits = to_numpy(layer([contexts, candidates]))
    for b, row in enumerate(contexts):
        mean = target[row[row != 0]].mean(0)
        np.testing.assert_allclose(logits[b], context[candidates[b]] @ mean, atol=1e-5)


def test_word2vec_initialisation():
    layer = layers.SkipGram(V, D)
    layer.build(None)
    assert np.abs(to_numpy(layer.vectors)).max() <= 0.5 / D
    assert np.all(to_numpy(layer.context_embeddings) == 0)


def test_skipgram_learns_cooccurrence(rng):
    """Words that share contexts end up closer than words that never do."""
    targets = keras.Input((), dtype="int32")
    candidates = keras.Input((3,), dtype="int32")
    sg = layers.SkipGram(8, 6)
    model = keras.Model([targets, candidates], sg([targets, candidates]))
    model.compile(keras.optimizers.SGD(0.5), loss=layers.negative_sampling_loss)
    # words 0-3 co-occur with each other, 4-7 with each other
    centre = rng.integers(0, 8, 4000)
    positive = (centre // 4) * 4 + rng.integers(0, 4, 4000)
    negative = rng.integers(0, 8, (4000, 2))
    model.fit(
        [centre, np.concatenate([positive[:, None], negative], 1)], np.zeros(4000), epochs=3, batch_size=64, verbose=0
    )
    v = to_numpy(sg.vectors)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sim = v @ v.T
    assert sim[0, 1:4].mean() > sim[0, 4:].mean() + 0.3


def test_ctc_loss_matches_forward_algorithm(rng):
    logits = rng.normal(size=(3, 12, 5)).astype("float32")
    labels = np.array([[1, 2, 2, 3], [4, 4, 0, 0], [1, 0, 0, 0]])
    label_lengths = np.array([4, 2, 1])
    logit_lengths = np.array([12, 9, 5])
    got = to_numpy(layers.ctc_loss(labels, label_lengths, logits, logit_lengths))
    want = [reference.ctc_nll(logits[b, : logit_lengths[b]], labels[b, : label_lengths[b]]) for b in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-4)

    padded = np.where(np.arange(4) < label_lengths[:, None], labels, -1)
    full = [reference.ctc_nll(logits[b], labels[b, : label_lengths[b]]) for b in range(3)]
    np.testing.assert_allclose(to_numpy(layers.CTCLoss(reduction=None)(padded, logits)), full, rtol=1e-4)


def test_ctc_loss_with_a_different_blank(rng):
    logits = rng.normal(size=(1, 8, 4)).astype("float32")
    got = to_numpy(layers.ctc_loss(np.array([[0, 1]]), np.array([2]), logits, np.array([8]), blank_index=3))
    np.testing.assert_allclose(got, [reference.ctc_nll(logits[0], [0, 1], blank=3)], rtol=1e-4)


def test_ctc_greedy_decode(rng):
    logits = rng.normal(size=(4, 15, 6)).astype("float32")
    logits[0, :, 0] += 10  # all blanks -> empty
    lengths = np.array([15, 15, 7, 1])
    got = to_numpy(layers.ctc_greedy_decode(logits, lengths))
    for b in range(4):
        want = reference.collapse(logits[b, : lengths[b]].argmax(-1))
        assert got[b, : len(want)].tolist() == want
        assert np.all(got[b, len(want) :] == -1)
    ours_keras = to_numpy(keras.ops.ctc_decode(logits, lengths, strategy="greedy")[0][0])
    np.testing.assert_array_equal(got, ours_keras)


def test_ctc_beam_decode_finds_the_most_probable_labelling(rng):
    for _ in range(5):
        logits = rng.normal(size=(1, 5, 3)).astype("float32") * 2
        paths, log_probs = layers.ctc_beam_decode(logits, np.array([5]), beam_width=50, top_paths=2)
        paths = to_numpy(paths)
        assert paths.shape == (2, 1, 5)
        best = paths[0, 0][paths[0, 0] >= 0].tolist()
        assert best == reference.ctc_best_labelling(logits[0])
        lp = to_numpy(log_probs)
        assert lp[0, 0] >= lp[0, 1]


def test_ctc_loss_trains_a_model(rng):
    """A tiny model learns to transcribe one-hot frames through CTCLoss."""
    frames = rng.integers(1, 4, (256, 6))
    x = np.eye(4, dtype="float32")[np.repeat(frames, 2, axis=1)]  # each symbol held for 2 frames
    y = np.array([reference.collapse(f) + [-1] * (6 - len(reference.collapse(f))) for f in frames])
    model = keras.Sequential([keras.Input((12, 4)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4)])
    model.compile(keras.optimizers.Adam(0.05), loss=layers.CTCLoss())
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
