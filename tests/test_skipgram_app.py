"""The skip-gram app end to end on a two-topic corpus written by the test, and its SGD step
against a NumPy version of word2vec's update."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import saved_model_cli_run, tf_only

pytestmark = tf_only  # the apps train and export with the TensorFlow backend

TOPICS = {"a": [f"animal{i}" for i in range(12)], "v": [f"vehicle{i}" for i in range(12)]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Sentences use the words of one topic only, so each word's neighbours are its topic (dim
    48: 25 x 48 weights pass the converter's 1024-element threshold for int8)."""
    root = tmp_path_factory.mktemp("skipgram_app")
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(TOPICS["av"[i % 2]], 8)) for i in range(600)]
    (root / "corpus.txt").write_text("\n".join(lines) + "\n")
    run = root / "run"
    out = _cli(
        "train",
        "--corpus",
        str(root / "corpus.txt"),
        "--format",
        "lines",
        "--min-count",
        "1",
        "--dim",
        "48",
        "--window",
        "3",
        "--sample",
        "0",
        "--epochs",
        "8",
        "--batch-size",
        "256",
        "--lr",
        "0.05",
        "--out",
        str(run),
        "--progress",
        "none",
    )
    return root, run, out


def _cli(*args, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "seqgraph", "skipgram", *args], capture_output=True, text=True, timeout=600
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def _vectors(run):
    from seqgraph.apps.skipgram.evaluate import load_run

    _, vocab, vectors = load_run(run)
    return vocab, vectors


def test_train_writes_metrics_plot_vocabulary_and_model(trained):
    _, run, out = trained
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("wordsim353", "simlex999", "analogy", "words_per_second", "analogy_oov_questions"):
        assert key in metrics
    assert metrics["vocabulary"] == 24 and metrics["epochs"] == 8
    assert metrics["loss"][-1] < metrics["loss"][0]
    assert (run / "loss.png").stat().st_size > 1000
    assert "words/s" in out.stdout


def test_words_are_nearest_to_their_topic(trained):
    _, run, _ = trained
    vocab, vectors = _vectors(run)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for topic, words in TOPICS.items():
        ids = [vocab.index[w] for w in words]
        for i in ids:
            cosines = unit[1:] @ unit[i]
            nearest = np.argsort(-cosines)[1:6] + 1  # [0] is the word itself
            assert all(vocab.words[j] in words for j in nearest), (vocab.words[i], [vocab.words[j] for j in nearest])


def test_mirrored_strategy_trains_on_calls_of_one_batch():
    """Under tf.distribute the optimizer's sync cannot sit in the XLA loop over a call's batches:
    calls hold one batch there, and the words still learn their topics."""
    from seqgraph.apps.common import strategy
    from seqgraph.apps.skipgram.model import word_vectors
    from seqgraph.apps.skipgram.train import fit_vectors
    from seqgraph.datasets.text import Vocabulary

    rng = np.random.default_rng(1)
    sentences = [list(rng.choice(TOPICS["av"[i % 2]], 8)) for i in range(600)]
    vocab = Vocabulary.build(sentences, min_count=1)
    ids, sentence_ids = vocab.encode(sentences)
    fit = fit_vectors(
        ids,
        sentence_ids,
        vocab,
        dim=16,
        window=3,
        sample=0,
        epochs=4,
        batch_size=256,
        lr=0.05,
        distribution=strategy("mirrored"),
        progress="none",
    )
    vectors = word_vectors(fit.net)
    unit = vectors[1:] / np.linalg.norm(vectors[1:], axis=1, keepdims=True)
    same_topic = np.array([w[0] for w in vocab.words[1:]])
    nearest = np.argsort(-(unit @ unit.T), axis=1)[:, 1]
    assert np.mean(same_topic[nearest] == same_topic) > 0.9
    assert fit.tokens >= 4 * len(ids)  # whole executions of 32 batches: at least 4 passes


def test_neighbors_and_evaluate_commands(trained):
    _, run, _ = trained
    out = _cli("neighbors", "--run", str(run), "-k", "3", "Animal3", "unknownword").stdout
    line = next(line for line in out.splitlines() if line.startswith("Animal3:"))
    assert line.count("animal") == 3 and "vehicle" not in line
    assert "unknownword: not in the vocabulary" in out
    _cli("evaluate", "--run", str(run))
    result = json.loads((run / "eval.json").read_text())
    assert set(result) >= {"wordsim353", "simlex999", "analogy"}


