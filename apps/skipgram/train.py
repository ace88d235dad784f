"""``seqgraph skipgram train``: word vectors from a corpus with word2vec's SGD, scored on the
word-similarity and analogy benchmarks."""

import logging
import os
import time
import types
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from seqgraph.apps import training
from seqgraph.apps.common import atomic_path, pyplot, save_config, save_figure, save_keras, strategy, training_run
from seqgraph.apps.skipgram.evaluate import evaluate_vectors, keyed_vectors, print_evaluation
from seqgraph.apps.skipgram.model import EXAMPLES_PER_CALL, build_model, trainer, word_vectors
from seqgraph.apps.training import per_replica_batch
from seqgraph.datasets import text


def train(config, out=None, distribute="default", progress="bar", overwrite=False, threads=None):
    """Learn word vectors from ``config.corpus`` and score them (WordSim-353, SimLex-999, Google
    analogies).

    Writes ``out`` (default ``runs/skipgram/<timestamp>``): ``config.json``, ``vocab.tsv``,
    ``model.keras`` (the word tables), ``metrics.json`` (scores, words/s, loss per epoch),
    ``loss.png``, TensorBoard logs in ``logs/`` and, for TensorBoard's projector,
    ``logs/projector/`` (the vectors and their words). Re-run on an unfinished run, it resumes
    after the last whole epoch.

    Args:
        config: a ``SkipgramConfig``.
        out, distribute, progress, overwrite: the options every ``train`` has
            (``seqgraph.cli.training_options``).
        threads: TF op threads for the training step (default: all cores but one).

    Returns:
        The metrics, as written to metrics.json.
    """
    distribution = strategy(distribute)
    path = Path(config.corpus) if config.corpus else text.embedded_corpus()
    sentences = text.read_corpus(
        path, config.format, config.lowercase, config.tokenizer, config.encoding, config.encoding_errors
    )
    vocab = text.Vocabulary.build(sentences, config.min_count, config.max_vocab)
    ids, sentence_ids = vocab.encode(sentences)
    if len(ids) == 0 or np.bincount(sentence_ids).max() < 2:
        raise text.CorpusError(
            f"{path}: no training pairs: no sentence has two words seen --min-count {config.min_count} times or more "
            f"({len(sentences)} sentences, {len(vocab) - 1} words kept)"
        )
    raw_tokens = sum(len(s) for s in sentences)
    print(
        f"{path}: {len(sentences)} sentences, {raw_tokens} tokens; vocabulary {len(vocab) - 1} words "
        f"(min_count {config.min_count}) covering {len(ids)} tokens; {config.model}, dim {config.dim}, "
        f"window {config.window}, {config.negative} negatives, {config.epochs} epochs"
    )
    with training_run("skipgram", out, config, overwrite, distribution) as run:
        if run.chief:
            save_config(config, run.path / "config.json", "skipgram", corpus_path=str(path))
            vocab.save(run.path / "vocab.tsv")
        fit = fit_vectors(
            ids,
            sentence_ids,
            vocab,
            config.model,
            config.dim,
            config.window,
            config.negative,
            config.sample,
            config.epochs,
            config.batch_size,
            config.lr,
            config.min_lr,
            config.seed,
            distribution,
            progress,
            config.shuffle_span,
            threads,
            run,
        )
        vectors = word_vectors(fit.net)
        if run.chief:
            save_keras(fit.net, run.path / "model.keras")
            write_projector(vectors, vocab, run.path / "logs" / "projector")
        metrics = evaluate_vectors(keyed_vectors(vocab, vectors))
        metrics.update(
            {
                "model": config.model,
                "corpus": str(path),
                "vocabulary": len(vocab) - 1,
                "tokens": len(ids),
                "epochs": config.epochs,
                "train_seconds": fit.seconds,
                "fit_wall_seconds": fit.wall_seconds,
                # corpus tokens (in the vocabulary) trained on per second, first batch to last
                "words_per_second": fit.tokens / fit.seconds,
                "loss": fit.history["loss"],
            }
        )
        if run.chief:
            plot_loss(fit.curve, config.epochs, run.path / "loss.png")
        metrics = run.finish(metrics)
    print_evaluation(metrics)
    print(f"{metrics['words_per_second']:,.0f} words/s; {run.wrote('metrics.json, loss.png, model.keras, vocab.tsv')}")
    return metrics


def write_projector(vectors, vocab, folder):
    """The word vectors (without the padding row) for TensorBoard's projector: ``vectors.tsv``,
    ``metadata.tsv`` (a word per line) and ``projector_config.pbtxt`` in ``folder``; the
    projector finds them under ``tensorboard --logdir`` a parent of ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "vectors.tsv") as tmp:
        np.savetxt(tmp, vectors[1:], delimiter="\t", fmt="%.6g")
    with atomic_path(folder / "metadata.tsv") as tmp:
        tmp.write_text("".join(f"{word}\n" for word in vocab.words[1:]))
    with atomic_path(folder / "projector_config.pbtxt") as tmp:
        tmp.write_text(
            'embeddings {\n  tensor_name: "word2vec"\n  tensor_path: "vectors.tsv"\n'
            '  metadata_path: "metadata.tsv"\n}\n'
        )


def default_threads():
    """All cores but one: the input pipeline keeps one core to itself."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores - 1)


