"""Word embeddings: skip-gram or CBOW with negative sampling (Mikolov et al. 2013) on a text
corpus, evaluated on WordSim-353, SimLex-999 and Google analogies, exported for gensim,
TensorBoard's projector, TF Serving and TFLite.

    python -m apps.skipgram train [--corpus PATH] [--model skipgram|cbow] [--out RUN_DIR]
    python -m apps.skipgram evaluate --run RUN_DIR
    python -m apps.skipgram neighbors --run RUN_DIR WORD...
    python -m apps.skipgram export --run RUN_DIR [--out saved_models/skipgram]
"""

import argparse
import logging
import os
import sys
import time
import types
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from apps.common import atomic_path, read_json, run_dir, save_keras, strategy, write_json  # noqa: E402
from datasets import text  # noqa: E402

ANALOGY_VOCAB = 30_000  # analogy answers are searched among this many most frequent words
EXAMPLES_PER_CALL = 32768  # training examples per call into TF (batches of one XLA loop): a batch takes ~0.5 ms


def embedded_corpus():
    """The Lee background corpus (314 news stories, ~60k tokens) that ships in gensim's tests."""
    from gensim.test.utils import datapath

    return Path(datapath("lee_background.cor"))


# ----------------------------------------------------------------------------- model
def word_vectors(net):
    """The target table ``[vocab_size, dim]`` of a network from ``build_model``, as NumPy."""
    import keras

    return keras.ops.convert_to_numpy(net.get_layer("word2vec").vectors)


def build_model(kind, vocab_size, dim, window):
    """``[inputs, candidates] -> logits``: centre ids ``[B]`` (skip-gram) or context ids
    ``[B, 2 * window]`` (CBOW, 0 = padding) against candidate ids ``[B, 1 + negative]``."""
    import keras

    import layers

    shape = () if kind == "skipgram" else (2 * window,)
    inputs = keras.Input(shape, dtype="int32", name="inputs")
    candidates = keras.Input((None,), dtype="int32", name="candidates")
    tables = (layers.SkipGram if kind == "skipgram" else layers.CBOW)(vocab_size, dim, name="word2vec")
    return keras.Model([inputs, candidates], tables([inputs, candidates]), name=kind)


