"""``seqgraph skipgram export``: word vectors for TF Serving, TFLite, gensim and TensorBoard's
projector."""

from pathlib import Path

import numpy as np
import tensorflow as tf

from seqgraph.apps import export as ex
from seqgraph.apps.client import Server, text
from seqgraph.apps.skipgram.evaluate import evaluate_vectors, keyed_vectors, load_run, neighbors_line

PROBE_BATCH = 1024  # words per request in the export's checks


class WordVectors(tf.Module):
    """The served vectors: ``lookup`` (words -> vectors, known), ``nearest`` (words, k ->
    neighbours, cosines, known) and ``lite_lookup`` (``lookup`` without lower-casing, for
    TFLite). Unknown words get zero vectors and ``known = False``; lookups go through a string
    hash table (a TFLite builtin too)."""

    def __init__(self, vocab, vectors, lowercase):
        super().__init__()
        vectors = np.vstack([np.zeros_like(vectors[:1]), vectors[1:]])  # id 0, PAD: unknown words
        self.size = len(vocab)
        self.lowercase = lowercase
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(vocab.words[1:]), tf.range(1, len(vocab), dtype=tf.int64)),
            default_value=0,
        )
        self.words = tf.constant(vocab.words)
        self.vectors = tf.Variable(vectors, trainable=False, name="vectors")
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        self.unit = tf.Variable(unit, trainable=False, name="unit_vectors")

    def ids(self, words):
        return self.table.lookup(tf.strings.lower(words, encoding="utf-8") if self.lowercase else words)

    def lookup(self, words):
        ids = self.ids(words)
        return {"vectors": tf.gather(self.vectors, ids), "known": ids > 0}

    def lite_lookup(self, words):
        """``lookup`` without lower-casing (StringLower is no TFLite builtin): the caller
        lower-cases, as the vocabulary was."""
        ids = self.table.lookup(words)
        # the reshapes give the .tflite's outputs their shapes ([-1, dim], [-1]): after the hash
        # table the converter knows neither
        vectors = tf.reshape(tf.gather(self.vectors, ids), [-1, self.vectors.shape[1]])
        return {"vectors": vectors, "known": tf.reshape(ids > 0, [-1])}

    def nearest(self, words, k):
        ids = self.ids(words)
        cosines = tf.matmul(tf.gather(self.unit, ids), self.unit, transpose_b=True)
        # neither the word itself nor PAD (id 0) is its own neighbour
        column = tf.range(self.size, dtype=tf.int64)[None, :]
        cosines = tf.where((column == ids[:, None]) | (column == 0), -2.0, cosines)
        top = tf.math.top_k(cosines, k=tf.minimum(k, self.size - 2))
        return {"neighbours": tf.gather(self.words, top.indices), "cosines": top.values, "known": ids > 0}


def export(run, out="saved_models/skipgram", label="stable", serving_base=None):
    """Export ``run``'s vectors: a SavedModel for TF Serving (``serving_default``: words ->
    vectors; ``nearest``: words, k -> neighbours), TFLite float and int8 lookups (the table
    stored as int8: a lookup has no activations to calibrate, and the calibrator cannot feed
    strings), each checked against the run's vectors (largest difference, benchmark scores of the
    vectors returned) before it is published; beside them ``vectors.txt`` (word2vec's text
    format, for gensim) and ``vectors.tsv`` + ``metadata.tsv`` (TensorBoard's projector).

    Args:
        run: a run folder written by ``train``.
        out: the export base, ``<out>/<version>/``.
        label: the version label the new version gets in models.config (``stable``, ``canary``).
        serving_base: the folder holding the apps inside TF Serving (default ``/models``).

    Returns:
        The report written to ``<out>/<version>/export.json``.
    """
    from gensim.models import KeyedVectors

    config, vocab, vectors = load_run(run)
    kv = keyed_vectors(vocab, vectors)
    module = WordVectors(vocab, vectors, config.lowercase)
    words = tf.TensorSpec([None], tf.string, name="words")
    probe = vocab.words[1:]

    def scores(outputs):  # the benchmarks, on the vectors each form returns for the vocabulary
        result = evaluate_vectors(keyed_vectors(vocab, np.vstack([vectors[:1]] + [o["vectors"] for o in outputs])))
        return {name: result[name] for name in ("wordsim353", "simlex999", "analogy")}

    def write_word2vec(path):
        kv.save_word2vec_format(str(path), binary=False)
        KeyedVectors.load_word2vec_format(str(path), binary=False)  # readable by gensim

    plan = ex.ExportPlan(
        app="skipgram",
        model=module,
        signatures={
            "serving_default": (module.lookup, [words]),
            "nearest": (module.nearest, [words, tf.TensorSpec([], tf.int32, name="k")]),
        },
        lite=(module.lite_lookup, [words]),
        examples=[
            {"words": np.array(probe[i : i + PROBE_BATCH], dtype=object)} for i in range(0, len(probe), PROBE_BATCH)
        ],
        reference=lambda feed: {"vectors": vectors[[vocab.index[w] for w in feed["words"]]]},
        score=scores,
        compare="vectors",
        described=f"the {len(probe)} words of the vocabulary",
        tolerance=1e-6,
        int8="dynamic",
        warmup=[("nearest", {"words": np.array(probe[:8], dtype=object), "k": np.int32(10)})],
        lite_metadata={"lowercase": config.lowercase, "dim": int(vectors.shape[1]), "words": len(probe)},
        files={
            "vectors.txt": write_word2vec,
            "vectors.tsv": lambda path: np.savetxt(path, vectors[1:], delimiter="\t", fmt="%.6g"),
            "metadata.tsv": lambda path: path.write_text("".join(f"{w}\n" for w in probe), encoding="utf-8"),
        },
    )
    return ex.export(plan, Path(out), label, serving_base)


def query(inputs, k=10, server="localhost:8501", grpc=False, model="skipgram", label=None, timeout=30.0):
    """``seqgraph skipgram query``: the ``k`` nearest words of each of ``inputs`` from a TF
    Serving server (the ``nearest`` signature, one request), printed as ``neighbors`` prints
    them. Returns ``{word: [(neighbour, cosine), ...]}`` for the known words."""
    out = Server(server, model, label, grpc, timeout).predict(
        {"words": np.array(inputs, dtype=object), "k": np.int32(k)}, signature="nearest"
    )
    found = {}
    for word, known, names, cosines in zip(inputs, out["known"], out["neighbours"], out["cosines"]):
        found[word] = list(zip(text(names), map(float, cosines))) if known else None
        print(neighbors_line(word, found[word]))
    return {w: n for w, n in found.items() if n is not None}
