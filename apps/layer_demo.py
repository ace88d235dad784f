"""Train one tiny model per layer family on generated data and print one line each.

Run with ``seqgraph layer-demo`` (``make demo``). Every task is generated here from a seed, so
it needs no network and no files; each finishes in seconds on a laptop CPU.
"""

import time

import keras
import numpy as np
from keras import ops

from seqgraph import layers


def attention_task(rng):
    """Per position: is token i equal to token i-2? Needs position and a local window."""
    x = rng.integers(0, 4, (3000, 40))
    y = np.zeros_like(x)
    y[:, 2:] = x[:, 2:] == x[:, :-2]
    tokens = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(4, 32)(tokens)
    h = layers.SinusoidalPositionalEncoding()(h)
    h = layers.MultiHeadSelfAttention(num_heads=4, key_dim=16, window=3)(h)
    h = keras.layers.Dense(64, activation="relu")(h)
    model = keras.Model(tokens, keras.layers.Dense(2)(h))
    model.compile(
        keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    model.fit(x[:2500], y[:2500], epochs=12, batch_size=32, verbose=0)
    acc = model.evaluate(x[2500:], y[2500:], verbose=0)[1]
    majority = 1 - y[2500:].mean()
    task = "truncated self-attention (window 3): 'x[i] == x[i-2]' per position"
    return f"{task}, accuracy {acc:.3f} (majority {majority:.3f})"


def recurrent_task(rng):
    """Does a +-1 sequence of varying length sum to more than zero? Padded, masked."""
    n, t = 3000, 25
    lengths = rng.integers(5, t + 1, n)
    x = rng.choice([-1.0, 1.0], (n, t)) * (np.arange(t) < lengths[:, None])
    y = (x.sum(1) > 0).astype("int32")
    inputs = keras.Input((t, 1))
    h = keras.layers.Masking(0.0)(inputs)
    h = keras.layers.Bidirectional(layers.PeepholeLSTM(16))(h)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h))
    model.compile(keras.optimizers.Adam(1e-2), "binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:2500, :, None], y[:2500], epochs=10, batch_size=64, verbose=0)
    acc = model.evaluate(x[2500:, :, None], y[2500:], verbose=0)[1]
    majority = max(y[2500:].mean(), 1 - y[2500:].mean())
    return f"bidirectional peephole LSTM: sign of a padded +-1 sum, accuracy {acc:.3f} (majority {majority:.3f})"


def _graphs(rng, count):
    """Cycles (label 1) and random trees (label 0) of 6-14 nodes, as edge lists."""
    graphs = []
    for _ in range(count):
        n, label = int(rng.integers(6, 15)), int(rng.integers(0, 2))
        if label:
            edges = [(i, (i + 1) % n) for i in range(n)]
        else:
            edges = [(int(rng.integers(0, i)), i) for i in range(1, n)]
        graphs.append((n, edges, label))
    return graphs


def _disjoint(graphs):
    """Concatenate graphs into one disjoint batch (both edge directions)."""
    senders, receivers, graph_ids, offset = [], [], [], 0
    for g, (n, edges, _) in enumerate(graphs):
        for a, b in edges:
            senders += [a + offset, b + offset]
            receivers += [b + offset, a + offset]
        graph_ids += [g] * n
        offset += n
    x = np.ones((offset, 1), "float32")  # no node features: structure only
    return [x, np.array(senders, "int32"), np.array(receivers, "int32"), np.array(graph_ids, "int32")]


def graph_task(rng):
    """Cycle or tree, from structure alone; one batch holds all graphs of a split."""
    train, test = _graphs(rng, 400), _graphs(rng, 200)
    results = []
    convs = {
        "GIN": lambda: layers.GINConv(32),
        "GAT": lambda: layers.GATConv(16, heads=2),
        "Cheb": lambda: layers.ChebConv(32, K=3),
        "GCN": lambda: layers.GCNConv(32),
        "SAGE": lambda: layers.GraphSAGEConv(32),
    }
    for name, conv in convs.items():
        x = keras.Input((1,))
        senders, receivers, graph_ids = (keras.Input((), dtype="int32") for _ in range(3))
        h = keras.layers.Activation("relu")(conv()([x, senders, receivers]))
        h = keras.layers.Activation("relu")(conv()([h, senders, receivers]))
        h = layers.GraphPooling("mean")([h, graph_ids])
        model = keras.Model([x, senders, receivers, graph_ids], keras.layers.Dense(1)(h))
        model.compile(keras.optimizers.Adam(1e-2), keras.losses.BinaryCrossentropy(from_logits=True))
        batch, labels = _disjoint(train), np.array([g[2] for g in train], "float32")
        for _ in range(300):  # full-batch training
            model.train_on_batch(batch, labels)
        logits = keras.ops.convert_to_numpy(model(_disjoint(test)))[:, 0]
        acc = np.mean((logits > 0) == np.array([g[2] for g in test]))
        results.append(f"{name} {acc:.2f}")
    return (
        "graph layers: cycle vs tree from structure only, accuracy "
        + ", ".join(results)
        + " (chance 0.5; GAT and mean-SAGE cannot count neighbours, Xu et al. 2019)"
    )


def embedding_task(rng):
    """Sentences drawn from one of two topics; skip-gram should put topic-mates together."""
    vocab, topics, window, negatives = 40, 2, 2, 4
    sentences = [rng.integers(0, vocab // topics, 12) + (vocab // topics) * rng.integers(0, topics) for _ in range(600)]
    centre, context = [], []
    for s in sentences:
        for i in range(len(s)):
            for j in range(max(0, i - window), min(len(s), i + window + 1)):
                if i != j:
                    centre.append(s[i])
                    context.append(s[j])
    centre, context = np.array(centre), np.array(context)
    candidates = np.concatenate([context[:, None], rng.integers(0, vocab, (len(centre), negatives))], 1)
    targets_in = keras.Input((), dtype="int32")
    candidates_in = keras.Input((1 + negatives,), dtype="int32")
    skipgram = layers.SkipGram(vocab, 16)
    model = keras.Model([targets_in, candidates_in], skipgram([targets_in, candidates_in]))
    model.compile(keras.optimizers.Adam(1e-2), layers.negative_sampling_loss)
    model.fit([centre, candidates], np.zeros(len(centre)), epochs=3, batch_size=256, verbose=0)
    v = keras.ops.convert_to_numpy(skipgram.vectors)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sim = v @ v.T
    np.fill_diagonal(sim, -np.inf)
    same = np.mean(sim.argmax(1) // (vocab // topics) == np.arange(vocab) // (vocab // topics))
    chance = (vocab // topics - 1) / (vocab - 1)
    return f"skip-gram: nearest neighbour from the same topic for {same:.0%} of words (chance {chance:.0%})"


def ctc_task(rng):
    """Read a symbol string from noisy frames: each symbol lasts 1-3 frames, 1-2 silent ones between."""
    n, frames, classes = 2000, 30, 6  # class 0 is the CTC blank
    x = np.zeros((n, frames, classes), "float32")
    labels = np.full((n, 8), -1)
    for b in range(n):
        t, k = 0, 0
        while k < 8:
            t += int(rng.integers(1, 3))  # silence: a repeated symbol needs a gap
            sym, dur = int(rng.integers(1, classes)), int(rng.integers(1, 4))
            if t + dur > frames:
                break
            x[b, t : t + dur, sym] = 1.0
            labels[b, k] = sym
            t, k = t + dur, k + 1
    x += rng.normal(0, 0.15, x.shape).astype("float32")
    inputs = keras.Input((frames, classes))
    h = keras.layers.Bidirectional(layers.PeepholeLSTM(32, return_sequences=True))(inputs)
    model = keras.Model(inputs, keras.layers.Dense(classes)(h))
    model.compile(keras.optimizers.Adam(1e-2), layers.CTCLoss())
    model.fit(x[:1600], labels[:1600], epochs=8, batch_size=64, verbose=0)
    decoded = ops.convert_to_numpy(layers.ctc_greedy_decode(model(x[1600:]), np.full(400, frames)))
    exact = np.mean([np.array_equal(d[d >= 0], lab[lab >= 0]) for d, lab in zip(decoded, labels[1600:])])
    return f"CTC (BiLSTM, greedy decoding): symbol strings read exactly in {exact:.0%} of held-out sequences"


TASKS = {
    "attention": attention_task,
    "recurrent": recurrent_task,
    "graph": graph_task,
    "embedding": embedding_task,
    "ctc": ctc_task,
}


def run(seed=0, only=None):
    """Train the tasks ``only`` (default: all of TASKS) with ``seed``; print a line each."""
    for name in only or TASKS:
        keras.utils.set_random_seed(seed)
        start = time.time()
        line = TASKS[name](np.random.default_rng(seed))
        print(f"{name:>10}: {line} [{time.time() - start:.0f}s]", flush=True)


if __name__ == "__main__":
    import sys

    from seqgraph.cli import main

    main(["layer-demo", *sys.argv[1:]])