def trainer(net, total_tokens, lr, min_lr, batches_per_call=1, steps_per_execution=1):
    """``net`` wrapped for word2vec's SGD: the per-example losses of a batch are summed (each
    example takes a step of size lr, as in word2vec.c), and lr falls linearly from ``lr`` to
    ``min_lr`` with the corpus tokens seen over the whole training. For CBOW, as word2vec.c and
    gensim do, every context word receives the whole error of the mean of the context vectors
    (not the mean's gradient, which is that error divided by the number of context words).
    Each element of the training data is a call of ``batches_per_call`` batches ``((inputs [S, B, ...],
    candidates [S, B, 1 + negative]), tokens [S])``, trained one after the other in one XLA loop:
    Keras' ``steps_per_execution`` runs S steps as S XLA launches in a TF while loop, which on a
    1024-example batch costs as much as the step itself. Under tf.distribute, where the
    optimizer's cross-replica sync cannot sit in a loop, calls hold one batch and
    ``steps_per_execution`` of them run per call into TF."""
    import keras
    import tensorflow as tf

    from layers import CBOW, negative_sampling_loss

    tables = net.get_layer("word2vec")
    cbow = isinstance(tables, CBOW)

    class Word2VecTrainer(keras.Model):
        def __init__(self):
            super().__init__()
            self.net = net
            self.tokens_seen = keras.Variable(0.0, trainable=False, name="tokens_seen")
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def learning_rate(self):
            done = keras.ops.minimum(self.tokens_seen / float(total_tokens), 1.0)
            return lr - (lr - min_lr) * done

        def call(self, inputs):
            """Logits ``[S, B, 1 + negative]`` of a call's batches (Keras builds the model with it)."""
            inputs, candidates = inputs
            logits = self.net([keras.ops.reshape(x, (-1, *x.shape[2:])) for x in (inputs, candidates)])
            return keras.ops.reshape(logits, keras.ops.shape(candidates))

        @property
        def metrics(self):
            return [self.loss_tracker]

        def train_step(self, data):
            (inputs, candidates), tokens = data
            variables = [tables.target_embeddings, tables.context_embeddings]

            def one_batch(i, loss_sum, examples):
                real = tf.cast(candidates[i][:, 0] > 0, tf.float32)  # 0: an example padding a batch
                with tf.GradientTape() as tape:
                    losses = negative_sampling_loss(None, self.net([inputs[i], candidates[i]], training=True))
                    total = tf.reduce_sum(losses * real)
                target_grad, context_grad = tape.gradient(total, variables)
                if cbow:  # rows of target_grad follow inputs [B, W] row by row
                    counts = tf.reduce_sum(tf.cast(inputs[i] > 0, tf.float32), axis=1, keepdims=True)
                    per_row = tf.reshape(tf.broadcast_to(counts, tf.shape(inputs[i])), [-1, 1])
                    target_grad = tf.IndexedSlices(target_grad.values * per_row, target_grad.indices,
                                                   target_grad.dense_shape)
                self.optimizer.apply([target_grad, context_grad], variables)
                self.tokens_seen.assign_add(tokens[i])
                return i + 1, loss_sum + total, examples + tf.reduce_sum(real)

            start = (tf.constant(0), tf.constant(0.0), tf.constant(0.0))
            if batches_per_call == 1:
                _, loss_sum, examples = one_batch(*start)
            else:
                batches = tf.reduce_sum(tf.cast(candidates[:, 0, 0] > 0, tf.int32))  # the rest pad the call
                _, loss_sum, examples = tf.while_loop(lambda i, *_: i < batches, one_batch, start)
            self.loss_tracker.update_state(tf.math.divide_no_nan(loss_sum, examples), sample_weight=examples)
            return {"loss": self.loss_tracker.result()}

    model = Word2VecTrainer()
    # XLA fuses the gathers, products and scatters (2-3x faster than TF's kernels here)
    model.compile(keras.optimizers.SGD(learning_rate=model.learning_rate), jit_compile=True,
                  steps_per_execution=steps_per_execution)
    return model


