"""Where gensim's lead on SimLex-999 came from: the same word2vec SGD, replayed in NumPy (numba)
with the order of the pairs and the timing of the updates varied, scored by our evaluation.

    python -m bench.skipgram_update_order --corpus ../shared/data/text/brown.zip [--seeds 3]

Pairs are made as ``datasets.text`` and gensim make them (a window of 1..5 per centre, the same
subsampling and count^0.75 negatives), dim 100, 5 negatives, 5 epochs, lr 0.025 falling
linearly to 0.0001. What varies:
- ``order``: ``corpus`` (sentence after sentence, centre after centre, each context word
  predicting its centre: gensim, word2vec.c), ``shuffled`` (those pairs in random order),
  ``ours`` (our pipeline's: centres shuffled within spans of ``datasets.text.SHUFFLE_SPAN``
  subsampled tokens, spans in corpus order, the centre predicting each context word, in each
  span all pairs at offset -5 first, then -4, ... +5), ``ours_unspanned`` (as ours, centres
  shuffled over the whole pass: our pipeline before the spans), ``centres`` (as
  ``ours_unspanned``, but each centre's pairs together), ``streams`` (corpus order dealt over
  2048 streams: batch b holds pair b of each of 2048 contiguous stretches), ``sentences``
  (corpus order inside sentences, sentences in random order) or ``reversed`` (sentences in
  reverse order);
- ``updates``: ``sequential`` (each pair updates the tables before the next is scored: gensim,
  word2vec.c), ``batched`` (2048 pairs scored against the same tables, their updates summed: our
  trainer's update, though it now takes batches of 1024), ``batched_positive_sequential``
  (batched, except the true word's context vector, which is updated pair by pair),
  ``batched_centre_runs`` (batched, but each pair sees, to
  first order, the steps that the earlier pairs of its centre made to the centre's context
  vector: what a batched trainer could compute) or ``batched_exact_runs`` (those steps taken
  exactly, pair by pair within the centre's run).
Then gensim's Word2Vec itself (``bench.skipgram_vs_gensim``'s settings) on the sentences in
corpus order, in a new random order every pass, and reversed. No timing: this is a diagnosis,
not a speed benchmark.
"""

import argparse

import numba
import numpy as np

from bench.skipgram_vs_gensim import SCORES, SETTINGS, gensim_word2vec  # that comparison's settings
from seqgraph.datasets.text import SHUFFLE_SPAN

LR, MIN_LR, BATCH = 0.025, 0.0001, 2048
CONFIGS = (
    ("corpus", "sequential"),
    ("corpus", "batched"),
    ("corpus", "batched_positive_sequential"),
    ("corpus", "batched_centre_runs"),
    ("shuffled", "sequential"),
    ("shuffled", "batched"),
    ("ours_unspanned", "sequential"),
    ("ours_unspanned", "batched"),
    ("corpus", "batched_exact_runs"),
    ("centres", "batched"),
    ("streams", "batched"),
    ("sentences", "sequential"),
    ("reversed", "sequential"),
    ("ours", "sequential"),
    ("ours", "batched"),
)
UPDATES = {
    "sequential": 0,
    "batched": 1,
    "batched_positive_sequential": 2,
    "batched_centre_runs": 3,
    "batched_exact_runs": 4,
}
# how _pairs lays out an order (arrangement, span; 0: the whole pass); the others start from corpus order
ARRANGEMENTS = {"ours": (1, SHUFFLE_SPAN), "ours_unspanned": (1, 0), "centres": (2, 0)}