def use_threads(threads):
    """Run TF's ops on ``threads`` threads. The XLA step on 1024 pairs is too small to split well:
    on 2 cores, 1 thread for it and 1 for the pipeline trains 1.4-1.5x faster than TF's default
    of both for each. TF takes the setting only before it starts; where it runs already (a test
    process, a second training in one process) the setting it has stays, and is logged."""
    if tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        logging.getLogger(__name__).info(
            "TF already runs: its op threads stay at %s, not %s",
            tf.config.threading.get_intra_op_parallelism_threads() or "default",
            threads,
        )


def fit_vectors(
    ids,
    sentence_ids,
    vocab,
    model="skipgram",
    dim=100,
    window=5,
    negative=5,
    sample=1e-3,
    epochs=5,
    batch_size=1024,
    lr=0.025,
    min_lr=0.0001,
    seed=0,
    distribution=None,
    progress="bar",
    shuffle_span=text.SHUFFLE_SPAN,
    threads=None,
    run=None,
):
    """Train on an encoded corpus (on ``threads`` op threads, default all cores but one), in
    ``run`` (resuming from its state) if given, under ``distribution`` (default: one device).
    Returns ``net``, ``history`` (logs per epoch), ``tokens`` (corpus tokens trained on),
    ``seconds`` (from making the input pipeline, which counts a pass's batches, to the end of
    the last epoch), ``wall_seconds`` (until training returned: sometimes a few seconds more,
    while tf.distribute's input iterator shuts down) and ``curve`` [(tokens, loss)]."""
    use_threads(threads or default_threads())
    distribution = distribution or strategy()
    keras.utils.set_random_seed(seed)
    setup = time.perf_counter()
    # EXAMPLES_PER_CALL examples per call into TF in one XLA loop; under tf.distribute, where the
    # loop cannot hold the optimizer's sync, a call is one batch. An epoch is one pass.
    batches_per_call = 1 if training.distributed(distribution) else max(1, EXAMPLES_PER_CALL // batch_size)

    def passes(batch):
        return text.training_dataset(
            ids,
            sentence_ids,
            vocab,
            model,
            window,
            negative,
            sample,
            batch,
            seed,
            shuffle_span,
            batches_per_call=batches_per_call,
        )

    dataset, steps = passes(batch_size)
    if steps == 0:  # a pass would be empty: training would wait for a batch forever
        raise text.CorpusError(f"no training pairs in a pass over {len(ids)} tokens (subsampling --sample {sample}?)")

    def train_data(context):  # endless; each input pipeline takes every num_input_pipelines-th call
        if not training.distributed(distribution):
            return dataset
        calls, _ = passes(per_replica_batch(context, batch_size))
        return calls.shard(context.num_input_pipelines, context.input_pipeline_id)

    with distribution.scope():
        net = build_model(model, len(vocab), dim, window)
        trainer_model = trainer(net, len(ids) * epochs, lr, min_lr, batches_per_call)
    words = progress_callback(trainer_model)
    start = time.perf_counter()
    history = training.fit(trainer_model, train_data, steps, epochs, run, distribution, progress, callbacks=[words])
    wall_seconds = time.perf_counter() - setup
    tokens = float(keras.ops.convert_to_numpy(trainer_model.tokens_seen))
    earlier = [(t, loss) for t, loss in zip(history.get("tokens", []), history["loss"]) if t < words.first_tokens]
    return types.SimpleNamespace(
        net=net,
        history=history,
        tokens=tokens - words.first_tokens,
        seconds=start - setup + words.seconds,
        wall_seconds=wall_seconds,
        curve=earlier + words.curve,  # the epochs before a resume: a point per epoch
    )


def progress_callback(model, every=20):
    """Adds ``words/s`` (corpus tokens per second of training) to the progress bar and keeps
    (tokens, loss) points for the plot, every ``every`` updates of the bar (reading them waits
    for the step in flight, which costs speed if done at every one)."""

    class WordsPerSecond(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.curve, self.calls = time.perf_counter(), [], 0
            self.first_tokens = float(keras.ops.convert_to_numpy(model.tokens_seen))  # > 0 when resumed

        def record(self, logs):
            tokens = float(keras.ops.convert_to_numpy(model.tokens_seen))
            logs["words/s"] = round((tokens - self.first_tokens) / (time.perf_counter() - self.start))
            logs["tokens"] = tokens
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


def plot_loss(curve, epochs, path):
    plt = pyplot()
    tokens, loss = np.array(curve).T
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(tokens / 1e6, loss)
    ax.set_xlabel("corpus tokens seen (millions)")
    ax.set_ylabel("negative-sampling loss (mean over the epoch so far)")
    ax.set_title(f"training loss, {epochs} epoch(s)")
    save_figure(fig, path)