def _progress_callback(model, every=20):
    """Adds ``words/s`` (corpus tokens per second of training) to the progress bar and keeps
    (tokens, loss) points for the plot, every ``every`` updates of the bar (reading them waits
    for the step in flight, which costs speed if done at every one)."""
    import keras

    class WordsPerSecond(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.curve, self.calls = time.perf_counter(), [], 0

        def record(self, logs):
            tokens = float(keras.ops.convert_to_numpy(model.tokens_seen))
            logs["words/s"] = round(tokens / (time.perf_counter() - self.start))
            self.curve.append((tokens, float(logs["loss"])))

        def on_train_batch_end(self, batch, logs=None):
            self.calls += 1
            if self.calls % every == 0:
                self.record(logs)

        def on_epoch_end(self, epoch, logs=None):
            self.record(logs)

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.start

    return WordsPerSecond()


def _plot_loss(curve, epochs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tokens, loss = np.array(curve).T
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(tokens / 1e6, loss)
    ax.set_xlabel("corpus tokens seen (millions)")
    ax.set_ylabel("negative-sampling loss (mean over the epoch so far)")
    ax.set_title(f"training loss, {epochs} epoch(s)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------- evaluation
def keyed_vectors(vocab, vectors):
    """gensim KeyedVectors of the real words (PAD left out), most frequent first."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(vocab.words[1:], vectors[1:])
    return kv


def evaluate_vectors(kv):
    """WordSim-353 and SimLex-999 Spearman correlations, Google analogy accuracy (3CosAdd among
    the 30k most frequent words), with how much of each benchmark was out of vocabulary. Pairs
    or questions with unknown words are skipped (gensim's convention), and counted; a score is
    None when the vocabulary covers none of its benchmark."""
    from gensim.test.utils import datapath

    logging.getLogger("gensim").setLevel(logging.ERROR)
    result = {}
    for name, file in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        try:
            _, spearman, oov_percent = kv.evaluate_word_pairs(datapath(file))
            result[name] = float(spearman.statistic)
        except ValueError:  # gensim: "No valid similarity judgements found"
            result[name], oov_percent = None, 100.0
        result[f"{name}_oov_percent"] = float(oov_percent)
    questions = datapath("questions-words.txt")
    total = sum(1 for line in open(questions, encoding="utf-8") if line.strip() and not line.startswith(":"))
    accuracy, sections = kv.evaluate_word_analogies(questions, restrict_vocab=ANALOGY_VOCAB)
    answered = len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
    result["analogy"] = float(accuracy) if answered else None
    result["analogy_questions"] = total
    result["analogy_oov_questions"] = total - answered
    return result


def _score(value):
    return "n/a" if value is None else f"{value:.4f}"


def _print_evaluation(result):
    for name, title in (("wordsim353", "WordSim-353"), ("simlex999", "SimLex-999 ")):
        print(f"{title} Spearman {_score(result[name])} ({result[name + '_oov_percent']:.1f}% of pairs OOV)")
    print(f"analogy (3CosAdd, top {ANALOGY_VOCAB} words) accuracy {_score(result['analogy'])} "
          f"({result['analogy_oov_questions']} of {result['analogy_questions']} questions OOV)")


# ----------------------------------------------------------------------------- train
def _corpus(args):
    path = Path(args.corpus) if args.corpus else embedded_corpus()
    sentences = text.read_corpus(path, args.format, lowercase=args.lowercase, tokenizer=args.tokenizer)
    return path, sentences


def default_threads():
    """All cores but one: the input pipeline keeps one core to itself."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores - 1)


def use_threads(threads):
    """Run TF's ops on ``threads`` threads. The XLA step on 1024 pairs is too small to split well:
    on 2 cores, 1 thread for it and 1 for the pipeline trains 1.4-1.5x faster than TF's default
    of both for each. TF takes the setting only before it starts; where it runs already (a test
    process, a second training in one process) the setting it has stays, and is logged."""
    import tensorflow as tf

    if tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        logging.getLogger(__name__).info("TF already runs: its op threads stay at %s, not %s",
                                         tf.config.threading.get_intra_op_parallelism_threads() or "default",
                                         threads)


def fit_vectors(ids, sentence_ids, vocab, model="skipgram", dim=100, window=5, negative=5, sample=1e-3,
                epochs=5, batch_size=1024, lr=0.025, min_lr=0.0001, seed=0, distribute="default", verbose=1,
                shuffle_span=text.SHUFFLE_SPAN, threads=None):
    """Train on an encoded corpus (on ``threads`` op threads, default all cores but one). Returns
    ``net``, ``history``, ``tokens`` (corpus tokens trained on), ``seconds`` (from making the
    input pipeline, which counts a pass's batches, to the end of the last epoch),
    ``wall_seconds`` (until ``fit`` returned: sometimes a few seconds more, while tf.distribute's
    input iterator shuts down) and ``curve`` [(tokens, loss)]."""
    use_threads(threads or default_threads())
    import keras

    keras.utils.set_random_seed(seed)
    setup = time.perf_counter()
    # EXAMPLES_PER_CALL examples per call into TF: in one XLA loop, or under tf.distribute (where the
    # loop cannot hold the optimizer's sync) in Keras' steps_per_execution; an epoch is one pass
    per_call = max(1, EXAMPLES_PER_CALL // batch_size)
    batches_per_call, steps_per_execution = (per_call, 1) if distribute == "default" else (1, per_call)
    dataset, steps = text.training_dataset(ids, sentence_ids, vocab, model, window, negative, sample, batch_size,
                                           seed, shuffle_span, batches_per_call=batches_per_call)
    steps = max(steps_per_execution, round(steps / steps_per_execution) * steps_per_execution)  # whole executions
    with strategy(distribute).scope():
        net = build_model(model, len(vocab), dim, window)
        trainer_model = trainer(net, len(ids) * epochs, lr, min_lr, batches_per_call, steps_per_execution)
    progress = _progress_callback(trainer_model)
    start = time.perf_counter()
    history = trainer_model.fit(dataset, steps_per_epoch=steps, epochs=epochs, callbacks=[progress],
                                verbose=verbose, shuffle=False)  # the pipeline shuffles each pass
    wall_seconds = time.perf_counter() - setup
    tokens = float(keras.ops.convert_to_numpy(trainer_model.tokens_seen))
    return types.SimpleNamespace(net=net, history=history, tokens=tokens, seconds=start - setup + progress.seconds,
                                 wall_seconds=wall_seconds, curve=progress.curve)


def train(args):
    path, sentences = _corpus(args)
    vocab = text.Vocabulary.build(sentences, args.min_count, args.max_vocab)
    ids, sentence_ids = vocab.encode(sentences)
    raw_tokens = sum(len(s) for s in sentences)
    print(f"{path}: {len(sentences)} sentences, {raw_tokens} tokens; vocabulary {len(vocab) - 1} words "
          f"(min_count {args.min_count}) covering {len(ids)} tokens; {args.model}, dim {args.dim}, "
          f"window {args.window}, {args.negative} negatives, {args.epochs} epochs")
    out = run_dir("skipgram", args.out)
    config = {k: v for k, v in vars(args).items() if k != "func"}
    config["corpus"] = str(path)
    write_json(out / "config.json", config)
    vocab.save(out / "vocab.tsv")

    fit = fit_vectors(ids, sentence_ids, vocab, args.model, args.dim, args.window, args.negative, args.sample,
                      args.epochs, args.batch_size, args.lr, args.min_lr, args.seed, args.distribute, args.verbose,
                      args.shuffle_span, args.threads)
    save_keras(fit.net, out / "model.keras")

    metrics = evaluate_vectors(keyed_vectors(vocab, word_vectors(fit.net)))
    metrics.update({
        "model": args.model, "corpus": str(path), "vocabulary": len(vocab) - 1, "tokens": len(ids),
        "epochs": args.epochs, "train_seconds": fit.seconds, "fit_wall_seconds": fit.wall_seconds,
        # corpus tokens (in the vocabulary) trained on per second, first batch to last
        "words_per_second": fit.tokens / fit.seconds,
        "loss": [float(x) for x in fit.history.history["loss"]],
    })
    write_json(out / "metrics.json", metrics)
    _plot_loss(fit.curve, args.epochs, out / "loss.png")
    _print_evaluation(metrics)
    print(f"{metrics['words_per_second']:,.0f} words/s; wrote {out}/metrics.json, loss.png, model.keras, vocab.tsv")
    return metrics


# ----------------------------------------------------------------------------- evaluate / neighbors
def load_run(run):
    """(config, vocabulary, word vectors [V, dim]) of a run folder."""
    import keras

    import layers  # noqa: F401  (registers the custom layers)

    run = Path(run)
    config = read_json(run / "config.json")
    vocab = text.Vocabulary.load(run / "vocab.tsv")
    vectors = word_vectors(keras.saving.load_model(run / "model.keras"))
    if len(vectors) != len(vocab):
        raise SystemExit(f"error: {run}/vocab.tsv has {len(vocab)} words, model.keras {len(vectors)} vectors")
    return config, vocab, vectors


def evaluate(args):
    _, vocab, vectors = load_run(args.run)
    result = evaluate_vectors(keyed_vectors(vocab, vectors))
    _print_evaluation(result)
    write_json(Path(args.run) / "eval.json", result)
    return result


def neighbors(args):
    config, vocab, vectors = load_run(args.run)
    kv = keyed_vectors(vocab, vectors)
    found = {}
    for word in args.words:
        key = word.lower() if config.get("lowercase", True) else word
        if key not in kv.key_to_index:
            print(f"{word}: not in the vocabulary")
            continue
        found[word] = kv.most_similar(key, topn=args.k)
        print(f"{word}: " + ", ".join(f"{w} {c:.3f}" for w, c in found[word]))
    return found


# ----------------------------------------------------------------------------- export
def serving_module(vocab, vectors, lowercase):
    """A tf.Module with the two endpoints: ``serving_default`` (words -> vectors, known) and
    ``nearest`` (words, k -> neighbours, cosines, known). Unknown words get zero vectors and
    ``known = False``; lookups go through a string hash table (a TFLite builtin too)."""
    import tensorflow as tf

    vectors = np.vstack([np.zeros_like(vectors[:1]), vectors[1:]])  # id 0, PAD: unknown words
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    class WordVectors(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(tf.constant(vocab.words[1:]),
                                                    tf.range(1, len(vocab), dtype=tf.int64)), default_value=0)
            self.words = tf.constant(vocab.words)
            self.vectors = tf.Variable(vectors, trainable=False, name="vectors")
            self.unit = tf.Variable(unit, trainable=False, name="unit_vectors")

        def ids(self, words):
            return self.table.lookup(tf.strings.lower(words, encoding="utf-8") if lowercase else words)

        def vectors_of(self, ids):
            return {"vectors": tf.gather(self.vectors, ids), "known": ids > 0}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
        def lookup(self, words):
            return self.vectors_of(self.ids(words))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
        def lite_lookup(self, words):
            """``lookup`` without lower-casing (StringLower is no TFLite builtin): the caller
            lower-cases, as the vocabulary was."""
            return self.vectors_of(self.table.lookup(words))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words"),
                                      tf.TensorSpec([], tf.int32, name="k")])
        def nearest(self, words, k):
            ids = self.ids(words)
            cosines = tf.matmul(tf.gather(self.unit, ids), self.unit, transpose_b=True)
            # neither the word itself nor PAD (id 0) is its own neighbour
            column = tf.range(len(vocab), dtype=tf.int64)[None, :]
            excluded = (column == ids[:, None]) | (column == 0)
            cosines = tf.where(excluded, -2.0, cosines)
            top = tf.math.top_k(cosines, k=tf.minimum(k, len(vocab) - 2))
            return {"neighbours": tf.gather(self.words, top.indices), "cosines": top.values, "known": ids > 0}

    return WordVectors()


def export(args):
    """SavedModel (serving_default + nearest, checked against the vectors through the loader TF
    Serving uses), word2vec text file, projector TSVs, TFLite float and int8 (checked in LiteRT:
    vector error and the benchmark scores of the vectors they return)."""
    import tensorflow as tf
    from gensim.models import KeyedVectors

    from apps import export as ex

    config, vocab, vectors = load_run(args.run)
    kv = keyed_vectors(vocab, vectors)
    report = {"words": len(vocab) - 1, "dim": int(vectors.shape[1]), "keras": evaluate_vectors(kv)}
    base = Path(args.out)
    base.mkdir(parents=True, exist_ok=True)
    version = ex.next_version(base)
    tmp = ex.staging(version)
    module = serving_module(vocab, vectors, config.get("lowercase", True))
    tf.saved_model.save(module, str(tmp), signatures={"serving_default": module.lookup, "nearest": module.nearest,
                                                    "tflite": module.lite_lookup})

    loaded = tf.saved_model.load(str(tmp))
    probe = vocab.words[1:]
    served = loaded.signatures["serving_default"](words=tf.constant(probe + ["no-such-word-xyz"]))
    report["saved_model_max_abs_error"] = float(np.abs(served["vectors"].numpy()[:-1] - vectors[1:]).max())
    error = report["saved_model_max_abs_error"]
    if error > 1e-6 or served["known"].numpy()[-1]:
        raise SystemExit(f"error: the SavedModel's vectors differ from the run's by {error}")
    word = vocab.words[1]
    top = loaded.signatures["nearest"](words=tf.constant([word]), k=tf.constant(5))
    expected = [w for w, _ in kv.most_similar(word, topn=5)]
    if [w.decode() for w in top["neighbours"].numpy()[0]] != expected:
        raise SystemExit(f"error: the SavedModel's nearest words to {word!r} differ from gensim's {expected}")

    lite_files = {}
    for kind in ("float", "int8"):
        # int8: the table stored as int8 (a lookup has no activations to calibrate, and the
        # calibrator cannot feed string inputs: ValueError basic_string::_M_create)
        content = ex.convert_tflite(tmp, "tflite", dynamic_range=kind == "int8")
        lite_model = ex.LiteModel(content, "tflite")
        lite_vectors = np.concatenate([lite_model({"words": np.array(probe[i:i + 1024], dtype=object)})["vectors"]
                                       for i in range(0, len(probe), 1024)])
        report[f"tflite_{kind}_max_abs_error"] = float(np.abs(lite_vectors - vectors[1:]).max())
        report[f"tflite_{kind}_bytes"] = len(content)
        report[f"tflite_{kind}"] = evaluate_vectors(keyed_vectors(vocab, np.vstack([vectors[:1], lite_vectors])))
        lite_model.require_builtins(kind)
        lite_files[kind] = content

    with atomic_path(base / "vectors.txt") as tmp_file:  # word2vec text format
        kv.save_word2vec_format(str(tmp_file), binary=False)
    KeyedVectors.load_word2vec_format(str(base / "vectors.txt"), binary=False)  # readable by gensim
    with atomic_path(base / "vectors.tsv") as tmp_file:  # TensorBoard projector
        np.savetxt(tmp_file, vectors[1:], delimiter="\t", fmt="%.6g")
    with atomic_path(base / "metadata.tsv") as tmp_file:
        tmp_file.write_text("".join(f"{w}\n" for w in vocab.words[1:]), encoding="utf-8")
    ex.finish_export(tmp, version, "skipgram", lite_files, report)
    print(f"SavedModel {version} (serving_default: vectors, known; nearest: neighbours, cosines, known), "
          f"{base}/skipgram.tflite, {base}/skipgram_int8.tflite, vectors.txt (word2vec), vectors.tsv + metadata.tsv")
    for name in ("keras", "tflite_float", "tflite_int8"):
        r = report[name]
        print(f"{name:>12}: WordSim-353 {_score(r['wordsim353'])}, SimLex-999 {_score(r['simlex999'])}, "
              f"analogy {_score(r['analogy'])}")
    print(f"max |vector - run's vector|: SavedModel {report['saved_model_max_abs_error']:.1e}, "
          f"TFLite float {report['tflite_float_max_abs_error']:.1e}, int8 {report['tflite_int8_max_abs_error']:.1e}")
    return report


# ----------------------------------------------------------------------------- CLI
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m apps.skipgram", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="learn word vectors, evaluate them")
    p.add_argument("--corpus", help="text file or folder, one-sentence-per-line file, Brown zip/folder, "
                                    "or text8-style file (default: gensim's Lee corpus)")
    p.add_argument("--format", default="auto", choices=("auto",) + text.FORMATS)
    p.add_argument("--no-lowercase", dest="lowercase", action="store_false")
    p.add_argument("--tokenizer", choices=["words", "whitespace"], default="words")
    p.add_argument("--model", choices=["skipgram", "cbow"], default="skipgram")
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--max-vocab", type=int)
    p.add_argument("--sample", type=float, default=1e-3, help="subsampling threshold (0: off)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--shuffle-span", type=int, default=text.SHUFFLE_SPAN,
                   help="centre words are shuffled within spans of this many subsampled tokens, spans "
                        "in corpus order, as word2vec reads a corpus in order (1: no shuffling; "
                        "more than a chunk of 1,048,576 tokens: each chunk shuffled whole)")
    p.add_argument("--lr", type=float, default=0.025, help="SGD step per example, decays linearly")
    p.add_argument("--min-lr", type=float, default=0.0001)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run folder (default runs/skipgram/<timestamp>)")
    p.add_argument("--distribute", choices=["default", "mirrored", "multiworker"], default="default")
    p.add_argument("--threads", type=int,
                   help="threads for the training step (default: all cores but one, which makes the batches)")
    p.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity (1 = progress bar)")
    p.set_defaults(func=train)

    p = sub.add_parser("evaluate", help="WordSim-353, SimLex-999, Google analogies")
    p.add_argument("--run", required=True)
    p.set_defaults(func=evaluate)

    p = sub.add_parser("neighbors", help="nearest words by cosine")
    p.add_argument("--run", required=True)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("words", nargs="+")
    p.set_defaults(func=neighbors)

    p = sub.add_parser("export", help="SavedModel for TF Serving, TFLite, word2vec and projector files")
    p.add_argument("--run", required=True)
    p.add_argument("--out", default="saved_models/skipgram")
    p.set_defaults(func=export)

    args = parser.parse_args(argv)
    for name in ("epochs", "dim", "window", "negative", "min_count", "batch_size", "shuffle_span", "threads", "k"):
        if getattr(args, name, 1) is not None and getattr(args, name, 1) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        return args.func(args)
    except text.CorpusError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