def test_export_serves_vectors_and_neighbours(trained):
    import tensorflow as tf
    from gensim.models import KeyedVectors

    from seqgraph.apps.export import LiteModel

    root, run, _ = trained
    base = root / "export" / "skipgram"
    out = _cli("export", "--run", str(run), "--out", str(base)).stdout
    assert "SavedModel" in out
    vocab, vectors = _vectors(run)
    loaded = tf.saved_model.load(str(base / "1"))
    served = loaded.signatures["serving_default"](words=tf.constant(["animal1", "VEHICLE2", "nope"]))
    np.testing.assert_allclose(
        served["vectors"].numpy()[:2], vectors[[vocab.index["animal1"], vocab.index["vehicle2"]]]
    )
    assert served["known"].numpy().tolist() == [True, True, False]
    assert not served["vectors"].numpy()[2].any()

    top = loaded.signatures["nearest"](words=tf.constant(["animal1"]), k=tf.constant(4))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = unit @ unit[vocab.index["animal1"]]
    cosines[[0, vocab.index["animal1"]]] = -2
    expected = np.argsort(-cosines)[:4]
    assert [w.decode() for w in top["neighbours"].numpy()[0]] == [vocab.words[i] for i in expected]
    np.testing.assert_allclose(top["cosines"].numpy()[0], cosines[expected], atol=1e-5)

    kv = KeyedVectors.load_word2vec_format(str(base / "1" / "vectors.txt"))
    np.testing.assert_allclose(kv["vehicle5"], vectors[vocab.index["vehicle5"]], atol=1e-5)
    assert (base / "1" / "metadata.tsv").read_text().split() == vocab.words[1:]
    assert np.loadtxt(base / "1" / "vectors.tsv", delimiter="\t").shape == (24, 48)

    report = json.loads((base / "1" / "export.json").read_text())
    words = np.array([b"animal1", b"vehicle7", b"nope"], dtype=object)
    for name, tolerance in (("skipgram.tflite", 1e-6), ("skipgram_int8.tflite", 0.02)):
        lite = LiteModel((base / "1" / name).read_bytes())({"words": words})
        np.testing.assert_allclose(
            lite["vectors"][:2], vectors[[vocab.index["animal1"], vocab.index["vehicle7"]]], atol=tolerance
        )
        assert lite["known"].tolist() == [True, True, False]
    # the table is stored in a quarter of the bytes (a byte per weight instead of four)
    assert report["tflite_float"]["bytes"] - report["tflite_int8"]["bytes"] > 0.6 * vectors.nbytes
    assert 'name: "skipgram"' in (root / "export" / "models.config").read_text()


def test_saved_model_cli_serves_nearest(trained, tmp_path):
    """saved_model_cli run (TF Serving's loader) answers the README's ``nearest`` request shape."""
    root, run, _ = trained
    target = root / "export" / "skipgram"
    if not (target / "1").exists():
        _cli("export", "--run", str(run), "--out", str(target))
    out = saved_model_cli_run(target / "1", "nearest", tmp_path, input_exprs="words=['animal2','vehicle3'];k=3")
    assert out.returncode == 0, out.stderr[-2000:]
    neighbours = np.load(tmp_path / "neighbours.npy", allow_pickle=True)
    assert neighbours.shape == (2, 3)
    assert all(w.startswith(b"animal") for w in neighbours[0]) and all(w.startswith(b"vehicle") for w in neighbours[1])


def test_bad_input_is_named(tmp_path):
    result = _cli("train", "--corpus", str(tmp_path / "missing.txt"), check=False)
    assert result.returncode == 2 and "missing.txt" in result.stderr
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    result = _cli("train", "--corpus", str(tmp_path / "latin1.txt"), check=False)
    assert result.returncode == 2 and "latin1.txt" in result.stderr and "byte offset 3" in result.stderr
    result = _cli("evaluate", "--run", str(tmp_path / "norun"), check=False)
    assert result.returncode != 0 and "norun" in result.stderr


def _random_tables(kind, vocab_size, dim, seed):
    """A network whose two tables hold random values (copies returned for the reference)."""
    from seqgraph.apps.skipgram.model import build_model

    net = build_model(kind, vocab_size, dim, window=2)
    layer = net.get_layer("word2vec")
    target, context = np.random.default_rng(seed).normal(0, 0.5, (2, vocab_size, dim)).astype(np.float32)
    layer.target_embeddings.assign(target)
    layer.context_embeddings.assign(context)
    return net, layer, target, context