@numba.njit
def _pairs(ids, sentence_ids, keep, window, seed, arrangement, span):
    """One pass: (input, true word) pairs, in corpus order and gensim's arrangement (0) or with
    centres in random order within spans of ``span`` kept tokens (0: the whole pass), the centre
    predicting its context words: offset by offset within each span (1, our pipeline's) or
    centre by centre (2)."""
    np.random.seed(seed)
    kept = np.empty(len(ids), np.int64)
    sentence = np.empty(len(ids), np.int64)
    m = 0
    for i in range(len(ids)):
        if np.random.random() < keep[ids[i]]:
            kept[m], sentence[m] = ids[i], sentence_ids[i]
            m += 1
    inputs = np.empty(m * 2 * window, np.int64)
    truth = np.empty(m * 2 * window, np.int64)
    reach = np.random.randint(1, window + 1, m)
    p = 0
    if arrangement:
        span = span if 0 < span < m else max(m, 1)
        for start in range(0, m, span):
            n = min(span, m - start)
            centres = start + np.random.permutation(n)
            for step in range(n * (2 * window + 1)):
                if arrangement == 1:  # all centres at offset -window, then the next offset, ...
                    i, offset = centres[step % n], step // n - window
                else:
                    i, offset = centres[step // (2 * window + 1)], step % (2 * window + 1) - window
                j = i + offset
                if offset != 0 and abs(offset) <= reach[i] and 0 <= j < m and sentence[j] == sentence[i]:
                    inputs[p], truth[p] = kept[i], kept[j]  # the centre predicts the context word
                    p += 1
        return inputs[:p], truth[:p]
    for i in range(m):
        for j in range(max(0, i - reach[i]), min(m, i + reach[i] + 1)):
            if j != i and sentence[j] == sentence[i]:
                inputs[p], truth[p] = kept[j], kept[i]
                p += 1
    return inputs[:p], truth[:p]


@numba.njit(fastmath=True)
def _train(inputs, truth, cdf, vectors, outputs, lr_start, lr_end, negative, mode, batch, seed):
    """SGD over the pairs; ``mode`` 0 sequential, 1 batched, 2 batched but positive context rows
    sequential, 3 batched with centre runs (``run``: the first-order updates of the centre's
    earlier pairs in this batch), 4 the same with exact updates. Updates of batched rows wait in
    ``pending_*`` until the end of their batch."""
    np.random.seed(seed)
    n, dim = len(inputs), vectors.shape[1]
    pending_in = np.zeros_like(vectors)
    pending_out = np.zeros_like(outputs)
    error = np.zeros(dim, np.float32)
    run = np.zeros(dim, np.float32)
    rows = np.empty((n if mode else 0, negative + 1), np.int64)
    for start in range(0, n, batch if mode else n):
        end = min(n, start + batch) if mode else n
        for i in range(start, end):
            lr = lr_start + (lr_end - lr_start) * i / n
            word = inputs[i]
            error[:] = 0
            if i == start or truth[i] != truth[i - 1]:
                run[:] = 0
            for k in range(negative + 1):
                if k == 0:
                    row = truth[i]
                else:
                    row = min(np.searchsorted(cdf, np.random.random(), side="right"), len(cdf) - 1)
                if mode:
                    rows[i, k] = row
                centre_run = mode >= 3 and k == 0
                dot = np.float32(0)
                for d in range(dim):
                    dot += vectors[word, d] * outputs[row, d]
                if centre_run:
                    g_first = (1.0 - 1.0 / (1.0 + np.exp(-dot))) * lr
                    for d in range(dim):
                        dot += vectors[word, d] * run[d]
                g = ((1.0 if k == 0 else 0.0) - 1.0 / (1.0 + np.exp(-dot))) * lr
                for d in range(dim):
                    error[d] += g * (outputs[row, d] + (run[d] if centre_run else 0.0))
                if centre_run:
                    step = g_first if mode == 3 else g
                    for d in range(dim):
                        run[d] += step * vectors[word, d]
                if mode == 0 or (mode == 2 and k == 0):
                    for d in range(dim):
                        outputs[row, d] += g * vectors[word, d]
                else:
                    for d in range(dim):
                        pending_out[row, d] += g * vectors[word, d]
            for d in range(dim):
                if mode:
                    pending_in[word, d] += error[d]
                else:
                    vectors[word, d] += error[d]
        if mode:
            for i in range(start, end):
                for d in range(dim):
                    vectors[inputs[i], d] += pending_in[inputs[i], d]
                    pending_in[inputs[i], d] = 0
                for k in range(negative + 1):
                    row = rows[i, k]
                    for d in range(dim):
                        outputs[row, d] += pending_out[row, d]
                        pending_out[row, d] = 0


def word_vectors(ids, sentence_ids, vocab, order, updates, seed):
    """The input table after training on an encoded corpus (``datasets.text.Vocabulary``)."""
    rng = np.random.default_rng(seed)
    dim, epochs = SETTINGS["dim"], SETTINGS["epochs"]
    vectors = ((rng.random((len(vocab), dim)) - 0.5) / dim).astype(np.float32)
    outputs = np.zeros_like(vectors)
    keep = vocab.keep_probabilities(SETTINGS["sample"]).astype(np.float64)
    cdf = vocab.negative_cdf()
    starts = np.flatnonzero(np.r_[True, sentence_ids[1:] != sentence_ids[:-1]])
    sentences = np.split(np.arange(len(ids)), starts[1:])
    for epoch in range(epochs):
        tokens = np.arange(len(ids))
        if order in ("sentences", "reversed"):
            picked = rng.permutation(len(sentences)) if order == "sentences" else range(len(sentences) - 1, -1, -1)
            tokens = np.concatenate([sentences[k] for k in picked])
        inputs, truth = _pairs(
            ids[tokens],
            sentence_ids[tokens],
            keep,
            SETTINGS["window"],
            seed * 1000 + epoch,
            *ARRANGEMENTS.get(order, (0, 0)),
        )
        if order == "shuffled":
            permutation = rng.permutation(len(inputs))
            inputs, truth = inputs[permutation], truth[permutation]
        if order == "streams":
            length = len(inputs) // BATCH
            inputs, truth = (
                np.concatenate([a[: length * BATCH].reshape(BATCH, length).T.ravel(), a[length * BATCH :]])
                for a in (inputs, truth)
            )
        lr_start = LR - (LR - MIN_LR) * epoch / epochs
        lr_end = LR - (LR - MIN_LR) * (epoch + 1) / epochs
        _train(
            inputs,
            truth,
            cdf,
            vectors,
            outputs,
            lr_start,
            lr_end,
            SETTINGS["negative"],
            UPDATES[updates],
            BATCH,
            seed * 1000 + epoch,
        )
    return vectors


class _Reshuffled:
    """The sentences in a new random order at every pass (gensim iterates once per epoch)."""

    def __init__(self, sentences, seed):
        self.sentences, self.rng = sentences, np.random.default_rng(seed)

    def __len__(self):
        return len(self.sentences)

    def __iter__(self):
        return (self.sentences[k] for k in self.rng.permutation(len(self.sentences)))


GENSIM_ORDERS = {
    "corpus": lambda sentences, seed: sentences,
    "sentences": _Reshuffled,
    "reversed": lambda sentences, seed: sentences[::-1],
}


def _over_seeds(label, seeds, scores_of):
    """``{"mean", "runs"}`` of ``scores_of(seed)`` (an ``evaluate_vectors`` result) for seeds
    0..seeds-1, printed as they come."""
    runs = []
    for seed in range(seeds):
        scores = scores_of(seed)
        runs.append({key: scores[key] for key in SCORES})
        print(
            f"{label} seed {seed}: WordSim-353 {runs[-1]['wordsim353']:.4f}  SimLex-999 {runs[-1]['simlex999']:.4f}  "
            f"analogy {runs[-1]['analogy']:.4f}",
            flush=True,
        )
    mean = {key: float(np.mean([r[key] for r in runs])) for key in SCORES}
    print(
        f"{label}   mean: WordSim-353 {mean['wordsim353']:.4f}  SimLex-999 {mean['simlex999']:.4f}  "
        f"analogy {mean['analogy']:.4f}",
        flush=True,
    )
    return {"mean": mean, "runs": runs}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="e.g. ../shared/data/text/brown.zip")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)

    from bench.common import write_results
    from seqgraph.apps.skipgram.evaluate import evaluate_vectors, keyed_vectors
    from seqgraph.datasets import text

    sentences = text.read_corpus(args.corpus)
    vocab = text.Vocabulary.build(sentences, SETTINGS["min_count"])
    ids, sentence_ids = vocab.encode(sentences)
    results, gensim_results = [], []
    for order, updates in CONFIGS:
        row = _over_seeds(
            f"{order:>9} {updates:>28}",
            args.seeds,
            lambda seed: evaluate_vectors(
                keyed_vectors(vocab, word_vectors(ids, sentence_ids, vocab, order, updates, seed))
            ),
        )
        results.append({"order": order, "updates": updates, **row})
    for order, arrange in GENSIM_ORDERS.items():
        row = _over_seeds(
            f"{'gensim ' + order:>38}",
            args.seeds,
            lambda seed: gensim_word2vec(arrange(sentences, seed), "skipgram", seed),
        )
        gensim_results.append({"order": order, **row})
    write_results(
        "skipgram_update_order",
        {
            "corpus": str(args.corpus),
            "settings": {**SETTINGS, "lr": [LR, MIN_LR], "batch": BATCH},
            "seeds": args.seeds,
            "results": results,
            "gensim": gensim_results,
        },
    )


if __name__ == "__main__":
    main()