def test_sgd_step_matches_word2vec_update():
    """One batch: every example's gradient of -log s(u.v_o) - sum_k log s(-u.v_k), times lr,
    summed over the batch (word2vec's per-example steps, taken together); the examples that pad
    a batch (all ids 0) change nothing."""
    import keras
    import tensorflow as tf

    from seqgraph.apps.skipgram.model import trainer

    lr = 0.1
    net, layer, target, context = _random_tables("skipgram", vocab_size=11, dim=4, seed=0)
    centres = np.array([1, 2, 1, 5], np.int32)
    candidates = np.array([[2, 3, 4], [1, 1, 7], [3, 2, 9], [6, 10, 1]], np.int32)
    model = trainer(net, total_tokens=1e9, lr=lr, min_lr=lr)
    padded = (np.pad(centres, [0, 2]), np.pad(candidates, [[0, 2], [0, 0]]))
    data = tf.data.Dataset.from_tensors(((padded[0][None], padded[1][None]), np.float32([4.0])))  # a call of 1 batch
    model.fit(data, epochs=1, verbose=0, shuffle=False)

    new_target, new_context = target.copy(), context.copy()

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    losses = []
    for c, cands in zip(centres, candidates):
        u = target[c]
        losses.append(-np.log(sigmoid(u @ context[cands[0]])) - np.log(sigmoid(-context[cands[1:]] @ u)).sum())
    for c, cands in zip(centres, candidates):
        u = target[c]
        for j, k in enumerate(cands):
            g = sigmoid(u @ context[k]) - (1.0 if j == 0 else 0.0)  # d loss / d (u . v_k)
            new_target[c] -= lr * g * context[k]
            new_context[k] -= lr * g * u
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.target_embeddings), new_target, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.context_embeddings), new_context, atol=1e-5)
    assert float(model.tokens_seen) == 4.0
    assert float(model.learning_rate()) == pytest.approx(lr)
    assert float(model.loss_tracker.result()) == pytest.approx(np.mean(losses), rel=1e-5)  # real examples only


def test_cbow_step_gives_every_context_word_the_whole_error():
    """word2vec.c / gensim CBOW: h = mean of the context vectors; each candidate's context
    vector moves by -lr g h, and each context word by -lr sum_k g_k v_k (not divided by the count)."""
    import keras
    import tensorflow as tf

    from seqgraph.apps.skipgram.model import trainer

    lr = 0.1
    net, layer, target, context = _random_tables("cbow", vocab_size=9, dim=3, seed=1)
    contexts = np.array([[1, 2, 3, 0], [4, 0, 0, 0], [2, 2, 5, 6]], np.int32)  # 0 = padding
    candidates = np.array([[5, 6, 7], [8, 1, 1], [3, 4, 8]], np.int32)
    model = trainer(net, total_tokens=1e9, lr=lr, min_lr=lr)
    model.fit(
        tf.data.Dataset.from_tensors(((contexts[None], candidates[None]), np.float32([3.0]))), verbose=0, shuffle=False
    )

    new_target, new_context = target.copy(), context.copy()
    for row, cands in zip(contexts, candidates):
        words = row[row > 0]
        h = target[words].mean(0)
        error = np.zeros(target.shape[1])
        for j, k in enumerate(cands):
            g = 1 / (1 + np.exp(-h @ context[k])) - (1.0 if j == 0 else 0.0)
            error += g * context[k]
            new_context[k] -= lr * g * h
        for w in words:
            new_target[w] -= lr * error
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.target_embeddings), new_target, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.context_embeddings), new_context, atol=1e-5)


def test_a_call_trains_its_batches_in_turn_and_skips_empty_ones():
    """A call of batches [A, B, padding] leaves the tables, the token count and the optimizer's
    step count as calls [A] then [B] do: B sees A's update and a lower learning rate."""
    import keras
    import tensorflow as tf

    from seqgraph.apps.skipgram.model import trainer

    centres = np.array([[1, 2, 3], [3, 1, 0], [0, 0, 0]], np.int32)
    candidates = np.array([[[2, 3], [4, 1], [5, 6]], [[1, 2], [2, 5], [0, 0]], [[0, 0]] * 3], np.int32)
    tokens = np.float32([3.0, 2.0, 0.0])
    results = []
    for calls in ([slice(0, 3)], [slice(0, 1), slice(1, 2)]):
        net, layer, _, _ = _random_tables("skipgram", vocab_size=7, dim=3, seed=2)
        model = trainer(net, total_tokens=10, lr=0.2, min_lr=0.01, batches_per_call=len(centres[calls[0]]))
        for call in calls:
            model.fit(
                tf.data.Dataset.from_tensors(((centres[call], candidates[call]), tokens[call])),
                verbose=0,
                shuffle=False,
            )
        results.append(
            [keras.ops.convert_to_numpy(v) for v in (layer.target_embeddings, layer.context_embeddings)]
            + [float(model.tokens_seen), int(model.optimizer.iterations), float(model.learning_rate())]
        )
    (target, context, *counts), (target1, context1, *counts1) = results
    np.testing.assert_allclose(target, target1, atol=1e-6)
    np.testing.assert_allclose(context, context1, atol=1e-6)
    assert counts == pytest.approx(counts1) and counts[:2] == [5.0, 2]


def test_learning_rate_falls_linearly_with_tokens():
    from seqgraph.apps.skipgram.model import build_model, trainer

    model = trainer(build_model("cbow", 5, 2, window=1), total_tokens=1000, lr=0.025, min_lr=0.0001)
    for seen, expected in ((0, 0.025), (500, (0.025 + 0.0001) / 2), (1000, 0.0001), (5000, 0.0001)):
        model.tokens_seen.assign(float(seen))
        assert float(model.learning_rate()) == pytest.approx(expected, rel=1e-5)
